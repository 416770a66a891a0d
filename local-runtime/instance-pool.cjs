'use strict';
/**
 * serverless-offline starts a new instance for every concurrent request, without limit. This caps them per
 * function, as reserved concurrency does: a request that finds none free within a short wait is throttled, as
 * Lambda throttles at once. A crashed instance's runtime is replaced, as Lambda replaces a crashed sandbox.
 * What a client of the API sees when no function answered (a throttle, a crash, a timeout) is what the
 * deployed API answers: its Gateway Responses (gateway-responses.cjs).
 */
const { apiRequestIdOf, asApiGatewaySendsIt } = require('./api-events.cjs');
const { GATEWAY_RESPONSES, renderGatewayResponse } = require('./gateway-responses.cjs');
const { RUNTIME_EXITED } = require('./worker-protocol.cjs');

/**
 * @typedef {object} PoolSettings
 * @property {number} maxInstances instances per function at most
 * @property {number} throttleAfterMs how long a request may wait for a free instance before it is throttled
 * @property {(line: string) => void} [warn] where the one-line reports of throttles, crashes and timeouts go
 */

/** How often the throttles of a function are reported: one line per interval, not one per request. */
const THROTTLE_REPORT_MS = 1_000;

/** Lambda's answer to an invocation over the concurrency limit, through the invoke API. */
class TooManyRequestsError extends Error {
  /** @param {string} functionKey */
  constructor(functionKey) {
    super(`[429] Rate Exceeded: ${functionKey} is at its concurrency limit`);
    this.name = 'TooManyRequestsException';
  }
}

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
 * Caps the instances of each function at `maxInstances` (like reserved concurrency). A request beyond it waits
 * in arrival order, at most `throttleAfterMs`, then is throttled: an API request gets the API's throttle
 * answer (429), an invoke API call Lambda's TooManyRequestsException. An instance whose runtime exited gets a
 * fresh runtime for its next request, as Lambda replaces a crashed sandbox; since 14.7.4 serverless-offline
 * does the same itself after a timeout. Answers the pool's controls.
 * @param {import('./offline-internals.cjs').OfflineClasses} classes
 * @param {PoolSettings} settings
 * @returns {PoolControls}
 */
function patchLambdaPool(
  { LambdaFunction, LambdaFunctionPool },
  { maxInstances, throttleAfterMs, warn = console.warn },
) {
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

  /** The event each instance runs now: serverless-offline keeps it private. */
  /** @type {WeakMap<Instance, unknown>} */
  const eventOf = new WeakMap();
  const originalSetEvent = LambdaFunction.prototype.setEvent;
  /** @this {Instance} */
  LambdaFunction.prototype.setEvent = function setEvent(/** @type {unknown} */ event) {
    const sent = asApiGatewaySendsIt(event);
    eventOf.set(this, sent);
    return originalSetEvent.call(this, sent);
  };

  const originalRun = LambdaFunction.prototype.runHandler;
  /** @this {Instance} */
  LambdaFunction.prototype.runHandler = async function runHandler() {
    try {
      return await originalRun.call(this);
    } catch (error) {
      if (error instanceof Error && RUNTIME_EXITED.test(error.message)) await resetRuntime(this);
      const requestId = apiRequestIdOf(eventOf.get(this));
      if (requestId === undefined) throw error;
      // A function error (a crash, a timeout) behind the API: API Gateway answers 502, in the API's own words.
      warn(`${this.functionKeyForPool}: ${errorMessageOf(error)}; answered 502 (request ${requestId})`);
      return renderGatewayResponse(GATEWAY_RESPONSES.functionFailed, requestId, 502);
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

  /** Throttles per function since the last report line. */
  /** @type {Map<string, number>} */
  const unreportedThrottles = new Map();
  const reportThrottle = (/** @type {string} */ functionKey) => {
    const count = unreportedThrottles.get(functionKey) ?? 0;
    unreportedThrottles.set(functionKey, count + 1);
    if (count > 0) return;
    setTimeout(() => {
      const throttled = unreportedThrottles.get(functionKey);
      unreportedThrottles.delete(functionKey);
      warn(
        `${functionKey}: throttled ${throttled} request(s) at its limit of ${maxInstances} instances ` +
          `(OFFLINE_MAX_INSTANCES) in the last second`,
      );
    }, THROTTLE_REPORT_MS).unref();
  };

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
   * Waits for a turn, at most until `deadline`; false when the wait ran out (and the turn is given up).
   * @param {string} functionKey
   * @param {number} deadline
   * @param {'back' | 'front'} place
   */
  function waitForTurn(functionKey, deadline, place) {
    const waiters = waitersOf(functionKey);
    return new Promise((/** @type {(woken: boolean) => void} */ resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          const index = waiters.indexOf(wake);
          if (index >= 0) waiters.splice(index, 1);
          resolve(false);
        },
        Math.max(0, deadline - performance.now()),
      );
      if (place === 'back') waiters.push(wake);
      else waiters.unshift(wake);
    });
  }

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
        const deadline = performance.now() + throttleAfterMs;
        let instance;
        let place = /** @type {'back' | 'front'} */ ('back');
        // Woken, but a request that found no queue took the instance first: wait again, at the front.
        while (!instance) {
          if (!(await waitForTurn(functionKey, deadline, place))) {
            reportThrottle(functionKey);
            const requestId = apiRequestIdOf(event);
            if (requestId === undefined) throw new TooManyRequestsError(functionKey);
            return renderGatewayResponse(GATEWAY_RESPONSES.functionThrottled, requestId, 500);
          }
          instance = acquire();
          place = 'front';
        }
        if (clientContext !== undefined) instance.setClientContext(clientContext);
        instance.setEvent(event);
        return instance.runHandler();
      },
    };
  }
}

/** @param {unknown} error */
function errorMessageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

module.exports = { patchLambdaPool, TooManyRequestsError };
