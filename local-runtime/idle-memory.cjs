'use strict';
/**
 * The offline process's main thread gives back, once the pool has been quiet for a few seconds, the memory it
 * grew into while it worked: the Framework's start, or a burst of requests. V8 grows its young generation to
 * 64 MB under allocation and keeps it; a regular full collection empties it but keeps its pages resident, for
 * reuse (BENCHMARKS.md, "Footprint"). Only the collection V8 runs when memory is low (`last-resort`) also
 * shrinks the young generation and unmaps the pages it pooled. It stops the main thread for tens of
 * milliseconds, so it runs once per quiet spell, not again until the pool has worked; a request that arrives
 * meanwhile waits that long. No instance's heap is touched.
 */
const v8 = require('node:v8');
const vm = require('node:vm');

/** How long the pool must have had no request in flight before the main thread gives memory back. */
const QUIET_MS = 5_000;

/**
 * V8's memory-reducing collection of this thread's heap, through its `gc` function. Unless the process runs
 * with --expose-gc (the soak's --gc), the function is exposed to a context of its own, only while that context
 * is made: the flag is process-wide, and the instances started later keep the flags they always had.
 * @returns {() => void}
 */
function memoryReducingCollection() {
  const options = { type: 'major', execution: 'sync', flavor: 'last-resort' };
  const exposed = /** @type {{ gc?: (options: object) => void }} */ (globalThis).gc;
  if (typeof exposed === 'function') return () => exposed(options);
  v8.setFlagsFromString('--expose-gc');
  try {
    const gc = vm.runInNewContext('gc');
    return () => gc(options);
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * @typedef {{ count: number, lastRssBeforeMb?: number, lastRssAfterMb?: number }} Releases
 */

/**
 * Collects once the pool has been quiet for `quietMs`, and not again until it has worked since.
 * @param {{ quietSince: () => number | undefined, quietMs?: number, collect?: () => void, now?: () => number,
 *   rss?: () => number }} options
 * @returns {{ check(): boolean, releases(): Releases }}
 */
function quietReleaser({
  quietSince,
  quietMs = QUIET_MS,
  collect = memoryReducingCollection(),
  now = () => performance.now(),
  rss = () => process.memoryUsage.rss(),
}) {
  /** The quiet spell already released: the time its last request ended. */
  /** @type {number | undefined} */
  let releasedSpell;
  /** @type {Releases} */
  const releases = { count: 0 };
  return {
    /** Releases if due; answers whether it did. */
    check() {
      const since = quietSince();
      if (since === undefined || since === releasedSpell || now() - since < quietMs) return false;
      releasedSpell = since;
      const before = rss();
      collect();
      releases.count++;
      releases.lastRssBeforeMb = Math.round(before / 2 ** 20);
      releases.lastRssAfterMb = Math.round(rss() / 2 ** 20);
      return true;
    },
    releases: () => ({ ...releases }),
  };
}

/**
 * Checks every second, without keeping the process alive.
 * @param {{ quietSince: () => number | undefined }} pool
 */
function releaseMemoryWhenQuiet(pool) {
  const releaser = quietReleaser({ quietSince: () => pool.quietSince() });
  setInterval(() => releaser.check(), 1_000).unref();
  return releaser;
}

module.exports = { QUIET_MS, quietReleaser, releaseMemoryWhenQuiet };
