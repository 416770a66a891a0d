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
 * @param {import('./instance-workers.cjs').InstanceSettings & { maxInstances: number }} settings
 * @returns {Promise<import('./instance-pool.cjs').PoolControls>}
 */
async function applyPatches({ maxInstances, root = offlineRoot(), ...instances }) {
  const found = assertPatchable(root);
  const { default: LambdaFunction } = await importOfflineModule(root, 'lambdaFunction');
  const { default: LambdaFunctionPool } = await importOfflineModule(root, 'lambdaFunctionPool');
  assertPoolShape({ LambdaFunction, LambdaFunctionPool }, found);
  patchLambdaWorkers({ ...instances, root });
  return patchLambdaPool({ LambdaFunction, LambdaFunctionPool }, maxInstances);
}

module.exports = { applyPatches };
