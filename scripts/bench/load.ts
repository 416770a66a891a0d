/** The bench's load: orders sent at a fixed concurrency, their latencies, and the RSS of the process under test. */
import { readFileSync } from 'node:fs';
import { orderBody, placeOrder } from '../lib/orders';
import { growthPer10k } from './stats';
import type { Target } from './targets';

/** One unit of the bench's own item (seeded by the bench), serialized once. */
export const ORDER = JSON.stringify(orderBody('bench'));

/** Resident memory of a process (all its threads), in MB; Linux only. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

export async function order(url: string): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  try {
    const placed = await placeOrder(url, ORDER);
    return { ok: placed.status === 201, ms: placed.ms };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

export async function drive(
  url: string,
  total: number,
  concurrency: number,
  label: string,
): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let started = 0;
  const began = performance.now();
  const progress = setInterval(() => {
    process.stderr.write(`  ${label}: ${latencies.length}/${total}${errors ? `, ${errors} errors` : ''}\n`);
  }, 5_000);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        const result = await order(url);
        latencies.push(result.ms);
        if (!result.ok) errors++;
      }
    }),
  );
  clearInterval(progress);
  return { latencies, errors, seconds: (performance.now() - began) / 1000 };
}

/** How many RSS samples the drift fit takes, at most: one every orders/DRIFT_SAMPLES orders. */
export const DRIFT_SAMPLES = 20;

/**
 * RSS of the offline process over `orders` orders at concurrency 8, sampled DRIFT_SAMPLES times (and before),
 * with a least-squares line through the samples: its slope, per 10,000 orders, as a share of the starting RSS,
 * and the slope's 95% interval. A slope whose interval includes 0 is no growth beyond noise.
 */
export async function measureDrift(target: Target, orders: number, restock: () => Promise<void>) {
  await restock();
  const points: Array<{ orders: number; rssMb: number }> = [{ orders: 0, rssMb: rssMb(target.pid) }];
  const step = Math.max(1, Math.ceil(orders / DRIFT_SAMPLES));
  for (let sent = 0; sent < orders; sent += step) {
    const batch = Math.min(step, orders - sent);
    await drive(target.url, batch, 8, `(c) memory drift, orders ${sent + 1}-${sent + batch} of ${orders}`);
    points.push({ orders: sent + batch, rssMb: rssMb(target.pid) });
  }
  const growth = growthPer10k(points.map((point) => [point.orders, point.rssMb] as const));
  return { orders, points, slopePctPer10k: growth.pct, slopeInterval: growth.interval };
}
