import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import * as z from 'zod';
import { commonSettings, readSettings } from '../config/settings';
import { DomainError } from '../contracts/errors';
import { currentInvocation, type Invocation } from '../runtime/invocation';
import { randomSource } from '../runtime/random';
import { flushTelemetry } from '../telemetry/api';
import { logger } from '../telemetry/logger';

/**
 * Fault injection, like the seed's chaos monkey, configured for all functions in one variable:
 *   CHAOS="inventory:failure=0.2,latency=10-50;fraud:latency=30000"
 * `failure` is a probability; `latency` a fixed or ranged delay in ms; `point` is where a failure
 * strikes: `before` the work, `after` it (the work is done but the caller sees an error), or `either`.
 * `crash` is the probability that the instance dies abruptly (the process exits, as on an out-of-memory
 * kill) at one of the `crash_at` points, e.g. "order:crash=0.1,crash_at=reserved|authorized".
 * With CHAOS_SEED set, every instance draws the same sequence, so tests can rely on it.
 */
export interface ChaosSettings {
  failureRate: number;
  latencyMs: [number, number];
  point: 'before' | 'after' | 'either';
  crashRate: number;
  crashPoints: CrashPoint[];
}

/**
 * Where a function can be made to die mid-saga: the order function once inventory has reserved, once
 * payment has authorized, or once the order is recorded COMPLETED but its stock not yet committed;
 * inventory once the warehouse has reserved.
 */
export const CRASH_POINTS = [
  'reserved',
  'authorized',
  'completed',
  'warehouse_reserved',
  'stock_committed',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const NO_CHAOS: ChaosSettings = {
  failureRate: 0,
  latencyMs: [0, 0],
  point: 'either',
  crashRate: 0,
  crashPoints: [],
};

const settingSchema = z.strictObject({
  failure: z.coerce.number().min(0).max(1).optional(),
  latency: z
    .string()
    .regex(/^\d+(-\d+)?$/, 'latency is "ms" or "min-max"')
    .optional(),
  point: z.enum(['before', 'after', 'either']).optional(),
  crash: z.coerce.number().min(0).max(1).optional(),
  crash_at: z
    .string()
    .transform((value) => value.split('|'))
    .pipe(z.array(z.enum(CRASH_POINTS, `crash_at is one or more of ${CRASH_POINTS.join('|')}`)))
    .optional(),
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
    const crashRate = parsed.data.crash ?? 0;
    if (crashRate > 0 && !parsed.data.crash_at)
      throw new Error(`Invalid CHAOS entry for ${target}: crash needs crash_at (${CRASH_POINTS.join('|')})`);
    return {
      failureRate: parsed.data.failure ?? 0,
      latencyMs: [low, Math.max(low, high)],
      point: parsed.data.point ?? 'either',
      crashRate,
      crashPoints: parsed.data.crash_at ?? [],
    };
  }
  return NO_CHAOS;
}

export interface ChaosPlan {
  delayMs: number;
  failAt?: 'before' | 'after';
  crashAt?: CrashPoint;
}

export class ChaosMonkey {
  /**
   * Crashes draw from their own sequence, offset by the thread: a crashed instance is replaced by a fresh
   * one, which would otherwise replay the same first draws and crash the same way for ever.
   */
  constructor(
    private readonly settings: ChaosSettings,
    private readonly random: () => number,
    private readonly crashRandom: () => number = random,
  ) {}

  get enabled(): boolean {
    return this.settings.failureRate > 0 || this.settings.latencyMs[1] > 0 || this.settings.crashRate > 0;
  }

  /** Decides this invocation's fate up front, so latency and failure draws stay in a fixed order. */
  plan(): ChaosPlan {
    const [low, high] = this.settings.latencyMs;
    const delayMs = low + Math.floor(this.random() * (high - low + 1));
    const crashAt = this.drawCrashPoint();
    if (this.random() >= this.settings.failureRate) return { delayMs, ...(crashAt ? { crashAt } : {}) };
    const point = this.settings.point;
    const failAt = point === 'either' ? (this.random() < 0.5 ? 'before' : 'after') : point;
    return { delayMs, failAt, ...(crashAt ? { crashAt } : {}) };
  }

  private drawCrashPoint(): CrashPoint | undefined {
    const { crashRate, crashPoints } = this.settings;
    if (crashRate === 0 || this.crashRandom() >= crashRate) return undefined;
    return crashPoints[Math.floor(this.crashRandom() * crashPoints.length)];
  }

  /**
   * This function's chaos: CHAOS's entry for its service name without "-service" (the folder's name for the
   * order path: `inventory:`; `stock-committer:` for the stream's consumer).
   */
  static ofThisFunction(): ChaosMonkey {
    const env = readSettings(['CHAOS', 'CHAOS_SEED']);
    return ChaosMonkey.forFunction(
      env.CHAOS,
      commonSettings().OTEL_SERVICE_NAME.replace(/-service$/, ''),
      env.CHAOS_SEED,
    );
  }

  /** The instance's chaos: from CHAOS for `target`, seeded by CHAOS_SEED when it is not negative. */
  static forFunction(spec: string, target: string, seed: number): ChaosMonkey {
    const seeded = seed >= 0;
    return new ChaosMonkey(
      parseChaos(spec, target),
      randomSource(seeded ? seed : undefined),
      randomSource(seeded ? (seed ^ Math.imul(threadId + 1, 0x9e3779b9)) >>> 0 : undefined),
    );
  }

  static async delay(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms);
  }

  static failure(): DomainError {
    return new DomainError('internal', 'Injected failure (chaos)');
  }
}

/** Where each invocation in progress dies, if chaos planned it to: kept here, not on the invocation. */
const plannedCrashes = new WeakMap<Invocation, CrashPoint>();

/** Records that the invocation in progress ends its instance at `point` (see crashPoint). */
export function armCrash(point: CrashPoint | undefined): void {
  const invocation = currentInvocation();
  if (invocation && point) plannedCrashes.set(invocation, point);
}

/**
 * A point in a saga where chaos may end the instance. Locally the worker thread exits, and the emulated
 * Lambda answers its caller as Lambda does when a runtime exits; deployed, the sandbox is replaced.
 * Telemetry already recorded is flushed first: on Lambda each earlier invocation flushed at its own end,
 * which offline batching would otherwise lose with the thread. The dying invocation's open spans are lost.
 */
export async function crashPoint(point: CrashPoint): Promise<void> {
  const invocation = currentInvocation();
  if (!invocation || plannedCrashes.get(invocation) !== point) return;
  logger.fatal({ crash_point: point }, `chaos: ending this instance at "${point}"`);
  await flushTelemetry(1_000);
  process.exit(137);
}
