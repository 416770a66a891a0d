'use strict';
/**
 * The only code in this project that reaches into serverless-offline's internals. What is patched, why, and
 * what upstream change would let each patch go: docs/serverless-offline-patches.md.
 *
 * The patches were written against exactly PATCHED_VERSION (package.json pins it). Before patching,
 * assertPatchable checks the version and the shape of every member it touches, and stops the start with a
 * message naming the expected version: never a start that silently runs untraced or unbounded.
 */
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const workerThreads = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');
const { executionEnvFor } = require('./ric-loader.mjs');

const PATCHED_VERSION = '14.8.2';
const LAMBDA_WORKER = path.join(__dirname, 'lambda-worker.mjs');

/** serverless-offline's own worker script, the one each Lambda instance runs. */
const WORKER_HELPER = path.join('lambda', 'handler-runner', 'worker-thread-runner', 'workerThreadHelper.js');
/** The modules lambda-worker.mjs and the pool patch import from serverless-offline's src/. */
const INTERNAL_MODULES = {
  lambdaFunction: path.join('lambda', 'LambdaFunction.js'),
  lambdaFunctionPool: path.join('lambda', 'LambdaFunctionPool.js'),
  inProcessRunner: path.join('lambda', 'handler-runner', 'in-process-runner', 'index.js'),
  userFunction: path.join(
    'lambda',
    'handler-runner',
    'in-process-runner',
    'aws-lambda-ric',
    'UserFunction.js',
  ),
};

/** What Lambda reports when a function's runtime process dies mid-invocation. */
class RuntimeExitError extends Error {
  constructor(code) {
    super(`Runtime exited with error: exit status ${code}`);
    this.name = 'Runtime.ExitError';
  }
}
const RUNTIME_EXITED = /^Runtime exited with error/;

/**
 * An error from an instance, rebuilt on this side with its type as the constructor's name: serverless-offline
 * reports `errorType` from the constructor, as Lambda reports it (e.g. Runtime.CallbackHandlerDeprecated).
 */
function runtimeError({ errorType, errorMessage, stack }) {
  const ErrorOfType = { [errorType]: class extends Error {} }[errorType];
  const error = new ErrorOfType(errorMessage);
  error.name = errorType;
  if (stack) error.stack = stack;
  return error;
}

/**
 * Sent through the Lambda invoke API to start an instance. The worker loads the handler (the init phase, as
 * provisioned concurrency runs it) and answers without invoking it, so no span or log line is made.
 */
const PREWARM_EVENT = { localRuntime: 'prewarm' };
const isPrewarm = (event) => event?.localRuntime === PREWARM_EVENT.localRuntime;

/** The installed serverless-offline's root folder (its exports map hides package.json and src/). */
function offlineRoot() {
  return path.resolve(path.dirname(require.resolve('serverless-offline')), '..');
}

class PatchMismatchError extends Error {
  constructor(found, problems) {
    super(
      `serverless-offline ${found} is installed, but plugins/offline-patches.cjs was written against ` +
        `serverless-offline ${PATCHED_VERSION}:\n  - ${problems.join('\n  - ')}\n` +
        `Install the pinned version (npm ci), or update the patches for ${found} ` +
        '(see docs/serverless-offline-patches.md). Not starting: the functions would run untraced or unbounded.',
    );
    this.name = 'PatchMismatchError';
  }
}

/**
 * Stops with a PatchMismatchError unless `root` holds the serverless-offline the patches were written for;
 * answers its version.
 */
function assertPatchable(root = offlineRoot()) {
  const problems = [];
  let found = 'of an unknown version';
  try {
    found = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  } catch (error) {
    problems.push(`its package.json is unreadable (${error.code ?? error.message})`);
  }
  if (found !== PATCHED_VERSION && problems.length === 0) problems.push(`the version is ${found}`);
  for (const relative of [WORKER_HELPER, ...Object.values(INTERNAL_MODULES)]) {
    if (!existsSync(path.join(root, 'src', relative))) problems.push(`src/${relative} is missing`);
  }
  if (problems.length > 0) throw new PatchMismatchError(found, problems);
  return found;
}

/** Checks the members the pool patch replaces, once the classes are loaded. */
function assertPoolShape({ LambdaFunction, LambdaFunctionPool }, found) {
  const problems = [];
  const status = Object.getOwnPropertyDescriptor(LambdaFunction?.prototype ?? {}, 'status');
  if (typeof status?.get !== 'function') problems.push('LambdaFunction has no `status` getter');
  for (const method of ['runHandler', 'cleanup', 'setEvent', 'setClientContext']) {
    if (typeof LambdaFunction?.prototype?.[method] !== 'function') {
      problems.push(`LambdaFunction.prototype.${method} is not a function`);
    }
  }
  if (typeof LambdaFunctionPool?.prototype?.get !== 'function') {
    problems.push('LambdaFunctionPool.prototype.get is not a function');
  }
  if (problems.length > 0) throw new PatchMismatchError(found, problems);
}

async function importOfflineModule(root, relativePath) {
  return import(pathToFileURL(path.join(root, 'src', relativePath)).href);
}

/**
 * Subclasses worker_threads.Worker for the threads serverless-offline starts as Lambda instances:
 * - they get `--require <tracingPreload>`, so tracing wraps the handler before it loads (NODE_OPTIONS does not
 *   reach worker threads, and serverless-offline passes no execArgv of its own), after `instanceExecArgv`, the
 *   Node options a deployed instance gets through NODE_OPTIONS;
 * - they run lambda-worker.mjs, which loads and calls the handler as the function's runtime (`runtimeOf`) does,
 *   with that runtime's AWS_EXECUTION_ENV and LAMBDA_TASK_ROOT at the code (serverless-offline says /var/task);
 * - lambda-worker.mjs answers on the worker's own channel. serverless-offline creates a
 *   MessageChannel per invocation and transfers one end to the worker, which profiling showed to be the
 *   largest single cost on its main thread; here the port stays on the main thread and is answered locally;
 * - a worker that exits mid-invocation answers its caller with Lambda's "Runtime exited" error.
 */
function patchLambdaWorkers({
  tracingPreload,
  primingModule,
  runtimeOf,
  instanceExecArgv = [],
  root = offlineRoot(),
}) {
  const OriginalWorker = workerThreads.Worker;
  if (OriginalWorker.isLambdaWorker) return;
  const helper = path.join(root, 'src', WORKER_HELPER);
  class LambdaWorker extends OriginalWorker {
    static isLambdaWorker = true;
    /** The Lambda instances running now. */
    static running = new Set();
    #pending = new Map();
    #nextId = 0;
    #isLambdaInstance;

    constructor(filename, options = {}) {
      const file = filename instanceof URL ? filename.pathname : String(filename);
      const isLambdaInstance = path.resolve(file) === helper;
      const runtime = isLambdaInstance ? runtimeOf(options.workerData?.functionKey) : undefined;
      super(
        isLambdaInstance ? LAMBDA_WORKER : filename,
        isLambdaInstance
          ? {
              ...options,
              env: {
                ...options.env,
                AWS_EXECUTION_ENV: executionEnvFor(runtime),
                LAMBDA_TASK_ROOT: options.workerData?.codeDir,
              },
              execArgv: [
                ...(options.execArgv ?? process.execArgv),
                ...instanceExecArgv,
                '--require',
                tracingPreload,
              ],
              workerData: { ...options.workerData, primingModule, runtime, offlineRoot: root },
            }
          : options,
      );
      this.#isLambdaInstance = isLambdaInstance;
      if (!isLambdaInstance) return;
      LambdaWorker.running.add(this);
      this.on('message', ({ id, result, error }) => {
        const port = this.#pending.get(id);
        this.#pending.delete(id);
        port?.postMessage(error ? runtimeError(error) : result);
        port?.close();
      });
      this.on('exit', (code) => {
        LambdaWorker.running.delete(this);
        for (const port of this.#pending.values()) {
          port.postMessage(new RuntimeExitError(code));
          port.close();
        }
        this.#pending.clear();
      });
    }

    /** The instance's own process.memoryUsage(): its heap and external memory are its isolate's alone. */
    memoryUsage() {
      return new Promise((resolve) => {
        const id = this.#nextId++;
        this.#pending.set(id, { postMessage: resolve, close() {} });
        super.postMessage({ id, memoryUsage: true });
      });
    }

    postMessage(message, transferList) {
      if (!this.#isLambdaInstance || !message?.port) return super.postMessage(message, transferList);
      const id = this.#nextId++;
      this.#pending.set(id, message.port);
      if (isPrewarm(message.event)) return super.postMessage({ id, prewarm: true });
      return super.postMessage({ id, event: message.event, context: message.context });
    }
  }
  workerThreads.Worker = LambdaWorker;
  // serverless-offline imports Worker as an ES module binding; this makes the binding see the subclass.
  syncBuiltinESMExports();
}

/**
 * Caps the instances of each function at `maxInstances` (like reserved concurrency) and queues the requests
 * beyond it in arrival order, instead of starting a worker for every concurrent request. An instance whose
 * runtime exited gets a fresh runtime for its next request, as Lambda replaces a crashed sandbox; since
 * 14.7.4 serverless-offline does the same itself after a timeout. Answers the pool's controls.
 */
function patchLambdaPool({ LambdaFunction, LambdaFunctionPool }, maxInstances) {
  if (LambdaFunctionPool.prototype.get.controls) return LambdaFunctionPool.prototype.get.controls;

  /** The instances serverless-offline's pool holds, per function: it removes them only through cleanup(). */
  const instancesByKey = new Map();
  /** Requests waiting for an instance, oldest first. */
  const waitersByKey = new Map();
  /** Instances whose runtime must be replaced once their invocation ends (a reload while busy). */
  const resetWhenIdle = new WeakSet();
  const statusOf = (instance) => instance.status;
  const instancesOf = (functionKey) => {
    if (!instancesByKey.has(functionKey)) instancesByKey.set(functionKey, new Set());
    return instancesByKey.get(functionKey);
  };
  const waitersOf = (functionKey) => {
    if (!waitersByKey.has(functionKey)) waitersByKey.set(functionKey, []);
    return waitersByKey.get(functionKey);
  };

  /** Replaces an instance's runtime: its next request starts a new worker, which loads the handler anew. */
  const originalCleanup = LambdaFunction.prototype.cleanup;
  const resetRuntime = (instance) => originalCleanup.call(instance).catch(() => {});

  const originalRun = LambdaFunction.prototype.runHandler;
  LambdaFunction.prototype.runHandler = async function runHandler() {
    try {
      return await originalRun.call(this);
    } catch (error) {
      if (RUNTIME_EXITED.test(String(error?.message))) await resetRuntime(this);
      throw error;
    } finally {
      if (resetWhenIdle.delete(this)) await resetRuntime(this);
      const next = waitersByKey.get(this.functionKeyForPool)?.shift();
      if (next) next();
    }
  };

  // serverless-offline's idle cleaner and its shutdown remove an instance from its pool through cleanup().
  LambdaFunction.prototype.cleanup = function cleanup() {
    instancesByKey.get(this.functionKeyForPool)?.delete(this);
    return originalCleanup.call(this);
  };

  const originalGet = LambdaFunctionPool.prototype.get;
  /** An idle instance, or a new one while under the cap; undefined when the function is at its cap. */
  function take(pool, functionKey, functionDefinition) {
    const instances = instancesOf(functionKey);
    const hasIdle = [...instances].some((instance) => statusOf(instance) === 'IDLE');
    if (!hasIdle && instances.size >= maxInstances) return undefined;
    const instance = originalGet.call(pool, functionKey, functionDefinition);
    instance.functionKeyForPool = functionKey;
    instances.add(instance);
    return instance;
  }

  function get(functionKey, functionDefinition) {
    // Nobody jumps the queue: with requests waiting, a new one waits behind them even if an instance is idle.
    if (waitersOf(functionKey).length === 0) {
      const instance = take(this, functionKey, functionDefinition);
      if (instance) return instance;
    }
    return queuedInvocation(() => take(this, functionKey, functionDefinition), functionKey);
  }

  get.controls = {
    /** Replaces every instance's runtime: idle ones now, busy ones when their invocation ends. */
    resetAll() {
      let count = 0;
      for (const instances of instancesByKey.values()) {
        for (const instance of instances) {
          count++;
          if (statusOf(instance) === 'BUSY') resetWhenIdle.add(instance);
          else resetRuntime(instance);
        }
      }
      return count;
    },
    /** How many instances each function has and how many requests wait: for tests and diagnostics. */
    stats() {
      return Object.fromEntries(
        [...instancesByKey].map(([key, instances]) => [
          key,
          { instances: instances.size, waiting: waitersOf(key).length },
        ]),
      );
    },
  };
  LambdaFunctionPool.prototype.get = get;
  return get.controls;

  /** Stands in for an instance until one is free; serverless-offline only calls these three methods. */
  function queuedInvocation(acquire, functionKey) {
    let event;
    let clientContext;
    return {
      setEvent(value) {
        event = value;
      },
      setClientContext(value) {
        clientContext = value;
      },
      async runHandler() {
        const waiters = waitersOf(functionKey);
        await new Promise((resolve) => waiters.push(resolve));
        let instance = acquire();
        // Woken, but a request that found no queue took the instance first: wait again, at the front.
        while (!instance) {
          await new Promise((resolve) => waiters.unshift(resolve));
          instance = acquire();
        }
        if (clientContext !== undefined) instance.setClientContext(clientContext);
        instance.setEvent(event);
        return instance.runHandler();
      },
    };
  }
}

/**
 * Memory of this process and of each Lambda instance in it: RSS is the whole process's (every thread), the
 * heap and external figures are each instance's own.
 */
async function memoryReport() {
  // Once the workers are patched, Worker is the subclass that keeps the running instances.
  const workers = [...(workerThreads.Worker.running ?? [])];
  const usages = await Promise.all(workers.map((worker) => worker.memoryUsage()));
  const main = process.memoryUsage();
  // An instance that exited while asked answers with its exit error instead.
  return { rss: main.rss, main, instances: usages.filter((usage) => typeof usage?.heapTotal === 'number') };
}

/** Checks, then patches the workers and the pool. Answers the pool's controls. */
async function applyPatches({
  maxInstances,
  tracingPreload,
  primingModule,
  runtimeOf,
  instanceExecArgv,
  root = offlineRoot(),
}) {
  const found = assertPatchable(root);
  const { default: LambdaFunction } = await importOfflineModule(root, INTERNAL_MODULES.lambdaFunction);
  const { default: LambdaFunctionPool } = await importOfflineModule(
    root,
    INTERNAL_MODULES.lambdaFunctionPool,
  );
  assertPoolShape({ LambdaFunction, LambdaFunctionPool }, found);
  patchLambdaWorkers({ tracingPreload, primingModule, runtimeOf, instanceExecArgv, root });
  return patchLambdaPool({ LambdaFunction, LambdaFunctionPool }, maxInstances);
}

module.exports = {
  PATCHED_VERSION,
  INTERNAL_MODULES,
  PREWARM_EVENT,
  RuntimeExitError,
  applyPatches,
  assertPatchable,
  assertPoolShape,
  memoryReport,
  offlineRoot,
  patchLambdaPool,
};
