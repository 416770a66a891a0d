/**
 * `npm run bench`: the usual set of benchmarks, each also a command of its own (`--only <part>`, which
 * `npm run bench:<part>` passes). `latency`: POST /api/order end to end through the six functions of the
 * order path (the reaper runs on a schedule), measured side by side in one run:
 *   (a) floor: the handlers behind a minimal node:http router, no serverless-offline, no telemetry
 *   (b) serverless-offline, telemetry off
 *   (c) serverless-offline, traces and logs on, sent to local receivers
 *   (d) as (c), with the trace and log backends down
 * with the memory per instance of (b)–(d); `span-cost`: the per-span cost (spans.ts); `cold-start`: cold
 * starts per function traced and untraced (cold.ts); `drift`: a memory-drift slope fitted over a long run in
 * mode (c); `deployed`: the deployed artifact's cold start, flush cost and size (deployed.ts).
 * Options: --only part,… (all unless given), --requests N (per concurrency level and round), --rounds N,
 * --concurrency 1,8,32, --drift-orders N, --modes a,b,c,d, --cold-instances N, --span-iterations N,
 * --deployed-runs N, --flush-orders N, --quick.
 * The last line printed is a JSON summary.
 */

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../lib/eventually';
import { OtlpLogsReceiver, OtlpReceiver } from '../lib/otlp-receivers';
import { freePort } from '../lib/ports';
import { measureColdStarts } from './cold';
import { type BenchDatabase, benchDatabase } from './database';
import { measureDeployed } from './deployed';
import { drive, measureDrift, rssMb } from './load';
import { memoryReportOf } from './memory';
import { optionsOf } from './options';
import {
  type Extras,
  type InstanceMemory,
  levelResults,
  type PooledLevel,
  printExtras,
  printTable,
  summary,
} from './report';
import { measureSpanCosts } from './spans';
import { median } from './stats';
import { MODE_NAMES, type Mode, modeEnvironments, startFloorTarget, startTarget } from './targets';

interface Options {
  coldInstances: number;
  deployedRuns: number;
  flushOrders: number;
  spanIterations: number;
  requests: number;
  concurrency: number[];
  driftOrders: number;
  modes: Mode[];
  warmup: number;
  rounds: number;
  quick: boolean;
}

/** The benchmarks `npm run bench` runs; `--only` picks some. */
const PARTS = ['latency', 'span-cost', 'cold-start', 'drift', 'deployed'] as const;
type Part = (typeof PARTS)[number];

function parseOptions(argv: string[]): Options {
  const { value, flag, number, numbers } = optionsOf(argv);
  const quick = flag('quick');
  const only = new Set((value('only')?.split(',') ?? PARTS) as Part[]);
  const unknown = [...only].filter((part) => !PARTS.includes(part));
  if (unknown.length > 0) throw new Error(`--only takes ${PARTS.join(', ')}; got ${unknown.join(', ')}`);
  const latency = only.has('latency');
  return {
    coldInstances: only.has('cold-start') ? number('cold-instances', quick ? 1 : 5) : 0,
    deployedRuns: only.has('deployed') ? number('deployed-runs', quick ? 1 : 5) : 0,
    flushOrders: only.has('deployed') ? number('flush-orders', quick ? 2 : 20) : 0,
    spanIterations: only.has('span-cost') ? number('span-iterations', quick ? 200 : 3_000) : 0,
    requests: latency ? number('requests', quick ? 20 : 400) : 0,
    concurrency: latency ? numbers('concurrency', [1, 8, 32]) : [],
    driftOrders: only.has('drift') ? number('drift-orders', quick ? 100 : 20_000) : 0,
    // The drift runs in mode (c), after its latency rounds if any.
    modes: latency ? ((value('modes') ?? 'a,b,c,d').split(',') as Mode[]) : only.has('drift') ? ['c'] : [],
    warmup: quick ? 10 : 100,
    rounds: latency ? number('rounds', quick ? 1 : 2) : 1,
    quick,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const database = await benchDatabase();
  const otlp = await new OtlpReceiver({ keepSpans: false }).start();
  const loki = await new OtlpLogsReceiver({ keepRecords: false }).start();
  const memoryReportFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-')), 'memory.json');
  const envFor = modeEnvironments(
    {
      AWS_ENDPOINT_URL_DYNAMODB: database.endpoint,
      FRAUD_PERCENTAGE: '0',
      CHAOS: '',
      OFFLINE_MEMORY_REPORT: memoryReportFile,
    },
    { otlp: otlp.url, loki: loki.url, deadPort: await freePort() },
  );

  // DynamoDB Local is a JVM: it gets faster for a while. Warm it first, so that whichever mode runs first
  // is not measured against a colder database than the others.
  const warmOrders = options.quick ? 100 : 1_000;
  process.stderr.write(`warming up DynamoDB Local (${warmOrders} orders through the floor)\n`);
  const floor = await startFloorTarget(envFor.a);
  const extras: Extras = {};
  try {
    await database.restock();
    await drive(floor.url, warmOrders, 8, 'warm-up');
    if (options.spanIterations > 0) {
      process.stderr.write('per-span cost: each piece with tracing off and on, in processes of their own\n');
      extras.spanCosts = await measureSpanCosts({
        iterations: options.spanIterations,
        repeats: options.quick ? 1 : 3,
        execArgv: floor.instanceNodeOptions,
      });
    }
    if (options.coldInstances > 0) {
      process.stderr.write('cold starts: a new instance of one function at a time meets an order\n');
      extras.coldStarts = await measureColdStarts({
        floor,
        instances: options.coldInstances,
        ordersPerInstance: 20,
        telemetry: { otlp: otlp.url, loki: loki.url },
        restock: database.restock,
      });
    }
  } finally {
    await floor.stop();
  }

  if (options.deployedRuns > 0) {
    extras.deployed = await measureDeployed({
      coldRuns: options.deployedRuns,
      flushOrders: options.flushOrders,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  }

  const rounds = await runRounds(options, envFor, database, { otlp, memoryReportFile });
  Object.assign(extras, rounds.extras);
  await otlp.stop();
  await loki.stop();
  await database.stop();

  const results = levelResults(rounds.samples, options.modes, options.concurrency);
  if (results.length > 0) printTable(results, rounds.memory);
  printExtras(extras);
  console.log(JSON.stringify(summary(results, options, extras)));
}

/**
 * Modes run in interleaved rounds (a b c d, a b c d, ...) and each level's latencies are pooled over the
 * rounds, so that slow drifts of the machine or the database weigh on every mode alike.
 */
async function runRounds(
  options: Options,
  envFor: Record<Mode, NodeJS.ProcessEnv>,
  database: BenchDatabase,
  observe: { otlp: OtlpReceiver; memoryReportFile: string },
) {
  const samples = new Map<string, PooledLevel>();
  const memory: Record<string, { before: number; after: number }> = {};
  const extras: Extras = { memoryPerInstance: {} };
  for (let round = 1; round <= options.rounds; round++) {
    for (const mode of options.modes) {
      process.stderr.write(`round ${round}/${options.rounds}, (${mode}) ${MODE_NAMES[mode]}: starting\n`);
      await database.reset();
      const target = await startTarget(mode, envFor[mode]);
      try {
        await database.restock();
        await drive(target.url, options.warmup, Math.max(1, ...options.concurrency), `(${mode}) warm-up`);
        const before = rssMb(target.pid);
        const spansBefore = observe.otlp.spanCount;
        let orders = 0;
        for (const concurrency of options.concurrency) {
          orders += options.requests;
          await database.restock();
          const run = await drive(target.url, options.requests, concurrency, `(${mode}) c=${concurrency}`);
          const pooled = samples.get(`${mode}@${concurrency}`) ?? { latencies: [], errors: 0, seconds: 0 };
          pooled.latencies.push(...run.latencies);
          pooled.errors += run.errors;
          pooled.seconds += run.seconds;
          samples.set(`${mode}@${concurrency}`, pooled);
        }
        if (round === 1) memory[mode] = { before, after: rssMb(target.pid) };
        if (round === 1 && mode !== 'a' && extras.memoryPerInstance) {
          extras.memoryPerInstance[mode] = await memoryPerInstance(target.pid, observe.memoryReportFile);
        }
        if (mode === 'c' && round === 1 && orders > 0) {
          extras.spansPerOrder = ((await settledCount(() => observe.otlp.spanCount)) - spansBefore) / orders;
        }
        if (mode === 'c' && round === options.rounds && options.driftOrders > 0) {
          extras.drift = await measureDrift(target, options.driftOrders, database.restock);
        }
      } finally {
        await target.stop();
      }
    }
  }
  return { samples, memory, extras };
}

/** The offline process's RSS per Lambda instance, and each instance's own memory (local-runtime/memory-report.cjs). */
async function memoryPerInstance(pid: number, file: string): Promise<InstanceMemory> {
  const report = await memoryReportOf(pid, file, { deadlineMs: 10_000 });
  const mb = (bytes: number) => bytes / 2 ** 20;
  return {
    instances: report.instances.length,
    rssPerInstanceMb: mb(report.rss) / report.instances.length,
    instanceMb: median(report.instances.map((usage) => mb(usage.heapTotal + usage.external))),
  };
}

/** A counter's value once it has stopped moving for a second: the batch processors have exported. */
async function settledCount(read: () => number): Promise<number> {
  let last = -1;
  let stableSince = performance.now();
  return eventually(
    () => {
      const value = read();
      if (value !== last) {
        last = value;
        stableSince = performance.now();
      }
      return performance.now() - stableSince >= 1_000 ? value : undefined;
    },
    { what: 'a settled span count', seen: () => `${last} spans`, timeoutMs: 15_000 },
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
