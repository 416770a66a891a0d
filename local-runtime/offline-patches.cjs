'use strict';
/**
 * The only entry into serverless-offline's internals: checks that the installed version is the one the
 * patches were written for (offline-internals.cjs), then patches its instances (instance-workers.cjs) and its
 * pool (instance-pool.cjs). What is patched, why, and what upstream change would let each patch go:
 * docs/serverless-offline-patches.md.
 */
const {
  assertPatchable,
  assertPoolShape,
  importOfflineModule,
  offlineRoot,
} = require('./offline-internals.cjs');
const { patchLambdaPool } = require('./instance-pool.cjs');
const { patchLambdaWorkers } = require('./instance-workers.cjs');

/**
 * Checks, then patches the workers and the pool. Answers the pool's controls.
 * @param {import('./instance-workers.cjs').InstanceSettings & import('./instance-pool.cjs').PoolSettings &
 *   { beforeListening: () => Promise<void> }} settings
 * @returns {Promise<import('./instance-pool.cjs').PoolControls>}
 */
async function applyPatches({
  maxInstances,
  throttleAfterMs,
  warn,
  beforeListening,
  root = offlineRoot(),
  ...instances
}) {
  const found = assertPatchable(root);
  const { default: LambdaFunction } = await importOfflineModule(root, 'lambdaFunction');
  const { default: LambdaFunctionPool } = await importOfflineModule(root, 'lambdaFunctionPool');
  const { default: HttpServer } = await importOfflineModule(root, 'httpServer');
  assertPoolShape({ LambdaFunction, LambdaFunctionPool, HttpServer }, found);
  patchLambdaWorkers({ ...instances, root });
  holdApiUntil(HttpServer, beforeListening);
  return patchLambdaPool({ LambdaFunction, LambdaFunctionPool }, { maxInstances, throttleAfterMs, warn });
}

/**
 * The API listens, and serverless-offline prints "Server ready", only once `beforeListening` is done: a
 * client that waits for the line finds the instances started. serverless-offline starts its Lambda invoke
 * API first, so the work can invoke functions through it.
 * @param {any} HttpServer
 * @param {() => Promise<void>} beforeListening
 */
function holdApiUntil(HttpServer, beforeListening) {
  const originalStart = HttpServer.prototype.start;
  if (originalStart.heldUntilReady) return;
  /** @this {unknown} */
  async function start() {
    await beforeListening();
    return originalStart.call(this);
  }
  start.heldUntilReady = true;
  HttpServer.prototype.start = start;
}

module.exports = { applyPatches };
