import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long to wait before retry number `attempt` (1, 2, …), by what is being waited for. The one place the
 * project's backoff is written.
 */
export const BACKOFF = {
  /** Another invocation's work to finish (a duplicate in progress, a release to land): 25 ms more each time, ≤ 250 ms. */
  peer: (attempt: number) => Math.min(25 * attempt, 250),
  /**
   * A transaction that lost a conflict on a hot item: exponential with full jitter (up to 20, 40, … 320 ms), so
   * the losers of one conflict do not collide again in step.
   */
  conflict: (attempt: number, random: () => number = Math.random) =>
    random() * 10 * 2 ** Math.min(attempt, 5),
} as const;

/** Waits the backoff of `kind` before retry `attempt`. */
export function backOff(kind: keyof typeof BACKOFF, attempt: number): Promise<void> {
  return sleep(BACKOFF[kind](attempt));
}
