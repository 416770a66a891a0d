/** The bench's results: latencies pooled per mode and level, the table, and the JSON summary line. */
import os from 'node:os';
import type { ColdStartResults } from './cold';
import { type DeployedResults, FLUSH_VARIANTS } from './deployed';
import type { measureDrift } from './load';
import type { measureSpanCosts } from './spans';
import { percentile } from './stats';
import { MODE_NAMES, type Mode } from './targets';

export interface LevelResult {
  mode: Mode;
  concurrency: number;
  requests: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  throughput: number;
}

/** Latencies of one mode at one concurrency, pooled over the rounds. */
export interface PooledLevel {
  latencies: number[];
  errors: number;
  seconds: number;
}

/** Each mode's levels, from the pooled samples keyed "mode@concurrency". */
export function levelResults(
  samples: Map<string, PooledLevel>,
  modes: Mode[],
  concurrency: number[],
): LevelResult[] {
  const results: LevelResult[] = [];
  for (const mode of modes) {
    for (const level of concurrency) {
      const pooled = samples.get(`${mode}@${level}`);
      if (!pooled) continue;
      const sorted = [...pooled.latencies].sort((x, y) => x - y);
      results.push({
        mode,
        concurrency: level,
        requests: sorted.length,
        errors: pooled.errors,
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p99: percentile(sorted, 0.99),
        throughput: sorted.length / pooled.seconds,
      });
    }
  }
  return results;
}

export type Drift = Awaited<ReturnType<typeof measureDrift>>;

/** The offline process's memory, per Lambda instance (main.ts's memoryPerInstance). */
export interface InstanceMemory {
  instances: number;
  rssPerInstanceMb: number;
  /** Median over the instances of each one's own heap + external memory. */
  instanceMb: number;
}

/** What the bench measures besides the levels: each part is absent when it was not run. */
export interface Extras {
  deployed?: DeployedResults;
  drift?: Drift;
  spanCosts?: Awaited<ReturnType<typeof measureSpanCosts>>;
  coldStarts?: ColdStartResults;
  memoryPerInstance?: Partial<Record<Mode, InstanceMemory>>;
  spansPerOrder?: number;
}

/** The JSON summary: the ratios between modes at each concurrency, the errors, and the memory drift. */
export function summary(
  results: LevelResult[],
  run: { concurrency: number[]; requests: number; rounds: number },
  extras: Extras,
) {
  const { drift } = extras;
  const level = (mode: Mode, concurrency: number) =>
    results.find((result) => result.mode === mode && result.concurrency === concurrency);
  const ratio = (top: Mode, bottom: Mode, concurrency: number) => {
    const x = level(top, concurrency);
    const y = level(bottom, concurrency);
    return x && y ? { p50: round(x.p50 / y.p50), p99: round(x.p99 / y.p99) } : undefined;
  };
  const ratios = (concurrency: number) => ({
    'b/a': ratio('b', 'a', concurrency),
    'c/b': ratio('c', 'b', concurrency),
    'd/b': ratio('d', 'b', concurrency),
  });
  const headline = run.concurrency[0] ?? 1;
  return {
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    requests_per_level: run.requests * run.rounds,
    rounds: run.rounds,
    concurrency: headline,
    ratios: ratios(headline),
    ratios_by_concurrency: Object.fromEntries(run.concurrency.map((c) => [c, ratios(c)])),
    errors: Object.fromEntries(results.map((r) => [`${r.mode}@c${r.concurrency}`, r.errors])),
    spans_per_order: extras.spansPerOrder ?? null,
    per_span_cost: extras.spanCosts
      ? {
          per_order_us: extras.spanCosts.perOrderUs,
          per_span_us: extras.spanCosts.perSpanUs,
          added_us: Object.fromEntries(
            Object.entries(extras.spanCosts.cases).map(([k, v]) => [k, v.addedUs]),
          ),
        }
      : null,
    cold_start_ms: extras.coldStarts
      ? Object.fromEntries(
          Object.entries(extras.coldStarts).map(([key, { untraced, traced }]) => [
            key,
            {
              untraced: round(untraced.totalMs),
              traced: round(traced.totalMs),
              added: round(traced.totalMs - untraced.totalMs),
            },
          ]),
        )
      : null,
    memory_per_instance_mb: {
      ...Object.fromEntries(
        Object.entries(extras.memoryPerInstance ?? {}).map(([mode, memory]) => [
          mode,
          {
            instances: memory.instances,
            rss_per_instance: round(memory.rssPerInstanceMb),
            own: round(memory.instanceMb),
          },
        ]),
      ),
      ...(extras.coldStarts
        ? {
            floor_instance_own: Object.fromEntries(
              Object.entries(extras.coldStarts).map(([key, f]) => [
                key,
                { untraced: round(f.untraced.instanceMb), traced: round(f.traced.instanceMb) },
              ]),
            ),
          }
        : {}),
    },
    deployed: extras.deployed
      ? {
          zip_kb: extras.deployed.zipKb,
          cold_start_ms: Object.fromEntries(
            Object.entries(extras.deployed.coldStart).map(([service, cold]) => [
              service,
              {
                untraced: round(cold.untraced.totalMs),
                traced: round(cold.traced.totalMs),
                added: round(cold.addedMs),
                init: { untraced: round(cold.untraced.initMs), traced: round(cold.traced.initMs) },
                first_invocation: {
                  untraced: round(cold.untraced.firstInvocationMs),
                  traced: round(cold.traced.firstInvocationMs),
                },
                without_compile_cache: {
                  untraced: round(cold.untraced_no_cache.totalMs),
                  traced: round(cold.traced_no_cache.totalMs),
                  init: {
                    untraced: round(cold.untraced_no_cache.initMs),
                    traced: round(cold.traced_no_cache.initMs),
                  },
                },
                compile_cache_saves: roundAll(cold.cacheSavesMs),
              },
            ]),
          ),
          flush: {
            receiver_delay_ms: extras.deployed.flush.delayMs,
            order_ms: roundAll(extras.deployed.flush.orderMs),
            billed_ms: roundAll(extras.deployed.flush.billedMs),
            invocation_ms: Object.fromEntries(
              Object.entries(extras.deployed.flush.invocationMs).map(([service, ms]) => [
                service,
                roundAll(ms),
              ]),
            ),
          },
        }
      : null,
    memory_drift: drift
      ? {
          orders: drift.orders,
          samples: drift.points.length,
          slope_pct_per_10k_orders: round(drift.slopePctPer10k),
          slope_95ci: drift.slopeInterval.map(round),
          within_noise: drift.slopeInterval[0] <= 0 && drift.slopeInterval[1] >= 0,
          rss_mb_samples: drift.points.map((point) => Math.round(point.rssMb)),
        }
      : null,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function roundAll<K extends string>(values: Record<K, number>): Record<K, number> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, round(value as number)]),
  ) as Record<K, number>;
}

export function printTable(
  results: LevelResult[],
  memory: Record<string, { before: number; after: number }>,
): void {
  const header = [
    'mode',
    'conc',
    'requests',
    'errors',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'req/s',
    'RSS MB before→after',
  ];
  const rows = results.map((r) => [
    `(${r.mode}) ${MODE_NAMES[r.mode]}`,
    String(r.concurrency),
    String(r.requests),
    String(r.errors),
    r.p50.toFixed(1),
    r.p90.toFixed(1),
    r.p99.toFixed(1),
    r.throughput.toFixed(1),
    memory[r.mode] ? `${memory[r.mode]?.before.toFixed(0)}→${memory[r.mode]?.after.toFixed(0)}` : '',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** The figures besides the levels, one line each, against their goals (BENCHMARKS.md). */
export function printExtras(extras: Extras): void {
  const { spanCosts, coldStarts, memoryPerInstance, drift, spansPerOrder } = extras;
  if (spansPerOrder !== undefined) console.log(`spans per order in (c): ${spansPerOrder.toFixed(1)}`);
  if (spanCosts) {
    console.log(
      `per-span cost: ${spanCosts.perSpanUs} µs per span, ${spanCosts.perOrderUs} µs per order (tracing on minus off):`,
    );
    for (const [name, cost] of Object.entries(spanCosts.cases)) {
      console.log(`  ${name.padEnd(12)} off ${cost.offUs} µs, on ${cost.onUs} µs, added ${cost.addedUs} µs`);
    }
  }
  if (coldStarts) {
    console.log(
      'cold start, new instance to first response, ms (median; boot+preload / handler load / first call):',
    );
    for (const [key, { untraced, traced }] of Object.entries(coldStarts)) {
      const phases = (f: typeof untraced) =>
        `${f.totalMs.toFixed(0)} (${f.bootMs.toFixed(0)}/${f.loadMs.toFixed(0)}/${f.firstInvokeMs.toFixed(0)})`;
      console.log(
        `  ${key.padEnd(11)} untraced ${phases(untraced)}, traced ${phases(traced)}, tracing adds ${(traced.totalMs - untraced.totalMs).toFixed(0)} ms; instance memory ${untraced.instanceMb.toFixed(1)} / ${traced.instanceMb.toFixed(1)} MB`,
      );
    }
  }
  for (const [mode, memory] of Object.entries(memoryPerInstance ?? {})) {
    console.log(
      `memory per instance (${mode}): ${memory.instances} instances, RSS ${memory.rssPerInstanceMb.toFixed(1)} MB per instance, each instance's own heap+external ${memory.instanceMb.toFixed(1)} MB (median)`,
    );
  }
  if (extras.deployed) printDeployed(extras.deployed);
  if (drift) {
    const [low, high] = drift.slopeInterval;
    console.log(
      `memory drift over ${drift.orders} orders (${drift.points.length} samples): ${drift.slopePctPer10k.toFixed(2)}% per 10,000 orders, 95% interval ${low.toFixed(2)} to ${high.toFixed(2)}`,
    );
  }
}

/** The deployed artifact's figures: each zip, each cold start traced against untraced, the flush per order. */
function printDeployed({ zipKb, coldStart, flush }: DeployedResults): void {
  console.log(
    'deployed cold start, process start to first answer, ms (median; init + first invocation), zip KB:',
  );
  for (const [service, cold] of Object.entries(coldStart)) {
    const phases = (f: typeof cold.untraced) =>
      `${f.totalMs.toFixed(0)} (${f.initMs.toFixed(0)} + ${f.firstInvocationMs.toFixed(0)})`;
    console.log(
      `  ${service.padEnd(17)} untraced ${phases(cold.untraced)}, traced ${phases(cold.traced)}, telemetry adds ${cold.addedMs.toFixed(0)} ms; without the compile cache ${phases(cold.untraced_no_cache)} / ${phases(cold.traced_no_cache)}; zip ${zipKb[service]} KB`,
    );
  }
  const { orderMs, billedMs, delayMs } = flush;
  const ratio = (variant: keyof typeof orderMs) => (orderMs[variant] / orderMs.untraced).toFixed(2);
  console.log(
    `deployed, one order (median ms at the client, billed): untraced ${orderMs.untraced.toFixed(1)} (${billedMs.untraced.toFixed(0)})`,
  );
  for (const variant of FLUSH_VARIANTS.slice(1)) {
    console.log(
      `  ${variant.padEnd(18)} ${orderMs[variant].toFixed(1)} ms (×${ratio(variant)}), billed ${billedMs[variant].toFixed(0)} ms${variant.endsWith('far') ? `; receiver ${delayMs} ms away` : ''}`,
    );
  }
  for (const [service, ms] of Object.entries(flush.invocationMs)) {
    console.log(
      `  ${service.padEnd(17)} warm invocation to its answer, ms: ${FLUSH_VARIANTS.map((variant) => `${variant} ${ms[variant].toFixed(0)}`).join(', ')}`,
    );
  }
}
