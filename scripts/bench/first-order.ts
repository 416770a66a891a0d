/**
 * `npm run bench:first-order`: how long the first order after "ready" takes, with and without prewarmed
 * instances, against a warm order of the same run. Each run starts serverless offline afresh, as `npm start`
 * does (DynamoDB Local on disk, tracing off so only the functions are measured), then places orders one at a
 * time. Modes run interleaved, so a slower minute of the machine affects both alike.
 *   npm run bench:first-order -- [--runs 3] [--orders 30]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDynamoDbLocal } from '../lib/dynamodb-local';
import { startOffline } from '../lib/offline';
import { placeOrder } from '../lib/orders';
import { freePort } from '../lib/ports';
import { optionsOf } from './options';
import { median } from './stats';

interface Mode {
  name: string;
  prewarm: boolean;
  /** DynamoDB Local already served orders (its JVM is warm), as on a second `npm start` with `npm start` kept. */
  warmDatabase: boolean;
}

const MODES: Mode[] = [
  { name: 'cold instances', prewarm: false, warmDatabase: false },
  { name: 'prewarmed', prewarm: true, warmDatabase: false },
  { name: 'prewarmed, DynamoDB Local warm', prewarm: true, warmDatabase: true },
];

const { number } = optionsOf(process.argv);

async function timeOrder(url: string): Promise<number> {
  const { status, ms } = await placeOrder(url);
  if (status !== 201) throw new Error(`an order answered ${status}`);
  return ms;
}

async function measure(mode: Mode, orders: number) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'first-order-'));
  process.env.DYNAMODB_LOCAL_DATA_DIR = dataDir;
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: false });
  const env = {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    OTEL_SDK_DISABLED: 'true',
    LOKI_URL: '',
    FRAUD_PERCENTAGE: '0',
    REAPER_INTERVAL_SECONDS: '0',
    OFFLINE_PREWARM: String(mode.prewarm),
  };
  try {
    if (mode.warmDatabase) {
      const warmup = await startOffline({
        env: { ...env, HTTP_PORT: String(await freePort()), OFFLINE_LAMBDA_PORT: String(await freePort()) },
      });
      for (let order = 0; order < orders; order++) await timeOrder(warmup.url);
      await warmup.stop();
    }
    const offline = await startOffline({
      env: { ...env, HTTP_PORT: String(await freePort()), OFFLINE_LAMBDA_PORT: String(await freePort()) },
      keepOutput: false,
    });
    try {
      const latencies: number[] = [];
      for (let order = 0; order < orders; order++) latencies.push(await timeOrder(offline.url));
      // "Warm": the median of the run's second half, once every instance has served a few orders.
      return {
        first: latencies[0] ?? Number.NaN,
        second: latencies[1] ?? Number.NaN,
        warm: median(latencies.slice(orders / 2)),
      };
    } finally {
      await offline.stop();
    }
  } finally {
    await dynamo.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = number('runs', 3);
  const orders = number('orders', 30);
  const results = new Map<string, Array<{ first: number; second: number; warm: number }>>();
  for (let run = 1; run <= runs; run++) {
    for (const mode of MODES) {
      const result = await measure(mode, orders);
      results.set(mode.name, [...(results.get(mode.name) ?? []), result]);
      console.error(
        `run ${run} ${mode.name}: first ${result.first.toFixed(0)} ms, second ${result.second.toFixed(0)} ms, warm ${result.warm.toFixed(0)} ms`,
      );
    }
  }
  const rows = MODES.map((mode) => {
    const all = results.get(mode.name) ?? [];
    const first = median(all.map((result) => result.first));
    const second = median(all.map((result) => result.second));
    const warm = median(all.map((result) => result.warm));
    return { mode: mode.name, first, second, warm, ratio: first / warm };
  });
  console.log(
    `| mode | first order | second order | warm order (p50 of orders ${orders / 2 + 1}–${orders}) | first ÷ warm |`,
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.mode} | ${row.first.toFixed(0)} ms | ${row.second.toFixed(0)} ms | ${row.warm.toFixed(0)} ms | ${row.ratio.toFixed(1)}× |`,
    );
  }
  console.log(JSON.stringify({ runs, orders, firstOrder: rows }));
}

void main();
