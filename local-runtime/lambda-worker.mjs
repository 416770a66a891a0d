/**
 * A Lambda instance, in a worker thread: serverless-offline's (in place of its workerThreadHelper.js, see
 * instance-workers.cjs) and the benchmark floor's. Requests arrive on the worker's own channel and answers go
 * back with their id (worker-protocol.cjs).
 *
 * The handler is loaded and called as the function's runtime (nodejs24.x, the only one the project runs: its
 * engines and runtimes.cjs refuse others) does it: the runtime interface client's way (ric-loader.mjs:
 * `import()`, callback handlers refused, (event, context) only).
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { invocationContext, invoke, loadHandler } from './ric-loader.mjs';

const instanceStartedAt = performance.timeOrigin + performance.now();
const require = createRequire(import.meta.url);
/** @type {typeof import('./worker-protocol.cjs')} */
const { errorMessageOf } = require('./worker-protocol.cjs');
const { memoryOfThisThread } = require('./memory-usage.cjs');

/**
 * What the instance is told when it starts (serverless-offline's own fields, and the local runtime's).
 * @type {{ codeDir: string, handler: string, primingModule?: string, timeout: number }}
 */
const { codeDir, handler, primingModule, timeout } = workerData;

/**
 * Loads the handler once (the init phase) and runs invocations: (event, context) → the handler's answer.
 * @typedef {{ load(): Promise<unknown>, run(event: unknown, context: Record<string, unknown>): Promise<unknown> }} Runner
 */

/** @type {Runner} */
const runner = runtimeClientRunner();

/**
 * The init phase, as the nodejs24.x runtime runs it: once per instance, its failure the failure of every call.
 * @returns {Runner}
 */
function runtimeClientRunner() {
  /** @type {ReturnType<typeof loadHandler> | undefined} */
  let loading;
  const load = () => {
    loading ??= loadHandler(codeDir, handler);
    return loading;
  };
  return {
    load,
    run: async (event, context) => {
      // serverless-offline's context carries the request id and ARN the runtime's context is made from.
      const given = /** @type {{ awsRequestId: string, invokedFunctionArn: string }} */ (context);
      return invoke(await load(), event, invocationContext({ ...given, deadlineMs: Date.now() + timeout }));
    },
  };
}

/** Whether the handler is loaded yet: the first invocation's report then includes the init phase. */
let initialized = false;

/**
 * Loads the handler if not yet loaded; answers how long that took, if it did.
 * @returns {Promise<number | undefined>}
 */
async function initialize() {
  if (initialized) return undefined;
  const started = performance.now();
  await runner.load();
  initialized = true;
  return performance.now() - started;
}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

port.on('message', async ({ id, event, context, prewarm, memoryUsage }) => {
  const started = performance.now();
  try {
    if (memoryUsage) {
      port.postMessage({ id, result: memoryOfThisThread() });
      return;
    }
    if (prewarm) {
      // The init phase, as provisioned concurrency runs it, without invoking the handler: the instrumentation
      // then reports the first invocation as warm, which it is.
      process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'provisioned-concurrency';
      await initialize();
      // The clients the handler's modules created make their first, read-only call now (see priming.ts).
      const primed = primingModule ? await require(primingModule).prime() : 0;
      port.postMessage({ id, result: { prewarmed: handler, primed } });
      return;
    }
    const initDurationMs = await initialize();
    const result = await runner.run(event, context);
    const report = {
      durationMs: performance.now() - started,
      ...(initDurationMs === undefined ? {} : { initDurationMs, instanceStartedAt }),
    };
    port.postMessage({ id, result, report });
  } catch (error) {
    port.postMessage({
      id,
      error: errorMessageOf(error),
      report: { durationMs: performance.now() - started },
    });
  }
});
