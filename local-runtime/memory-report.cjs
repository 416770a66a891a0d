'use strict';
/**
 * For the benchmark and the soak: on SIGUSR2, the memory of this process and of each Lambda instance in it is
 * written to a file as JSON (written aside, then renamed, so a reader never sees half of it). A signal carries
 * nothing, so a report that should also write heap snapshots (of the main thread and of one instance of each function) is
 * asked for by leaving `<file>.request` beside it first: `{ "snapshotsTo": "<folder>", "label": "<name>" }`.
 */
const { readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { memoryReport } = require('./instance-workers.cjs');

/**
 * @param {string} file
 * @param {() => import('./idle-memory.cjs').Releases} [releasedWhenQuiet] what the main thread gave back when quiet
 */
function reportMemoryOnSignal(file, releasedWhenQuiet) {
  process.on('SIGUSR2', async () => {
    const report = { ...(await memoryReport(requestBeside(file))), releasedWhenQuiet: releasedWhenQuiet?.() };
    writeFileSync(`${file}.partial`, JSON.stringify(report));
    renameSync(`${file}.partial`, file);
  });
}

/**
 * @param {string} file
 * @returns {{ snapshotsTo?: string, label?: string }}
 */
function requestBeside(file) {
  try {
    const request = JSON.parse(readFileSync(`${file}.request`, 'utf8'));
    rmSync(`${file}.request`);
    return request;
  } catch {
    return {};
  }
}

module.exports = { reportMemoryOnSignal };
