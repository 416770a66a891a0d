import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DomainError } from './errors';

/**
 * Fault injection, like the seed's chaos monkey, configured for all functions in one variable:
 *   CHAOS="inventory:failure=0.2,latency=10-50;fraud:latency=30000"
 * `failure` is a probability; `latency` a fixed or ranged delay in ms; `point` is where a failure
 * strikes: `before` the work, `after` it (the work is done but the caller sees an error), or `either`.
 * With CHAOS_SEED set, every instance draws the same sequence, so tests can rely on it.
 */
export interface ChaosSettings {
  failureRate: number;
  latencyMs: [number, number];
  point: 'before' | 'after' | 'either';
}

const NO_CHAOS: ChaosSettings = { failureRate: 0, latencyMs: [0, 0], point: 'either' };

const settingSchema = z.strictObject({
  failure: z.coerce.number().min(0).max(1).optional(),
  latency: z
    .string()
    .regex(/^\d+(-\d+)?$/, 'latency is "ms" or "min-max"')
    .optional(),
  point: z.enum(['before', 'after', 'either']).optional(),
});

export function parseChaos(spec: string, target: string): ChaosSettings {
  for (const entry of spec.split(';')) {
    const [name, settings = ''] = entry.split(':', 2);
    if (name?.trim() !== target) continue;
    const pairs = Object.fromEntries(
      settings
        .split(',')
        .filter((pair) => pair.includes('='))
        .map((pair) => pair.split('=', 2).map((part) => part.trim())),
    );
    const parsed = settingSchema.safeParse(pairs);
    if (!parsed.success)
      throw new Error(`Invalid CHAOS entry for ${target}: ${parsed.error.issues[0]?.message}`);
    const [low = 0, high = low] = (parsed.data.latency ?? '0').split('-').map(Number);
    return {
      failureRate: parsed.data.failure ?? 0,
      latencyMs: [low, Math.max(low, high)],
      point: parsed.data.point ?? 'either',
    };
  }
  return NO_CHAOS;
}

/** mulberry32: a small, fast, seedable generator; Math.random when no seed is given. */
export function randomSource(seed?: number): () => number {
  if (seed === undefined) return Math.random;
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ChaosMonkey {
  constructor(
    private readonly settings: ChaosSettings,
    private readonly random: () => number,
  ) {}

  get enabled(): boolean {
    return this.settings.failureRate > 0 || this.settings.latencyMs[1] > 0;
  }

  /** Decides this invocation's fate up front, so latency and failure draws stay in a fixed order. */
  plan(): { delayMs: number; failAt?: 'before' | 'after' } {
    const [low, high] = this.settings.latencyMs;
    const delayMs = low + Math.floor(this.random() * (high - low + 1));
    if (this.random() >= this.settings.failureRate) return { delayMs };
    const point = this.settings.point;
    const failAt = point === 'either' ? (this.random() < 0.5 ? 'before' : 'after') : point;
    return { delayMs, failAt };
  }

  static async delay(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms);
  }

  static failure(): DomainError {
    return new DomainError('internal', 'Injected failure (chaos)');
  }
}
