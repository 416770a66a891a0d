/**
 * `npm run bench`: POST /api/order end to end through all six functions, measured side by side in one run:
 *   (a) floor: the handlers behind a minimal node:http router, no serverless-offline, no telemetry
 *   (b) serverless-offline, telemetry off
 *   (c) serverless-offline, traces and logs on, sent to local receivers
 *   (d) as (c), with the trace and log backends down
 * Options: --requests N (per concurrency level and round), --rounds N, --concurrency 1,8,32, --drift-orders N,
 * --modes a,b,c,d, --quick.
 * The last line printed is a JSON summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { OtlpLogsReceiver, OtlpReceiver } from '../test/support/receivers';
import { localCredentials, startDynamoDbLocal } from './dynamodb-local';
import { putStock } from './local-tables';
import { startOffline } from './offline';
import { freePort } from './ports';

type Mode = 'a' | 'b' | 'c' | 'd';
const MODE_NAMES: Record<Mode, string> = {
  a: 'floor (node:http router, no telemetry)',
  b: 'serverless-offline, telemetry off',
  c: 'serverless-offline, traces + logs on',
  d: 'serverless-offline, backends down',
};

interface Options {
  requests: number;
  concurrency: number[];
  driftOrders: number;
  modes: Mode[];
  warmup: number;
  rounds: number;
  quick: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    requests: Number(value('requests') ?? (quick ? 20 : 400)),
    concurrency: (value('concurrency') ?? '1,8,32').split(',').map(Number),
    driftOrders: Number(value('drift-orders') ?? (quick ? 100 : 5_000)),
    modes: (value('modes') ?? 'a,b,c,d').split(',') as Mode[],
    warmup: quick ? 10 : 100,
    rounds: Number(value('rounds') ?? (quick ? 1 : 2)),
    quick,
  };
}

interface LevelResult {
  mode: Mode;
  concurrency: number;
  requests: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  throughput: number;
}

interface Target {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const ORDER = JSON.stringify({
  user_id: 'bench',
  items: [{ item_id: 'bench', quantity: 1 }],
  amount: 10,
  payment_method: 'credit_card',
  shipping_address: '1 Bench Road',
});

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] as number;
}

/** Resident memory of a process (all its threads), in MB; Linux only. */
function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

async function order(url: string): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/api/order`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: ORDER,
    });
    await response.arrayBuffer();
    return { ok: response.status === 201, ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

async function drive(
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

async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${pattern}" within ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (pattern.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
}

/** RSS of the offline process before, during (five samples) and after `orders` orders at concurrency 8. */
async function measureDrift(target: Target, orders: number, restock: () => Promise<void>) {
  await restock();
  const before = rssMb(target.pid);
  const samples = [Math.round(before)];
  const step = Math.max(1, Math.ceil(orders / 5));
  for (let sent = 0; sent < orders; sent += step) {
    const batch = Math.min(step, orders - sent);
    await drive(target.url, batch, 8, `(c) memory drift, orders ${sent + 1}-${sent + batch} of ${orders}`);
    samples.push(Math.round(rssMb(target.pid)));
  }
  await sleep(2_000); // let the batch processors drain
  const after = rssMb(target.pid);
  return { orders, before, after, pct: ((after - before) / before) * 100, samples };
}

async function startTarget(mode: Mode, env: NodeJS.ProcessEnv): Promise<Target> {
  const port = await freePort();
  if (mode === 'a') {
    const child = spawn(process.execPath, [path.join(__dirname, 'floor-server.js')], {
      env: { ...process.env, ...env, FLOOR_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitForLine(child, /floor ready/, 60_000);
    child.stdout?.resume();
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid ?? 0,
      stop: async () => {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      },
    };
  }
  const offline = await startOffline({
    env: { ...env, HTTP_PORT: String(port), OFFLINE_LAMBDA_PORT: String(await freePort()) },
    keepOutput: false,
  });
  return { url: offline.url, pid: offline.process.pid ?? 0, stop: offline.stop };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: localCredentials(),
  });
  const db = DynamoDBDocumentClient.from(client);
  /** Every mode starts from empty tables (recreated and seeded as it starts), so none runs on a bigger database. */
  const resetTables = async () => {
    const { TableNames = [] } = await client.send(new ListTablesCommand({}));
    for (const name of TableNames) await client.send(new DeleteTableCommand({ TableName: name }));
  };
  const otlp = await new OtlpReceiver({ keepSpans: false }).start();
  const loki = await new OtlpLogsReceiver({ keepRecords: false }).start();
  const deadPort = await freePort();
  const warmDatabase = async (orders: number) => {
    process.stderr.write(`warming up DynamoDB Local (${orders} orders through the floor)\n`);
    const floor = await startTarget('a', envFor.a);
    try {
      await restock();
      await drive(floor.url, orders, 8, 'warm-up');
    } finally {
      await floor.stop();
    }
  };
  const restock = () => putStock(db, 'bench', 1e9, { 'Warehouse-A': 1e9 });

  const base: NodeJS.ProcessEnv = {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    FRAUD_PERCENTAGE: '0',
    CHAOS: '',
  };
  const envFor: Record<Mode, NodeJS.ProcessEnv> = {
    a: { ...base, OTEL_SDK_DISABLED: 'true', LOKI_URL: '' },
    b: { ...base, OTEL_SDK_DISABLED: 'true', LOKI_URL: '' },
    c: { ...base, OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, LOKI_URL: loki.url },
    d: {
      ...base,
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}`,
      LOKI_URL: `http://127.0.0.1:${deadPort}`,
    },
  };

  // DynamoDB Local is a JVM: it gets faster for a while. Warm it first, so that whichever mode runs first
  // is not measured against a colder database than the others.
  await warmDatabase(options.quick ? 100 : 1_000);

  const results: LevelResult[] = [];
  const memory: Record<string, { before: number; after: number }> = {};
  let drift: { orders: number; before: number; after: number; pct: number; samples: number[] } | undefined;

  // Modes run in interleaved rounds (a b c d, a b c d, ...) and each level's latencies are pooled over the
  // rounds, so that slow drifts of the machine or the database weigh on every mode alike.
  const samples = new Map<string, { latencies: number[]; errors: number; seconds: number }>();
  for (let round = 1; round <= options.rounds; round++) {
    for (const mode of options.modes) {
      process.stderr.write(`round ${round}/${options.rounds}, (${mode}) ${MODE_NAMES[mode]}: starting\n`);
      await resetTables();
      const target = await startTarget(mode, envFor[mode]);
      try {
        await restock();
        await drive(target.url, options.warmup, Math.max(...options.concurrency), `(${mode}) warm-up`);
        const before = rssMb(target.pid);
        for (const concurrency of options.concurrency) {
          await restock();
          const run = await drive(target.url, options.requests, concurrency, `(${mode}) c=${concurrency}`);
          const pooled = samples.get(`${mode}@${concurrency}`) ?? { latencies: [], errors: 0, seconds: 0 };
          pooled.latencies.push(...run.latencies);
          pooled.errors += run.errors;
          pooled.seconds += run.seconds;
          samples.set(`${mode}@${concurrency}`, pooled);
        }
        if (round === 1) memory[mode] = { before, after: rssMb(target.pid) };
        if (mode === 'c' && round === options.rounds && options.driftOrders > 0) {
          drift = await measureDrift(target, options.driftOrders, restock);
        }
      } finally {
        await target.stop();
      }
    }
  }
  for (const mode of options.modes) {
    for (const concurrency of options.concurrency) {
      const pooled = samples.get(`${mode}@${concurrency}`);
      if (!pooled) continue;
      const sorted = [...pooled.latencies].sort((x, y) => x - y);
      results.push({
        mode,
        concurrency,
        requests: sorted.length,
        errors: pooled.errors,
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p99: percentile(sorted, 0.99),
        throughput: sorted.length / pooled.seconds,
      });
    }
  }
  await otlp.stop();
  await loki.stop();
  client.destroy();
  await dynamo.stop();

  printTable(results, memory);
  const level = (mode: Mode, concurrency: number) =>
    results.find((result) => result.mode === mode && result.concurrency === concurrency);
  const ratio = (top: Mode, bottom: Mode, concurrency: number) => {
    const x = level(top, concurrency);
    const y = level(bottom, concurrency);
    return x && y ? { p50: round(x.p50 / y.p50), p99: round(x.p99 / y.p99) } : undefined;
  };
  const headline = options.concurrency[0] ?? 1;
  const summary = {
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    requests_per_level: options.requests * options.rounds,
    rounds: options.rounds,
    concurrency: headline,
    ratios: {
      'b/a': ratio('b', 'a', headline),
      'c/b': ratio('c', 'b', headline),
      'd/b': ratio('d', 'b', headline),
    },
    ratios_by_concurrency: Object.fromEntries(
      options.concurrency.map((c) => [
        c,
        { 'b/a': ratio('b', 'a', c), 'c/b': ratio('c', 'b', c), 'd/b': ratio('d', 'b', c) },
      ]),
    ),
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
  console.log(JSON.stringify(summary));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function printTable(results: LevelResult[], memory: Record<string, { before: number; after: number }>): void {
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

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
