'use strict';
/**
 * serverless-offline starts a new instance for every concurrent request, without limit. This admits requests
 * by the deployed limits (admission.cjs): past the stage's throttle or a function's reserved concurrency, the
 * answer is the deployed one. Within them, a request waits in arrival order for one of the function's few
 * local instances, bounded as deployed bounds it (the integration timeout, the function's own timeout), and
 * the terminal says once a second how long requests waited: the laptop's limit, never an answer AWS would not
 * give. A crashed instance's runtime is replaced, as Lambda replaces a crashed sandbox. What a client of the
 * API sees when no function answered (a throttle, a crash, a timeout) is what the deployed API answers: its
 * Gateway Responses (gateway-responses.cjs).
 */
const { FunctionAdmission, StageThrottle } = require('./admission.cjs');
const { apiRequestIdOf, asApiGatewaySendsIt } = require('./api-events.cjs');
const { GATEWAY_RESPONSES, renderGatewayResponse } = require('./gateway-responses.cjs');
const { RUNTIME_EXITED } = require('./worker-protocol.cjs');

/**
 * What bounds a function deployed, as the pool needs it.
 * @typedef {object} DeployedLimits
 * @property {number} [reservedConcurrency] its reserved concurrency; none: the account's unreserved pool
 * @property {number} timeoutMs its own timeout
 * @property {(event: unknown) => number} integrationTimeoutMs the API's integration timeout for the route of an event
 */
/**
 * @typedef {object} PoolSettings
 * @property {(functionKey: string) => number} maxInstancesOf the most local instances a function may have:
 *   the laptop's resource, not a limit
 * @property {(functionKey: string) => DeployedLimits} limitsOf
 * @property {{ rateLimit: number, burstLimit: number }} stage the stage's throttle per method
 * @property {number} [retireIdleAfterMs] an instance idle this long is retired (its worker ends), as Lambda
 *   retires idle sandboxes; each function keeps one. 0: never
 * @property {(line: string) => void} [warn] where the one-line reports of throttles, waits, crashes and timeouts go
 * @property {() => number} [now] the clock, in ms
 */

/** How often throttles and waits are reported: one line per function per interval, not one per request. */
const REPORT_EVERY_MS = 1_000;

/** Lambda's answer to an invocation over the concurrency limit, through the invoke API. */
class TooManyRequestsError extends Error {
  /** @param {string} functionKey */
  constructor(functionKey) {
    super(`[429] Rate Exceeded: ${functionKey} is at its reserved concurrency`);
    this.name = 'TooManyRequestsException';
  }
}

/**
 * How the pool is steered: what `npm run dev` resets on a new build, what tests and diagnostics read, and when
 * the process last had work (idle-memory.cjs).
 * @typedef {{ resetAll(): number, retireIdle(): number,
 *   stats(): Record<string, { instances: number, waiting: number }>,
 *   quietSince(): number | undefined }} PoolControls
 */
/**
 * One of serverless-offline's LambdaFunction instances, as the pool sees it.
 * @typedef {{ status: 'IDLE' | 'BUSY', functionKeyForPool?: string, runHandler(): Promise<unknown>,
 *   setEvent(event: unknown): void, setClientContext(context: unknown): void }} Instance
 */

/**
 * Admits each request by the deployed limits, then runs it on an idle instance, a new one while the function
 * has fewer than `maxInstancesOf` allows it (and fewer than its reserved concurrency), or the first one to come
 * free.
 * An instance whose runtime exited gets a fresh runtime for its next request, as Lambda replaces a crashed
 * sandbox; since 14.7.4 serverless-offline does the same itself after a timeout. Answers the pool's controls.
 * @param {import('./offline-internals.cjs').OfflineClasses} classes
 * @param {PoolSettings} settings
 * @returns {PoolControls}
 */
function patchLambdaPool(
  { LambdaFunction, LambdaFunctionPool },
  {
    maxInstancesOf,
    limitsOf,
    stage,
    retireIdleAfterMs = 0,
    warn = console.warn,
    now = () => performance.now(),
  },
) {
  if (LambdaFunctionPool.prototype.get.controls) return LambdaFunctionPool.prototype.get.controls;

  /** The instances serverless-offline's pool holds, per function: it removes them only through cleanup(). */
  /** @type {Map<string, Set<Instance>>} */
  const instancesByKey = new Map();
  /** @type {Map<string, FunctionAdmission<void>>} */
  const admissionByKey = new Map();
  const stageThrottle = new StageThrottle(stage);
  /** When each instance last finished an invocation. */
  /** @type {WeakMap<Instance, number>} */
  const idleSince = new WeakMap();
  /** Instances whose runtime must be replaced once their invocation ends (a reload while busy). */
  /** @type {WeakSet<Instance>} */
  const resetWhenIdle = new WeakSet();
  const statusOf = (/** @type {Instance} */ instance) => instance.status;
  const instancesOf = (/** @type {string} */ functionKey) => {
    const instances = instancesByKey.get(functionKey) ?? new Set();
    instancesByKey.set(functionKey, instances);
    return instances;
  };
  const admissionOf = (/** @type {string} */ functionKey) => {
    let admission = admissionByKey.get(functionKey);
    if (!admission) {
      admission = new FunctionAdmission(limitsOf(functionKey));
      admissionByKey.set(functionKey, admission);
    }
    return admission;
  };
  const instanceCapOf = (/** @type {string} */ functionKey) =>
    Math.min(maxInstancesOf(functionKey), admissionOf(functionKey).reservedConcurrency);
  const report = onceASecond(warn);
  /** Waits per function since its last waiting line. */
  /** @type {Map<string, { count: number, longestMs: number }>} */
  const waitsByKey = new Map();

  /** Requests admitted or waiting now, and when the last one ended or an instance was last retired. */
  let inFlight = 0;
  let lastWorkAt = now();
  /** @param {Promise<unknown>} running */
  const counted = (running) => {
    inFlight++;
    return running.finally(() => {
      inFlight--;
      lastWorkAt = now();
    });
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
    const admission = admissionOf(String(this.functionKeyForPool));
    const startedAt = now();
    admission.started();
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
      idleSince.set(this, now());
      admission.finished(now() - startedAt);
      if (resetWhenIdle.delete(this)) await resetRuntime(this);
      admission.wakeNext();
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
    if (!hasIdle && instances.size >= instanceCapOf(functionKey)) return undefined;
    const instance = originalGet.call(pool, functionKey, functionDefinition);
    instance.functionKeyForPool = functionKey;
    instances.add(instance);
    return instance;
  }

  /**
   * serverless-offline asks for an instance, then sets its event and runs it: it gets a stand-in that admits
   * the request once its event is known, then runs it on an instance (serverless-offline calls only these
   * three methods).
   * @this {unknown} serverless-offline's pool
   * @param {string} functionKey
   * @param {unknown} functionDefinition
   */
  function get(functionKey, functionDefinition) {
    /** @type {unknown} */
    let event;
    /** @type {unknown} */
    let clientContext;
    const acquire = () => take(this, functionKey, functionDefinition);
    return {
      setEvent(/** @type {unknown} */ value) {
        event = value;
      },
      setClientContext(/** @type {unknown} */ value) {
        clientContext = value;
      },
      runHandler: () => counted(admitAndRun(functionKey, event, clientContext, acquire)),
    };
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
    /**
     * Retires the instances idle for `retireIdleAfterMs`, the longest idle first, keeping one per function:
     * their workers end, and a request that needs more instances again starts them cold, as Lambda does.
     */
    retireIdle() {
      if (!(retireIdleAfterMs > 0)) return 0;
      let retired = 0;
      for (const instances of instancesByKey.values()) {
        const idle = [...instances]
          .filter((instance) => statusOf(instance) === 'IDLE')
          .map((instance) => ({ instance, since: idleSince.get(instance) ?? now() }))
          .sort((a, b) => a.since - b.since);
        for (const { instance, since } of idle) {
          if (instances.size <= 1 || now() - since < retireIdleAfterMs) break;
          instances.delete(instance);
          resetRuntime(instance);
          retired++;
        }
      }
      if (retired > 0) lastWorkAt = now();
      return retired;
    },
    /** When the last request ended or an instance was last retired; undefined while a request is in flight. */
    quietSince() {
      return inFlight > 0 ? undefined : lastWorkAt;
    },
    /** How many instances each function has and how many requests wait: for tests and diagnostics. */
    stats() {
      return Object.fromEntries(
        [...instancesByKey].map(([key, instances]) => [
          key,
          { instances: instances.size, waiting: admissionOf(key).waiting.length },
        ]),
      );
    },
  };
  get.controls = controls;
  LambdaFunctionPool.prototype.get = get;
  if (retireIdleAfterMs > 0) {
    setInterval(() => controls.retireIdle(), Math.min(retireIdleAfterMs, 10_000)).unref();
  }
  return controls;

  /**
   * The stage's throttle and the function's reserved concurrency first, as deployed; then an instance, now
   * or after a wait in arrival order, bounded as deployed bounds the request.
   * @param {string} functionKey
   * @param {unknown} event
   * @param {unknown} clientContext
   * @param {() => Instance | undefined} acquire
   */
  async function admitAndRun(functionKey, event, clientContext, acquire) {
    const arrivedAt = now();
    const requestId = apiRequestIdOf(event);
    const method = requestId === undefined ? undefined : methodOf(event);
    if (method !== undefined && !stageThrottle.admits(method, arrivedAt)) {
      report(
        `stage ${method}`,
        (count) =>
          `${method}: throttled ${count} request(s) past the stage's ${stage.rateLimit}/s ` +
          `(burst ${stage.burstLimit}) in the last second, as deployed (apiRateLimit, apiBurstLimit)`,
      );
      return renderGatewayResponse(GATEWAY_RESPONSES.stageThrottled, String(requestId), 429);
    }
    const admission = admissionOf(functionKey);
    if (!admission.admits(arrivedAt)) {
      report(
        `throttled ${functionKey}`,
        (count) =>
          `${functionKey}: throttled ${count} request(s) past its reserved concurrency of ` +
          `${admission.reservedConcurrency} in the last second, as deployed (its function.yml)`,
      );
      if (requestId === undefined) throw new TooManyRequestsError(functionKey);
      return renderGatewayResponse(GATEWAY_RESPONSES.functionThrottled, requestId, 500);
    }
    const limits = limitsOf(functionKey);
    const integrationMs =
      requestId === undefined ? Number.POSITIVE_INFINITY : limits.integrationTimeoutMs(event);
    let instance = admission.waiting.length === 0 ? acquire() : undefined;
    if (!instance) {
      const waitBoundMs = Math.min(limits.timeoutMs, integrationMs);
      instance = await waitForInstance(admission, arrivedAt, arrivedAt + waitBoundMs, acquire);
      const waitedMs = now() - arrivedAt;
      if (!instance) {
        const past = integrationMs <= limits.timeoutMs ? 'its integration timeout' : 'its own timeout';
        warn(
          `${functionKey}: waited ${Math.round(waitedMs)} ms for a local instance, past ${past} ` +
            `(${Math.round(waitBoundMs)} ms); answered as deployed answers a request that outlives it`,
        );
        if (requestId === undefined)
          throw new Error(`[504] ${functionKey} outlived ${past} waiting for an instance`);
        return integrationMs <= limits.timeoutMs
          ? renderGatewayResponse(GATEWAY_RESPONSES.integrationTimeout, requestId, 504)
          : renderGatewayResponse(GATEWAY_RESPONSES.functionFailed, requestId, 502);
      }
      reportWait(functionKey, waitedMs);
    }
    if (clientContext !== undefined) instance.setClientContext(clientContext);
    instance.setEvent(event);
    const answer = instance.runHandler();
    if (requestId === undefined || !Number.isFinite(integrationMs)) return answer;
    // API Gateway stops waiting at its integration timeout; the function runs on, as it does deployed.
    const remainingMs = Math.max(0, arrivedAt + integrationMs - now());
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => {
        warn(
          `${functionKey}: no answer within the integration timeout (${integrationMs} ms); answered 504 (request ${requestId})`,
        );
        resolve(renderGatewayResponse(GATEWAY_RESPONSES.integrationTimeout, requestId, 504));
      }, remainingMs);
    });
    try {
      return await Promise.race([answer, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits in arrival order until an instance is free for this request, or until `deadline` (then undefined).
   * @param {FunctionAdmission<void>} admission
   * @param {number} arrivedAt
   * @param {number} deadline
   * @param {() => Instance | undefined} acquire
   * @returns {Promise<Instance | undefined>}
   */
  async function waitForInstance(admission, arrivedAt, deadline, acquire) {
    let place = /** @type {'back' | 'front'} */ ('back');
    for (;;) {
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      /** @type {() => void} */
      let leave = () => {};
      const woken = await new Promise((/** @type {(woken: boolean) => void} */ resolve) => {
        leave = admission.enqueue(arrivedAt, () => resolve(true), place);
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - now()));
      });
      clearTimeout(timer);
      if (!woken) {
        leave();
        return undefined;
      }
      const instance = acquire();
      if (instance) return instance;
      // Woken, but a request that found no queue took the instance first: wait again, at the front.
      place = 'front';
    }
  }

  /** @param {string} functionKey @param {number} waitedMs */
  function reportWait(functionKey, waitedMs) {
    const waits = waitsByKey.get(functionKey) ?? { count: 0, longestMs: 0 };
    waits.count++;
    waits.longestMs = Math.max(waits.longestMs, waitedMs);
    waitsByKey.set(functionKey, waits);
    report(`waited ${functionKey}`, () => {
      waitsByKey.delete(functionKey);
      return (
        `${functionKey}: ${waits.count} request(s) waited for one of its ${instanceCapOf(functionKey)} local ` +
        `instances in the last second, the longest ${Math.round(waits.longestMs)} ms ` +
        `(${admissionOf(functionKey).waiting.length} waiting now): this machine's limit, not a deployed one ` +
        '(OFFLINE_MAX_INSTANCES)'
      );
    });
  }
}

/**
 * A reporter of events at most once a second per subject: the first event of a second schedules the line, the
 * ones after it are counted into it.
 * @param {(line: string) => void} warn
 */
function onceASecond(warn) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  /**
   * @param {string} subject
   * @param {(count: number) => string} lineAtTheEnd called once the second is over with the events' count
   */
  return (subject, lineAtTheEnd) => {
    const count = counts.get(subject) ?? 0;
    counts.set(subject, count + 1);
    if (count > 0) return;
    setTimeout(() => {
      const total = counts.get(subject) ?? 1;
      counts.delete(subject);
      warn(lineAtTheEnd(total));
    }, REPORT_EVERY_MS).unref();
  };
}

/**
 * The method an API event is for, as the stage's throttle counts it: "POST /api/order".
 * @param {unknown} event
 */
function methodOf(event) {
  const { httpMethod, resource, requestContext } =
    /** @type {{ httpMethod?: string, resource?: string, requestContext?: { resourcePath?: string } }} */ (
      event
    );
  return `${httpMethod} ${resource ?? requestContext?.resourcePath ?? ''}`;
}

/** @param {unknown} error */
function errorMessageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

module.exports = { patchLambdaPool, TooManyRequestsError };
