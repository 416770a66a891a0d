/**
 * A Lambda instance for serverless-offline (replaces its workerThreadHelper.js, see offline-patches.cjs):
 * the same in-process runner, but invocations arrive as { id, event, context } on the worker's own channel
 * and answers go back with their id, instead of through a MessagePort created and transferred per call.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const { INTERNAL_MODULES } = require('./offline-patches.cjs');
const { codeDir, functionKey, handler, offlineRoot, primingModule, servicePath, timeout } = workerData;
const internal = (name) => pathToFileURL(path.join(offlineRoot, 'src', INTERNAL_MODULES[name])).href;
const { default: InProcessRunner } = await import(internal('inProcessRunner'));
const { load } = await import(internal('userFunction'));

const runner = new InProcessRunner({ codeDir, functionKey, handler, servicePath, timeout }, process.env);

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
      await load(servicePath, path.join(codeDir, handler));
      // The clients the handler's modules created make their first, read-only call now (see priming.ts).
      const primed = await require(primingModule).prime();
      parentPort.postMessage({ id, result: { prewarmed: handler, primed } });
      return;
    }
    parentPort.postMessage({ id, result: await runner.run(event, context) });
  } catch (error) {
    parentPort.postMessage({ id, error });
  }
});
