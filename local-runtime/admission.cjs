'use strict';
/**
 * Who may run offline, decided by the limits the deployed stack has, not by what a laptop can do:
 * - the stage's throttle, a token bucket per method (API Gateway applies a stage's default method throttling to
 *   each method on its own), refilled at `rateLimit` per second up to `burstLimit`;
 * - a function's reserved concurrency: past it, Lambda throttles at once.
 * Within both, a request waits for one of the function's few local instances, in arrival order. That wait is
 * the laptop's, so it never throttles by itself: only the terminal says so (the pool's waiting line).
 *
 * Pure bookkeeping, driven by the pool (instance-pool.cjs) with the time passed in.
 */

/** How much each finished invocation moves a function's typical duration (an exponential moving average). */
const DURATION_WEIGHT = 0.2;

/** API Gateway's token bucket: `burst` tokens to start with, `rate` more per second, one per request. */
class TokenBucket {
  /**
   * @param {number} rate tokens per second
   * @param {number} burst the bucket's size
   * @param {number} now ms
   */
  constructor(rate, burst, now) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Takes a token if there is one. @param {number} now ms */
  take(now) {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The stage's throttle: one token bucket per method (`POST /api/order`), as the deployed stage sets it. */
class StageThrottle {
  /** @type {Map<string, TokenBucket>} */
  #buckets = new Map();

  /** @param {{ rateLimit: number, burstLimit: number }} limits */
  constructor({ rateLimit, burstLimit }) {
    this.rateLimit = rateLimit;
    this.burstLimit = burstLimit;
  }

  /**
   * @param {string} method e.g. "POST /api/order"
   * @param {number} now ms
   */
  admits(method, now) {
    if (!(this.rateLimit > 0)) return true;
    let bucket = this.#buckets.get(method);
    if (!bucket) {
      bucket = new TokenBucket(this.rateLimit, this.burstLimit, now);
      this.#buckets.set(method, bucket);
    }
    return bucket.take(now);
  }
}

/**
 * One function's admission: what runs on its local instances, what waits for one (oldest first), and whether
 * one more request is past its reserved concurrency.
 *
 * Deployed, a request waiting here would already be running, in a sandbox of its own, for about as long as the
 * function takes. So a waiting request counts toward the reserved concurrency until it has waited the
 * function's typical duration (before any invocation has finished, for as long as it waits); past that,
 * deployed would have answered it, and what is left of its wait is the laptop's. A burst from more clients
 * than the reserved concurrency is throttled here as deployed; a steady rate this machine cannot keep up with
 * only waits.
 * @template T what a waiting request is woken with
 */
class FunctionAdmission {
  /** Requests on a local instance now. */
  running = 0;
  /** @type {Array<{ arrivedAt: number, wake: (value: T) => void }>} oldest first */
  waiting = [];
  /** @type {number | undefined} ms, once an invocation has finished */
  typicalDurationMs;

  /** @param {{ reservedConcurrency?: number }} limits */
  constructor({ reservedConcurrency }) {
    this.reservedConcurrency = reservedConcurrency ?? Number.POSITIVE_INFINITY;
  }

  /** How many of this function's requests deployed would be running at `now`. @param {number} now ms */
  concurrencyAsDeployed(now) {
    const typical = this.typicalDurationMs;
    const counted =
      typical === undefined
        ? this.waiting.length
        : this.waiting.filter((request) => now - request.arrivedAt < typical).length;
    return this.running + counted;
  }

  /** Whether one more request is within the reserved concurrency. @param {number} now ms */
  admits(now) {
    return this.concurrencyAsDeployed(now) < this.reservedConcurrency;
  }

  /**
   * Queues a request; `wake` is called when an instance is free for it (wakeNext). Answers how to leave the
   * queue. A request woken that lost its instance to another comes back at the front.
   * @param {number} arrivedAt
   * @param {(value: T) => void} wake
   * @param {'back' | 'front'} [place]
   */
  enqueue(arrivedAt, wake, place = 'back') {
    const entry = { arrivedAt, wake };
    if (place === 'back') this.waiting.push(entry);
    else this.waiting.unshift(entry);
    return () => {
      const index = this.waiting.indexOf(entry);
      if (index >= 0) this.waiting.splice(index, 1);
    };
  }

  /** Wakes the oldest waiting request, if any. @param {T} [value] */
  wakeNext(value) {
    this.waiting.shift()?.wake(/** @type {T} */ (value));
  }

  started() {
    this.running++;
  }

  /** @param {number} durationMs how long the invocation ran on its instance */
  finished(durationMs) {
    this.running = Math.max(0, this.running - 1);
    this.typicalDurationMs =
      this.typicalDurationMs === undefined
        ? durationMs
        : this.typicalDurationMs + DURATION_WEIGHT * (durationMs - this.typicalDurationMs);
  }
}

module.exports = { TokenBucket, StageThrottle, FunctionAdmission };
