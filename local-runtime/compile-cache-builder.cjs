'use strict';
/**
 * The child that compile-cache.cjs runs on each Node it builds a cache for: `node compile-cache-builder.cjs
 * <taskRoot> <preload> <handler file>` (paths under the task root), with the function's environment. It runs the
 * package's init as a cold start does (the preload starts the SDK, the handler loads and builds its clients),
 * then has the preload write V8's code cache of every file it loaded, as compiled by then, to
 * `<taskRoot>/compile-cache/<Node version>-<arch>/` (functions/shared/telemetry/code-cache.ts).
 */
const path = require('node:path');
const CODE_CACHE = require('../functions/shared/telemetry/code-cache.json');

const [taskRoot = '', preload = '', handlerFile = ''] = process.argv.slice(2);
/** The preload's signal to load the package for building its cache, in the slot code-cache.json names. */
const building = /** @type {{ loader?: { write(): string[] } }} */ ({});
/** @type {Record<symbol, unknown>} */ (globalThis)[Symbol.for(CODE_CACHE.buildSymbol)] = building;
require(path.join(taskRoot, preload));
require(path.join(taskRoot, handlerFile));
// Init's promises (the SDK's start, the clients' set-up) run before the cache is taken.
setImmediate(() => {
  if (!building.loader) throw new Error(`${preload} did not load the package for its code cache`);
  const written = building.loader.write();
  if (written.length === 0) throw new Error('no file was loaded through the code cache');
  process.exit(0);
});
