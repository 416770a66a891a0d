'use strict';
/**
 * serverless-offline starts a new instance for every concurrent request, without limit. This caps them per
 * function and queues the rest in order, as reserved concurrency does, and replaces a crashed instance's
 * runtime, as Lambda replaces a crashed sandbox.
 */
const { RUNTIME_EXITED } = require('./worker-protocol.cjs');

/**
 * How the pool is steered: what `npm run dev` resets on a new build, and what tests and diagnostics read.
 * @typedef {{ resetAll(): number, stats(): Record<string, { instances: number, waiting: number }> }} PoolControls
 */
/**
 * One of serverless-offline's LambdaFunction instances, as the pool sees it.
 * @typedef {{ status: 'IDLE' | 'BUSY', functionKeyForPool?: string, runHandler(): Promise<unknown>,
 *   setEvent(event: unknown): void, setClientContext(context: unknown): void }} Instance
 */

/**
 * Caps the instances of each function at `maxInstances` (like reserved concurrency) and queues the requests
 * beyond it in arrival order, instead of starting a worker for every concurrent request. An instance whose
 * runtime exited gets a fresh runtime for its next request, as Lambda replaces a crashed sandbox; since
 * 14.7.4 serverless-offline does the same itself after a timeout. Answers the pool's controls.
 * @param {import('./offline-internals.cjs').OfflineClasses} classes
 * @param {number} maxInstances
 * @returns {PoolControls}
 */
function patchLambdaPool({ LambdaFunction, LambdaFunctionPool }, maxInstances) {
  if (LambdaFunctionPool.prototype.get.controls) return LambdaFunctionPool.prototype.get.controls;

  /** The instances serverless-offline's pool holds, per function: it removes them only through cleanup(). */
  /** @type {Map<string, Set<Instance>>} */
  const instancesByKey = new Map();
  /** Requests waiting for an instance, oldest first. */
  /** @type {Map<string, Array<() => void>>} */
  const waitersByKey = new Map();
  /** Instances whose runtime must be replaced once their invocation ends (a reload while busy). */
  /** @type {WeakSet<Instance>} */
  const resetWhenIdle = new WeakSet();
  const statusOf = (/** @type {Instance} */ instance) => instance.status;
  const instancesOf = (/** @type {string} */ functionKey) => {
    const instances = instancesByKey.get(functionKey) ?? new Set();
    instancesByKey.set(functionKey, instances);
    return instances;
  };
  const waitersOf = (/** @type {string} */ functionKey) => {
    const waiters = waitersByKey.get(functionKey) ?? [];
    waitersByKey.set(functionKey, waiters);
    return waiters;
  };

  /** Replaces an instance's runtime: its next request starts a new worker, which loads the handler anew. */
  const originalCleanup = LambdaFunction.prototype.cleanup;
  const resetRuntime = (/** @type {Instance} */ instance) => originalCleanup.call(instance).catch(() => {});

  const originalRun = LambdaFunction.prototype.runHandler;
  /** @this {Instance} */
  LambdaFunction.prototype.runHandler = async function runHandler() {
    try {
      return await originalRun.call(this);
    } catch (error) {
      if (error instanceof Error && RUNTIME_EXITED.test(error.message)) await resetRuntime(this);
      throw error;
    } finally {
      if (resetWhenIdle.delete(this)) await resetRuntime(this);
      const next = waitersByKey.get(String(this.functionKeyForPool))?.shift();
      if (next) next();
    }
  };

  // serverless-offline's idle cleaner and its shutdown remove an instance from its pool through cleanup().
  /** @this {Instance} */
  LambdaFunction.prototype.cleanup = function cleanup() {
    instancesByKey.get(String(this.functionKeyForPool))?.delete(this);
    return originalCleanup.call(this);
  };

  const originalGet = LambdaFunctionPool.prototype.get;
  /**
   * An idle instance, or a new one while under the cap; undefined when the function is at its cap.
   * @param {unknown} pool
   * @param {string} functionKey
   * @param {unknown} functionDefinition
   * @returns {Instance | undefined}
   */
  function take(pool, functionKey, functionDefinition) {
    const instances = instancesOf(functionKey);
    const hasIdle = [...instances].some((instance) => statusOf(instance) === 'IDLE');
    if (!hasIdle && instances.size >= maxInstances) return undefined;
    const instance = originalGet.call(pool, functionKey, functionDefinition);
    instance.functionKeyForPool = functionKey;
    instances.add(instance);
    return instance;
  }

  /**
   * @this {unknown} serverless-offline's pool
   * @param {string} functionKey
   * @param {unknown} functionDefinition
   */
  function get(functionKey, functionDefinition) {
    // Nobody jumps the queue: with requests waiting, a new one waits behind them even if an instance is idle.
    if (waitersOf(functionKey).length === 0) {
      const instance = take(this, functionKey, functionDefinition);
      if (instance) return instance;
    }
    return queuedInvocation(() => take(this, functionKey, functionDefinition), functionKey);
  }

  /** @type {PoolControls} */
  const controls = {
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
  get.controls = controls;
  LambdaFunctionPool.prototype.get = get;
  return controls;

  /**
   * Stands in for an instance until one is free; serverless-offline only calls these three methods.
   * @param {() => Instance | undefined} acquire
   * @param {string} functionKey
   */
  function queuedInvocation(acquire, functionKey) {
    /** @type {unknown} */
    let event;
    /** @type {unknown} */
    let clientContext;
    return {
      setEvent(/** @type {unknown} */ value) {
        event = value;
      },
      setClientContext(/** @type {unknown} */ value) {
        clientContext = value;
      },
      async runHandler() {
        const waiters = waitersOf(functionKey);
        await new Promise((/** @type {(value?: unknown) => void} */ resolve) => waiters.push(resolve));
        let instance = acquire();
        // Woken, but a request that found no queue took the instance first: wait again, at the front.
        while (!instance) {
          await new Promise((/** @type {(value?: unknown) => void} */ resolve) => waiters.unshift(resolve));
          instance = acquire();
        }
        if (clientContext !== undefined) instance.setClientContext(clientContext);
        instance.setEvent(event);
        return instance.runHandler();
      },
    };
  }
}

module.exports = { patchLambdaPool };
