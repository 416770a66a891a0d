'use strict';
/**
 * `npm run dev`: tsc --watch rewrites dist/functions; each batch of changes replaces every instance's runtime
 * (a busy one's once its invocation ends), so the next request starts a worker that loads the new build, with
 * tracing, while DynamoDB Local and the API keep running.
 */
const { watch } = require('node:fs');

/**
 * @param {string} watched the compiled functions' folder
 * @param {() => Promise<void> | void} reload
 */
function reloadOnChange(watched, reload) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  watch(watched, { recursive: true }, (_event, file) => {
    if (!String(file).endsWith('.js')) return;
    clearTimeout(timer);
    // tsc writes a batch of files; one reload after the batch, not one per file.
    timer = setTimeout(reload, 200);
  });
}

module.exports = { reloadOnChange };
