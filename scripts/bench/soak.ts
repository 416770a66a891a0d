/**
 * `npm run bench:soak`: a long run of orders through serverless-offline, to tell memory growth from V8's
 * sawtooth. After each interval it asks the local runtime for its memory report and records the process's RSS,
 * the heap used by its main thread and by its Lambda instances (and, with --gc, the same after a forced full
 * collection: what is still reachable), then fits a line through each series: its slope per 10,000 orders,
 * as a share of where the line starts, with the slope's 95% interval. The quick bench keeps its own drift run.
 *
 * Options:
 *   --orders N          orders in all (50,000)
 *   --samples N         intervals, each followed by a sample (25)
 *   --concurrency N     orders in flight (8)
 *   --tracing on|off    traces and logs to local receivers, or telemetry off (on)
 *   --warm-up-orders N  orders per warm-up round at 32 in flight, which go on until every pool is full (1,000)
 *   --warm-up-rounds N  warm-up rounds at the most (12)
 *   --settle N          orders at the run's own concurrency after the warm-up, before the first sample (30,000)
 *   --gc                run the offline process with --expose-gc and add the after-collection figures
 *   --snapshots-at 0,10000,20000
 *                       heap snapshots of the main thread and one instance of each function at those order counts (each
 *                       must fall on a sample), written to the folder the summary names; compare two with
 *                       `npm run bench:heap-diff -- before.heapsnapshot after.heapsnapshot`
 * The last line printed is a JSON summary.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MANIFESTS, ORDER_PATH_SERVICES } from '../lib/manifests';
import { OtlpLogsReceiver, OtlpReceiver } from '../lib/otlp-receivers';
import { freePort } from '../lib/ports';
import { benchDatabase } from './database';
import { drive } from './load';
import { type MemoryFigures, type MemoryReport, memoryReportOf } from './memory';
import { optionsOf } from './options';
import { growthPer10k, median } from './stats';
import { modeEnvironments, startTarget } from './targets';

interface SoakOptions {
  orders: number;
  samples: number;
  concurrency: number;
  tracing: boolean;
  gc: boolean;
  snapshotsAt: number[];
  /** Orders per warm-up round at 32 in flight, and the most rounds before sampling anyway. */
  warmUpOrders: number;
  warmUpRounds: number;
  /** Orders at the run's own concurrency after the warm-up rounds, before the first sample. */
  settleOrders: number;
}

function parseOptions(argv: string[]): SoakOptions {
  const { value, flag, number, numbers } = optionsOf(argv);
  const options = {
    orders: number('orders', 50_000),
    samples: number('samples', 25),
    concurrency: number('concurrency', 8),
    tracing: (value('tracing') ?? 'on') === 'on',
    gc: flag('gc'),
    snapshotsAt: numbers('snapshots-at', []),
    warmUpOrders: number('warm-up-orders', 1_000),
    warmUpRounds: number('warm-up-rounds', 12),
    settleOrders: number('settle', SETTLE_ORDERS),
  };
  const step = options.orders / options.samples;
  const offSample = options.snapshotsAt.filter((at) => at % step !== 0 || at > options.orders);
  if (!Number.isInteger(step) || offSample.length > 0) {
    throw new Error(
      `--orders must split into --samples whole intervals, and every --snapshots-at count fall on one ` +
        `(every ${step} orders): ${offSample.join(', ') || 'not whole'}`,
    );
  }
  return options;
}

/** One sample: where the run stood and what the memory report said. */
interface Sample {
  orders: number;
  rssMb: number;
  mainHeapMb: number;
  instancesHeapMb: number;
  /** Heap V8 has committed (heapTotal), main thread and instances together. */
  heapCommittedMb: number;
  instances: number;
  codeSpaceMb: number;
  /** New space committed by the instances: their young generations, which V8 would otherwise size by load. */
  youngCommittedMb: number;
  mainHeapAfterGcMb?: number;
  instancesHeapAfterGcMb?: number;
}

const MB = 2 ** 20;
const SETTLE_ORDERS = 30_000;
/** Enough orders at 32 in flight for every instance to have walked its young generation. */
const MIN_WARM_UP_ROUNDS = 3;
/** Instances per function: serverless.yml's default, set here so the warm-up knows when a pool is full. */
const MAX_INSTANCES = 4;
const orderPathFunctions = MANIFESTS.filter((fn) => ORDER_PATH_SERVICES.includes(fn.service)).map(
  (fn) => fn.key,
);

/** The new space V8 has committed across the instances: their young generations, whole from the start. */
const youngCommittedOf = (report: MemoryReport) =>
  sum(report.instances.map((instance) => instance.heapSpacesCommitted.new_space ?? 0));
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

function sampleOf(orders: number, report: MemoryReport): Sample {
  const threads: MemoryFigures[] = [report.main, ...report.instances];
  const afterGc = (figures: MemoryFigures[]) =>
    figures.every((thread) => thread.afterGc)
      ? sum(figures.map((thread) => thread.afterGc?.heapUsed ?? 0)) / MB
      : undefined;
  return {
    orders,
    rssMb: report.rss / MB,
    mainHeapMb: report.main.heapUsed / MB,
    instancesHeapMb: sum(report.instances.map((instance) => instance.heapUsed)) / MB,
    heapCommittedMb: sum(threads.map((thread) => thread.heapTotal)) / MB,
    instances: report.instances.length,
    codeSpaceMb: sum(threads.map((thread) => thread.heapSpaces.code_space ?? 0)) / MB,
    youngCommittedMb: youngCommittedOf(report) / MB,
    mainHeapAfterGcMb: afterGc([report.main]),
    instancesHeapAfterGcMb: afterGc(report.instances),
  };
}

/** A series' slope per 10,000 orders, in MB and as a share of the fitted start, with its 95% interval. */
function slopeOf(samples: Sample[], read: (sample: Sample) => number | undefined) {
  const points = samples.flatMap((sample) => {
    const value = read(sample);
    return value === undefined ? [] : [[sample.orders, value] as const];
  });
  if (points.length < 3) return undefined;
  const growth = growthPer10k(points);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    mb_per_10k_orders: round(growth.fit.slope * 10_000),
    pct_per_10k_orders: round(growth.pct),
    pct_95ci: growth.interval.map(round),
    within_goal: growth.withinGoal,
    start_mb: round(growth.fit.intercept),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const database = await benchDatabase();
  const otlp = await new OtlpReceiver({ keepSpans: false }).start();
  const loki = await new OtlpLogsReceiver({ keepRecords: false }).start();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'soak-'));
  const reportFile = path.join(workDir, 'memory.json');
  const modes = modeEnvironments(
    {
      AWS_ENDPOINT_URL_DYNAMODB: database.endpoint,
      FRAUD_PERCENTAGE: '0',
      CHAOS: '',
      OFFLINE_MEMORY_REPORT: reportFile,
      OFFLINE_MAX_INSTANCES: String(MAX_INSTANCES),
      // Every instance's young generation whole from the start, and none retired: the process's size then
      // follows what the orders leave behind, not the load's history (instance-workers.cjs).
      OFFLINE_YOUNG_GENERATION: 'full',
      OFFLINE_RETIRE_IDLE_SECONDS: '0',
      ...(options.gc ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim() } : {}),
    },
    { otlp: otlp.url, loki: loki.url, deadPort: await freePort() },
  );
  const mode = options.tracing ? 'c' : 'b';
  // The local runtime creates the tables as it starts: the stock goes in after.
  const target = await startTarget(mode, modes[mode]);
  await database.restock();
  const samples: Sample[] = [];
  const snapshots: string[] = [];
  let errors = 0;
  const began = performance.now();
  try {
    // Before the first sample, the process reaches the size it keeps. First every order-path function's pool
    // fills up to its cap (OFFLINE_MAX_INSTANCES), and every instance walks its young generation, which it gets
    // whole from the start (instance-workers.cjs) but which becomes resident only as allocation reaches it: at
    // 32 in flight each function has more callers than instances, and all of them are busy. Rounds go on until
    // every pool is full, or two in a row start none (fraud, called only by payment's four instances, seldom
    // needs a fourth). Otherwise instances keep starting during the run, each a step of about 50 MB of RSS and
    // 30 MB of heap that a slope would read as growth per order.
    const warmUp = { rounds: 0, orders: 0, settled: false };
    let instancesBefore = -1;
    let roundsStartingNone = 0;
    for (let round = 1; round <= options.warmUpRounds && !warmUp.settled; round++) {
      await drive(
        target.url,
        options.warmUpOrders,
        Math.max(32, options.concurrency),
        `warm-up round ${round}`,
      );
      const report = await memoryReportOf(target.pid, reportFile);
      const youngCommittedMib = youngCommittedOf(report) / MB;
      const short = orderPathFunctions.filter(
        (key) => report.instances.filter((instance) => instance.function === key).length < MAX_INSTANCES,
      );
      process.stderr.write(
        `  warm-up round ${round}: ${report.instances.length} instances${short.length ? ` (${short.join(', ')} below the cap)` : ''}, ` +
          `RSS ${(report.rss / MB).toFixed(0)} MB, instances' new space ${youngCommittedMib.toFixed(0)} MiB\n`,
      );
      roundsStartingNone = report.instances.length === instancesBefore ? roundsStartingNone + 1 : 0;
      instancesBefore = report.instances.length;
      warmUp.rounds = round;
      warmUp.orders += options.warmUpOrders;
      warmUp.settled =
        round >= Math.min(MIN_WARM_UP_ROUNDS, options.warmUpRounds) &&
        (short.length === 0 || roundsStartingNone >= 2);
    }
    if (!warmUp.settled)
      process.stderr.write(`  warm-up: pools still filling after ${warmUp.rounds} rounds; sampling anyway\n`);
    // Then the run's own load until the process levels off at that rate: the soak at 8 in flight after a
    // 12,000-order warm-up rose from 1,872 to 2,057 MB over its first 36,000 orders and held at 2,061-2,065 MB
    // over its last 10,000 (BENCHMARKS.md, "Soak"). The heap committed flattened after 14,000; the rest is the
    // young generations' second semi-spaces of the less busy instances and memory outside V8's heap.
    if (options.settleOrders > 0)
      await drive(
        target.url,
        options.settleOrders,
        options.concurrency,
        `settling at ${options.concurrency} in flight`,
      );
    const step = options.orders / options.samples;
    for (let sent = 0; ; sent += step) {
      const label = `${options.tracing ? 'traced' : 'untraced'}-${sent}`;
      const report = await memoryReportOf(target.pid, reportFile, {
        snapshots: options.snapshotsAt.includes(sent) ? { to: workDir, label } : undefined,
      });
      snapshots.push(...report.snapshots);
      samples.push(sampleOf(sent, report));
      const last = samples.at(-1) as Sample;
      process.stderr.write(
        `  ${sent} orders: RSS ${last.rssMb.toFixed(0)} MB, heap main ${last.mainHeapMb.toFixed(1)} MB, ` +
          `instances ${last.instancesHeapMb.toFixed(1)} MB (${last.instances}), committed ` +
          `${last.heapCommittedMb.toFixed(0)} MB, instances' new space ${last.youngCommittedMb.toFixed(0)} MiB` +
          (last.instancesHeapAfterGcMb === undefined
            ? '\n'
            : `, after GC ${last.mainHeapAfterGcMb?.toFixed(1)} + ${last.instancesHeapAfterGcMb.toFixed(1)} MB\n`),
      );
      if (sent >= options.orders) break;
      const run = await drive(target.url, step, options.concurrency, `orders ${sent + 1}-${sent + step}`);
      errors += run.errors;
    }
    const lastReport = await memoryReportOf(target.pid, reportFile);
    const perInstance = lastReport.instances.map((instance) => instance.heapUsed / MB);
    const seconds = (performance.now() - began) / 1000;
    printSamples(samples);
    const summary = {
      orders: options.orders,
      samples: samples.length,
      tracing: options.tracing,
      forced_gc: options.gc,
      warm_up: { ...warmUp, settle_orders: options.settleOrders },
      errors,
      orders_per_second: Math.round((options.orders / seconds) * 10) / 10,
      rss: slopeOf(samples, (sample) => sample.rssMb),
      heap_used: slopeOf(samples, (sample) => sample.mainHeapMb + sample.instancesHeapMb),
      main_heap_used: slopeOf(samples, (sample) => sample.mainHeapMb),
      instances_heap_used: slopeOf(samples, (sample) => sample.instancesHeapMb),
      heap_used_after_gc: slopeOf(samples, (sample) =>
        sample.mainHeapAfterGcMb === undefined || sample.instancesHeapAfterGcMb === undefined
          ? undefined
          : sample.mainHeapAfterGcMb + sample.instancesHeapAfterGcMb,
      ),
      heap_committed: slopeOf(samples, (sample) => sample.heapCommittedMb),
      code_space: slopeOf(samples, (sample) => sample.codeSpaceMb),
      instances_young_committed: slopeOf(samples, (sample) => sample.youngCommittedMb),
      per_instance_heap_mb: {
        instances: perInstance.length,
        median: Math.round(median(perInstance) * 10) / 10,
        max: Math.round(Math.max(...perInstance) * 10) / 10,
      },
      rss_mb_samples: samples.map((sample) => Math.round(sample.rssMb)),
      snapshots: snapshots.length > 0 ? workDir : undefined,
    };
    console.log(JSON.stringify(summary));
  } finally {
    await target.stop();
    await otlp.stop();
    await loki.stop();
    await database.stop();
  }
}

function printSamples(samples: Sample[]): void {
  const rows = samples.map((sample) =>
    [
      sample.orders,
      sample.rssMb.toFixed(0),
      sample.mainHeapMb.toFixed(1),
      sample.instancesHeapMb.toFixed(1),
      sample.heapCommittedMb.toFixed(0),
      sample.instances,
      sample.codeSpaceMb.toFixed(1),
      sample.youngCommittedMb.toFixed(0),
      sample.mainHeapAfterGcMb?.toFixed(1) ?? '',
      sample.instancesHeapAfterGcMb?.toFixed(1) ?? '',
    ].join(' | '),
  );
  console.log(
    [
      "| orders | RSS MB | main heap MB | instances heap MB | heap committed MB | instances | code space MB | instances' new space MB | main after GC | instances after GC |",
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map((row) => `| ${row} |`),
    ].join('\n'),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
