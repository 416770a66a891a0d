import { setTimeout as pause } from 'node:timers/promises';

export interface EventuallyOptions {
  /** What is awaited, in words: "a SERVER span from each of the six services". */
  what: string;
  /** Renders the state the last probe saw, for the failure message. */
  seen?: () => string;
  /** A reason to stop waiting at once (e.g. the process that should get there has exited). */
  giveUpIf?: () => string | undefined;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined, and returns that. The only way a test or a
 * benchmark waits: for an exact condition, with a deadline and a failure that says what was awaited and what
 * was seen.
 * A probe that throws keeps being polled; its last error is reported if the deadline passes.
 */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  { what, seen, giveUpIf, timeoutMs = 20_000, intervalMs = 100 }: EventuallyOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    const giveUp = giveUpIf?.();
    if (giveUp !== undefined || Date.now() > deadline) {
      const reason = giveUp ?? `timed out after ${timeoutMs} ms`;
      const detail = lastError instanceof Error ? `\nlast probe failed: ${lastError.message}` : '';
      throw new Error(`${reason} waiting for ${what}${detail}\nseen:\n${seen?.() ?? '(nothing)'}`);
    }
    await pause(intervalMs);
  }
}
