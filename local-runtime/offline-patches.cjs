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
const { randomUUID } = require('node:crypto');
const { GATEWAY_RESPONSES, renderGatewayResponse } = require('./gateway-responses.cjs');
const { patchLambdaPool } = require('./instance-pool.cjs');
const { patchLambdaWorkers } = require('./instance-workers.cjs');

/**
 * Checks, then patches the workers and the pool. Answers the pool's controls.
 * @param {import('./instance-workers.cjs').InstanceSettings & import('./instance-pool.cjs').PoolSettings &
 *   { beforeListening: () => Promise<void> }} settings
 * @returns {Promise<import('./instance-pool.cjs').PoolControls>}
 */
async function applyPatches({
  maxInstancesOf,
  limitsOf,
  stage,
  retireIdleAfterMs,
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
  answerUnknownRoutesAsDeployed(HttpServer);
  return patchLambdaPool(
    { LambdaFunction, LambdaFunctionPool },
    {
      maxInstancesOf,
      limitsOf,
      stage,
      warn,
    },
  );
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

/**
 * serverless-offline answers a request no route matches with its own 404, whose body lists every route, the
 * internal ones too. The deployed REST API answers it with its MISSING_AUTHENTICATION_TOKEN Gateway Response:
 * so does this, with a request id as API Gateway makes one. The catch-all stays out of the way of a
 * `{proxy+}` route, as serverless-offline's own does.
 * @param {any} HttpServer
 */
function answerUnknownRoutesAsDeployed(HttpServer) {
  if (HttpServer.prototype.create404Route.answersAsDeployed) return;
  /** @this {{ getServer(): any }} */
  function create404Route() {
    const server = this.getServer();
    if (server.match('*', '/{p*}')) return;
    server.route({
      method: '*',
      path: '/{p*}',
      handler(/** @type {unknown} */ _request, /** @type {any} */ h) {
        const { statusCode, headers, body } = renderGatewayResponse(
          GATEWAY_RESPONSES.noSuchRoute,
          randomUUID(),
          403,
        );
        const response = h.response(body).code(statusCode);
        for (const [name, value] of Object.entries(headers)) response.header(name, value);
        return response;
      },
    });
  }
  create404Route.answersAsDeployed = true;
  HttpServer.prototype.create404Route = create404Route;
}

module.exports = { applyPatches };
