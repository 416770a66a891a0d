'use strict';
/**
 * One thread's memory, for the memory report (memory-report.cjs) and the soak (scripts/bench/soak.ts):
 * process.memoryUsage() (in a worker thread, heap and external are its isolate's alone), V8's heap spaces
 * (code space apart from objects), and, when the process runs with --expose-gc, the same after a forced full
 * collection: what is still reachable.
 */
const v8 = require('node:v8');

/** @typedef {NodeJS.MemoryUsage & { heapSizeLimit: number, heapSpaces: Record<string, number>, heapSpacesCommitted: Record<string, number> }} ThreadMemory */
/** @typedef {ThreadMemory & { afterGc?: ThreadMemory }} MemoryFigures */

/** @returns {ThreadMemory} */
function threadMemory() {
  const spaces = v8.getHeapSpaceStatistics();
  // Used is what objects take; committed (space_size) is what V8 holds from the system for the space.
  const heapSpaces = Object.fromEntries(spaces.map((space) => [space.space_name, space.space_used_size]));
  const heapSpacesCommitted = Object.fromEntries(spaces.map((space) => [space.space_name, space.space_size]));
  const heapSizeLimit = v8.getHeapStatistics().heap_size_limit;
  return { ...process.memoryUsage(), heapSizeLimit, heapSpaces, heapSpacesCommitted };
}

/** @returns {MemoryFigures} */
function memoryOfThisThread() {
  const now = threadMemory();
  const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
  if (typeof gc !== 'function') return now;
  gc();
  return { ...now, afterGc: threadMemory() };
}

module.exports = { memoryOfThisThread };
