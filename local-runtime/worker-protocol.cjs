'use strict';
/**
 * How the local runtime talks to a Lambda instance (lambda-worker.mjs, one worker thread): one request in,
 * one answer out, matched by id, on the worker's own channel. serverless-offline's instances
 * (instance-workers.cjs) and the benchmark's floor (scripts/bench/floor-server.ts) both speak it through
 * InstanceChannel, so there is one protocol and one implementation of it.
 */

/**
 * An error as data: a structured clone keeps the name of built-in errors only.
 * @typedef {{ errorType: string, errorMessage: string, stack?: string }} ErrorMessage
 */
/**
 * What an instance is asked: to run an invocation, to run its init phase only (prewarm), or for its memory.
 * @typedef {{ event: unknown, context: Record<string, unknown> } | { prewarm: true } | { memoryUsage: true }} Request
 */
/**
 * Like Lambda's REPORT line: the invocation's duration and, for an instance's first, its init phase (loading
 * the handler) and when the instance's script started (epoch ms, for the boot time before it).
 * @typedef {{ durationMs: number, initDurationMs?: number, instanceStartedAt?: number }} Report
 */
/** @typedef {{ id: number, result?: unknown, error?: ErrorMessage, report?: Report }} Answer */

/**
 * Sent through the Lambda invoke API to start an instance. The worker loads the handler (the init phase, as
 * provisioned concurrency runs it) and answers without invoking it, so no span or log line is made.
 */
const PREWARM_EVENT = { localRuntime: 'prewarm' };
/** @param {unknown} event */
const isPrewarm = (event) =>
  /** @type {{ localRuntime?: unknown } | undefined} */ (event)?.localRuntime === PREWARM_EVENT.localRuntime;

/** What Lambda reports when a function's runtime process dies mid-invocation. */
class RuntimeExitError extends Error {
  /** @param {number} code */
  constructor(code) {
    super(`Runtime exited with error: exit status ${code}`);
    this.name = 'Runtime.ExitError';
  }
}
const RUNTIME_EXITED = /^Runtime exited with error/;

/**
 * @param {unknown} error
 * @returns {ErrorMessage}
 */
function errorMessageOf(error) {
  return error instanceof Error
    ? { errorType: error.name, errorMessage: error.message, ...(error.stack ? { stack: error.stack } : {}) }
    : { errorType: 'Error', errorMessage: String(error) };
}

/**
 * An instance's error rebuilt with its type as the constructor's name: serverless-offline reports `errorType`
 * from the constructor, as Lambda reports it (e.g. Runtime.CallbackHandlerDeprecated).
 * @param {ErrorMessage} message
 */
function errorFromMessage({ errorType, errorMessage, stack }) {
  const ErrorOfType = { [errorType]: class extends Error {} }[errorType] ?? Error;
  const error = new ErrorOfType(errorMessage);
  error.name = errorType;
  if (stack) error.stack = stack;
  return error;
}

/** The local runtime's end of one instance's channel. */
class InstanceChannel {
  /** @type {Map<number, { resolve: (answer: Answer) => void, reject: (error: Error) => void }>} */
  #pending = new Map();
  #nextId = 0;
  /** @type {(message: { id: number } & Request) => void} */
  #post;

  /**
   * @param {import('node:worker_threads').Worker} worker
   * @param {(message: { id: number } & Request) => void} [post] how to send (a subclass of Worker passes its
   *   parent's postMessage)
   */
  constructor(worker, post = (message) => worker.postMessage(message)) {
    this.#post = post;
    worker.on('message', (/** @type {Answer} */ answer) => {
      const pending = this.#pending.get(answer?.id);
      this.#pending.delete(answer?.id);
      pending?.resolve(answer);
    });
    // Every question still open is answered as Lambda answers the invocations of a runtime that died.
    worker.on('exit', (code) => {
      for (const { reject } of this.#pending.values()) reject(new RuntimeExitError(code));
      this.#pending.clear();
    });
  }

  /**
   * @param {Request} request
   * @returns {Promise<Answer>}
   */
  ask(request) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      this.#post({ id, ...request });
    });
  }

  /**
   * An invocation's result, or its error rebuilt (see errorFromMessage).
   * @param {unknown} event
   * @param {Record<string, unknown>} context
   */
  async invoke(event, context) {
    const answer = await this.ask({ event, context });
    if (answer.error) throw errorFromMessage(answer.error);
    return answer.result;
  }
}

module.exports = {
  PREWARM_EVENT,
  isPrewarm,
  RuntimeExitError,
  RUNTIME_EXITED,
  errorMessageOf,
  errorFromMessage,
  InstanceChannel,
};
