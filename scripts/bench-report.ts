/** The bench's results: latencies pooled per mode and level, the table, and the JSON summary line. */
import os from 'node:os';
import { percentile } from './bench-load';
import { MODE_NAMES, type Mode } from './bench-targets';

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

export interface Drift {
  orders: number;
  before: number;
  after: number;
  pct: number;
  samples: number[];
}

/** The JSON summary: the ratios between modes at each concurrency, the errors, and the memory drift. */
export function summary(
  results: LevelResult[],
  run: { concurrency: number[]; requests: number; rounds: number },
  drift: Drift | undefined,
) {
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
    memory_drift: drift
      ? {
          orders: drift.orders,
          pct: round(drift.pct),
          before_mb: round(drift.before),
          after_mb: round(drift.after),
          rss_mb_samples: drift.samples,
        }
      : null,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
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
