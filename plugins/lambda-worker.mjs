/**
 * A Lambda instance for serverless-offline (replaces its workerThreadHelper.js, see offline-patches.cjs).
 * Invocations arrive as { id, event, context } on the worker's own channel and answers go back with their id,
 * instead of through a MessagePort created and transferred per call.
 *
 * The handler is loaded and called as the function's runtime does it. For nodejs24.x and later, that is the
 * runtime interface client's way (ric-loader.mjs: `import()`, callback handlers refused, (event, context)
 * only); for older runtimes, serverless-offline's own in-process runner (require(), a callback passed).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { invocationContext, invoke, loadHandler, loadsWithImport } from './ric-loader.mjs';

const require = createRequire(import.meta.url);
const { INTERNAL_MODULES } = require('./offline-patches.cjs');
const { codeDir, functionKey, handler, offlineRoot, primingModule, runtime, servicePath, timeout } =
  workerData;

/** Runs one invocation: (event, context) → the handler's answer. */
const run = loadsWithImport(runtime) ? await runtimeClientRunner() : await offlineRunner();

/** The init phase, as the nodejs24.x runtime runs it: once per instance, its failure the failure of every call. */
async function runtimeClientRunner() {
  let loading;
  const load = () => {
    loading ??= loadHandler(codeDir, handler);
    return loading;
  };
  return {
    load,
    run: async (event, context) =>
      invoke(await load(), event, invocationContext({ ...context, deadlineMs: Date.now() + timeout })),
  };
}

async function offlineRunner() {
  const internal = (name) => pathToFileURL(path.join(offlineRoot, 'src', INTERNAL_MODULES[name])).href;
  const { default: InProcessRunner } = await import(internal('inProcessRunner'));
  const { load } = await import(internal('userFunction'));
  const runner = new InProcessRunner({ codeDir, functionKey, handler, servicePath, timeout }, process.env);
  return {
    load: () => load(servicePath, path.join(codeDir, handler)),
    run: (event, context) => runner.run(event, context),
  };
}

/** Errors cross the thread boundary as plain data: a structured clone keeps the name of built-in errors only. */
const asMessage = (error) =>
  error instanceof Error
    ? { errorType: error.name, errorMessage: error.message, stack: error.stack }
    : { errorType: 'Error', errorMessage: String(error) };

parentPort.on('message', async ({ id, event, context, prewarm, memoryUsage }) => {
  try {
    if (memoryUsage) {
      parentPort.postMessage({ id, result: process.memoryUsage() });
      return;
    }
    if (prewarm) {
      // The init phase, as provisioned concurrency runs it, without invoking the handler: the instrumentation
      // then reports the first invocation as warm, which it is.
      process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'provisioned-concurrency';
      await run.load();
      // The clients the handler's modules created make their first, read-only call now (see priming.ts).
      const primed = await require(primingModule).prime();
      parentPort.postMessage({ id, result: { prewarmed: handler, primed } });
      return;
    }
    parentPort.postMessage({ id, result: await run.run(event, context) });
  } catch (error) {
    parentPort.postMessage({ id, error: asMessage(error) });
  }
});
