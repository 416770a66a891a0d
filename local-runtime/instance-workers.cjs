'use strict';
/**
 * serverless-offline starts each Lambda instance as a worker thread running its workerThreadHelper.js. This
 * subclasses worker_threads.Worker for those threads (and only those):
 * - they get `--require <tracingPreload>`, so tracing wraps the handler before it loads (NODE_OPTIONS does not
 *   reach worker threads, and serverless-offline passes no execArgv of its own), after `instanceExecArgv`, the
 *   Node options a deployed instance gets through NODE_OPTIONS;
 * - they run lambda-worker.mjs, which loads and calls the handler as the function's runtime (`runtimeOf`) does,
 *   with that runtime's AWS_EXECUTION_ENV and LAMBDA_TASK_ROOT at the code (serverless-offline says /var/task),
 *   and the V8 heap limits Lambda's bootstrap sets for the function's memory size (runtimes.cjs); their young
 *   generation grows with their load from V8's 1 MiB, as a fresh sandbox's does, or starts full
 *   (`youngGeneration`, startYoungGenerationsFull);
 * - they are asked and answer on the worker's own channel (worker-protocol.cjs). serverless-offline creates a
 *   MessageChannel per invocation and transfers one end to the worker, which profiling showed to be the
 *   largest single cost on its main thread; here the port stays on the main thread and is answered locally;
 * - a worker that exits mid-invocation answers its caller with Lambda's "Runtime exited" error.
 */
const { createWriteStream } = require('node:fs');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const v8 = require('node:v8');
const workerThreads = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');
const { OFFLINE_ANSWER, WORKER_HELPER, offlineRoot } = require('./offline-internals.cjs');
const { memoryOfThisThread } = require('./memory-usage.cjs');
const { executionEnvFor, lambdaHeapLimits } = require('./runtimes.cjs');
const { InstanceChannel, errorFromMessage, isPrewarm } = require('./worker-protocol.cjs');

const LAMBDA_WORKER = path.join(__dirname, 'lambda-worker.mjs');

/** The Lambda instances running now, for the memory report. */
const running = new Set();

/** The largest young generation an instance has been started with, in MB: the V8 flag's current value. */
let fullYoungGenerationMb = 0;

/**
 * With `youngGeneration: 'full'`, every instance's isolate starts with its new space at the size V8 allows it (its
 * semi-spaces at their maximum) instead of 1 MiB. V8 doubles a new space once enough has survived scavenges
 * and halves it when allocation slows, so the size follows an instance's load; in one process holding two
 * dozen instances, that moved the process's memory by hundreds of MB with the load's history (the soak,
 * BENCHMARKS.md), which read as growth and hid any real growth: the soak starts them full. By default they
 * grow, since a full one holds about 36 MB (at 256 MB) even in an instance that has served little.
 * `--min-semi-space-size` is a process-wide V8 flag, read as each isolate is created; V8 caps it at each
 * isolate's own maximum (from its resourceLimits), so it only ever needs raising. The main thread's heap is
 * configured already and keeps V8's default.
 * @param {number} maxYoungGenerationSizeMb
 */
function startYoungGenerationsFull(maxYoungGenerationSizeMb) {
  if (maxYoungGenerationSizeMb <= fullYoungGenerationMb) return;
  fullYoungGenerationMb = maxYoungGenerationSizeMb;
  v8.setFlagsFromString(`--min-semi-space-size=${maxYoungGenerationSizeMb}`);
}

/**
 * @typedef {object} InstanceSettings
 * @property {string} tracingPreload the preload every instance starts with
 * @property {string} primingModule the primer registry prewarming runs (functions/shared/runtime/priming.ts)
 * @property {(functionKey: string) => string} runtimeOf a function's Lambda runtime, e.g. "nodejs24.x"
 * @property {string[]} [instanceExecArgv] Node options every instance runs with
 * @property {number | 'lambda' | 'full'} [youngGeneration] the most an instance's young generation holds, in
 *   MB (below what Lambda allows its memory size, that is only more frequent scavenges); `lambda`: what Lambda
 *   allows; `full`: that, from the start (startYoungGenerationsFull)
 * @property {string} [root] serverless-offline's root folder
 */

/** @param {InstanceSettings} settings */
function patchLambdaWorkers({
  tracingPreload,
  primingModule,
  runtimeOf,
  instanceExecArgv = [],
  youngGeneration = 'lambda',
  root = offlineRoot(),
}) {
  const OriginalWorker = workerThreads.Worker;
  if (/** @type {any} */ (OriginalWorker).isLambdaWorker) return;
  const helper = path.join(root, 'src', WORKER_HELPER);

  class LambdaWorker extends OriginalWorker {
    static isLambdaWorker = true;
    /** @type {InstanceChannel | undefined} */
    #channel;
    /** Stopped by the local runtime (a timeout, a reload, shutdown), not dead by itself. */
    #stopping = false;

    /**
     * @param {string | URL} filename
     * @param {workerThreads.WorkerOptions} [options]
     */
    constructor(filename, options = {}) {
      const file = filename instanceof URL ? filename.pathname : String(filename);
      const isLambdaInstance = path.resolve(file) === helper;
      if (!isLambdaInstance) {
        super(filename, options);
        return;
      }
      const workerData = options.workerData ?? {};
      const runtime = runtimeOf(workerData.functionKey);
      const env = /** @type {NodeJS.ProcessEnv} */ (options.env);
      const heapLimits = lambdaHeapLimits(Number(env?.AWS_LAMBDA_FUNCTION_MEMORY_SIZE));
      if (heapLimits && typeof youngGeneration === 'number') {
        heapLimits.maxYoungGenerationSizeMb = Math.min(heapLimits.maxYoungGenerationSizeMb, youngGeneration);
      }
      if (heapLimits && youngGeneration === 'full')
        startYoungGenerationsFull(heapLimits.maxYoungGenerationSizeMb);
      super(LAMBDA_WORKER, {
        ...options,
        ...(heapLimits ? { resourceLimits: { ...options.resourceLimits, ...heapLimits } } : {}),
        env: {
          ...env,
          AWS_EXECUTION_ENV: executionEnvFor(runtime),
          LAMBDA_TASK_ROOT: workerData.codeDir,
        },
        execArgv: [
          ...(options.execArgv ?? process.execArgv),
          ...instanceExecArgv,
          '--require',
          tracingPreload,
        ],
        workerData: { ...workerData, primingModule },
      });
      this.functionKey = String(workerData.functionKey);
      this.#channel = new InstanceChannel(this, (message) => super.postMessage(message));
      running.add(this);
      this.on('exit', () => running.delete(this));
      // An instance that runs out of heap (ERR_WORKER_OUT_OF_MEMORY) dies as a Lambda runtime process does:
      // its open invocations fail with Runtime.ExitError (worker-protocol.cjs) and the offline process, which
      // would otherwise crash on the unhandled 'error', carries on with the function's other instances.
      this.on('error', (error) => {
        const reason = /** @type {{ code?: string }} */ (error).code ?? error.message;
        process.stderr.write(`${this.functionKey}: an instance stopped (${reason}), as Lambda's would\n`);
      });
    }

    /** The ports of the invocations still open, which serverless-offline waits on. */
    /** @type {Set<import('node:worker_threads').MessagePort>} */
    #open = new Set();

    /**
     * serverless-offline stops an instance after a timeout, whose caller was answered already: the invocation
     * left open is closed quietly first, not reported again as a crash with its stack trace (since 14.8.5 its
     * runner fails every invocation still open when the worker exits, and logs each as an unhandled exception).
     * @override
     */
    async terminate() {
      this.#stopping = true;
      const open = [...this.#open];
      for (const port of open) port.postMessage(OFFLINE_ANSWER.result(undefined));
      await Promise.race([
        Promise.all(open.map((port) => new Promise((resolve) => port.once('close', resolve)))),
        new Promise((resolve) => setTimeout(resolve, 200)),
      ]);
      return super.terminate();
    }

    /**
     * The instance's own process.memoryUsage() (its heap and external memory are its isolate's alone), with
     * its heap spaces and, under --expose-gc, the same after a forced collection (lambda-worker.mjs).
     */
    async memoryUsage() {
      const answer = await this.#channel?.ask({ memoryUsage: true });
      return /** @type {import('./memory-usage.cjs').MemoryFigures | undefined} */ (answer?.result);
    }

    /** @param {string} file where this instance's heap snapshot is written */
    async writeHeapSnapshot(file) {
      await pipeline(await this.getHeapSnapshot(), createWriteStream(file));
      return file;
    }

    /**
     * serverless-offline posts { event, context, port } per invocation: the answer goes to that port.
     * @override
     * @param {any} message
     * @param {readonly workerThreads.Transferable[]} [transferList]
     */
    postMessage(message, transferList) {
      const channel = this.#channel;
      if (!channel || !message?.port) return super.postMessage(message, transferList);
      /** @type {import('node:worker_threads').MessagePort} */
      const port = message.port;
      this.#open.add(port);
      const request = isPrewarm(message.event)
        ? { prewarm: /** @type {const} */ (true) }
        : { event: message.event, context: message.context };
      channel
        .ask(request)
        .then(
          (answer) =>
            port.postMessage(
              answer.error
                ? OFFLINE_ANSWER.error(errorFromMessage(answer.error))
                : OFFLINE_ANSWER.result(answer.result),
            ),
          (error) =>
            port.postMessage(this.#stopping ? OFFLINE_ANSWER.result(undefined) : OFFLINE_ANSWER.error(error)),
        )
        .finally(() => {
          this.#open.delete(port);
          port.close();
        });
    }
  }

  workerThreads.Worker = LambdaWorker;
  // serverless-offline imports Worker as an ES module binding; this makes the binding see the subclass.
  syncBuiltinESMExports();
}

/**
 * Memory of this process and of each Lambda instance in it: RSS is the whole process's (every thread), the
 * heap and external figures are each instance's own. Under --expose-gc, each figure also comes after a forced
 * full collection. With `snapshotsTo`, heap snapshots of the main thread and of one instance of each function
 * are written there too, named by `label`.
 * @param {{ snapshotsTo?: string, label?: string }} [options]
 */
async function memoryReport({ snapshotsTo, label = 'report' } = {}) {
  const workers = [...running];
  const usages = await Promise.all(workers.map((worker) => worker.memoryUsage().catch(() => undefined)));
  const main = memoryOfThisThread();
  /** @type {string[]} */
  const snapshots = [];
  if (snapshotsTo) {
    snapshots.push(v8.writeHeapSnapshot(path.join(snapshotsTo, `${label}-main.heapsnapshot`)));
    // One instance of each function (the first started): its instances run the same code.
    /** @type {Map<string, InstanceType<typeof workerThreads.Worker> & { writeHeapSnapshot(file: string): Promise<string> }>} */
    const firstOfEach = new Map();
    for (const worker of workers)
      if (!firstOfEach.has(worker.functionKey)) firstOfEach.set(worker.functionKey, worker);
    for (const [functionKey, worker] of firstOfEach) {
      const file = path.join(snapshotsTo, `${label}-${functionKey}.heapsnapshot`);
      snapshots.push(await worker.writeHeapSnapshot(file).catch(() => ''));
    }
  }
  // An instance that exited while asked has no figures.
  const instances = workers.flatMap((worker, index) => {
    const usage = usages[index];
    return typeof usage?.heapTotal === 'number' ? [{ function: worker.functionKey, ...usage }] : [];
  });
  return { rss: main.rss, main, instances, snapshots: snapshots.filter(Boolean) };
}

module.exports = { patchLambdaWorkers, memoryReport };
