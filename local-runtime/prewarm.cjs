'use strict';
/**
 * Before the API is ready, one instance of each function is started and its handler loaded, as provisioned
 * concurrency does; the instance then runs its clients' first calls (see functions/shared/runtime/priming.ts).
 */
const { availableParallelism } = require('node:os');
const { PREWARM_EVENT } = require('./worker-protocol.cjs');

/**
 * Prewarms every function; answers a line saying how it went, and a warning per failure.
 * @param {string[]} functionKeys
 * @param {(functionKey: string, event: unknown) => Promise<string | undefined>} invoke answers a failure, if any
 * @returns {Promise<{ summary: string, failures: string[] }>}
 */
async function prewarm(functionKeys, invoke) {
  const started = performance.now();
  // As many at a time as there are cores: all at once, a 2-core laptop could not load seven instances
  // inside the shortest function timeout (3 s), which serverless-offline also applies to this call.
  const queue = [...functionKeys];
  /** @type {string[]} */
  const failures = [];
  const loadNext = async () => {
    for (let key = queue.shift(); key; key = queue.shift()) {
      const failure = await invoke(key, PREWARM_EVENT);
      if (failure) failures.push(`${key} ${failure}`);
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, loadNext));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const summary = `${functionKeys.length - failures.length} of ${functionKeys.length} functions prewarmed in ${seconds} s (OFFLINE_PREWARM=false, the default, starts them on first use)`;
  return { summary, failures };
}

module.exports = { prewarm };
