/**
 * `npm run bench:hot-item`: a flash sale. 200 orders of one unit each for an item with 30 in stock, placed by
 * 4, 8 and 32 concurrent clients, each run on fresh stock, against serverless-offline as `npm start` runs it
 * (tracing off, so the functions are measured). A client that is throttled (429) waits the Retry-After it was
 * given, with seeded jitter, and tries again, as a well-behaved client does; an order's answer is its last.
 * Goal: exactly 30 sold, every other order answered 409 (or 429 if it gave up), none 5xx, and the p99 of
 * every HTTP answer at most 1 s.
 *   npm run bench:hot-item -- [--orders 200] [--stock 30] [--clients 4,8,32]
 * The last line printed is a JSON summary.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { randomSource } from '../../functions/shared/runtime/random';
import { SEED_ORDER } from '../dev/order';
import { localCredentials, startDynamoDbLocal } from '../lib/dynamodb-local';
import { localTable, putStock } from '../lib/local-tables';
import { startOffline } from '../lib/offline';
import { freePort } from '../lib/ports';
import { percentile } from './load';
import { optionsOf } from './options';

export interface FlashSale {
  clients: number;
  orders: number;
  stock: number;
  /** Units left when every order was answered. */
  left: number;
  /** Final answers per order, by HTTP status. */
  finalStatuses: Record<number, number>;
  /** Every HTTP answer, retries included, by status. */
  answers: Record<number, number>;
  /** Answers without a JSON body carrying `status` and, for failures, `category` and `trace_id`. */
  malformed: string[];
  p50Ms: number;
  p99Ms: number;
}

/** How often a throttled order is tried again before its client gives up. */
const MAX_ATTEMPTS = 10;

/** Places `orders` one-unit orders of `itemId` from `clients` concurrent clients; `seed` drives the jitter. */
export async function flashSale(options: {
  url: string;
  db: DynamoDBDocumentClient;
  itemId: string;
  stock: number;
  orders: number;
  clients: number;
  seed: number;
}): Promise<FlashSale> {
  const { url, db, itemId, stock, orders, clients } = options;
  await putStock(db, itemId, stock, { 'Warehouse-A': stock });
  const random = randomSource(options.seed);
  const { amount: _seedAmount, ...seed } = SEED_ORDER;
  const body = JSON.stringify({ ...seed, items: [{ item_id: itemId, quantity: 1 }] });
  const latencies: number[] = [];
  const answers: Record<number, number> = {};
  const finalStatuses: Record<number, number> = {};
  const malformed: string[] = [];
  let next = 0;

  const placeOne = async (): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      const response = await fetch(`${url}/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      latencies.push(performance.now() - started);
      answers[response.status] = (answers[response.status] ?? 0) + 1;
      if (!isWellFormed(response.status, text)) malformed.push(`${response.status} ${text.slice(0, 200)}`);
      if (response.status !== 429 || attempt >= MAX_ATTEMPTS) return response.status;
      const retryAfterMs = Number(response.headers.get('retry-after') ?? 1) * 1000;
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs * (1 + random() / 2)));
    }
  };
  const client = async () => {
    while (next < orders) {
      next++;
      const status = await placeOne();
      finalStatuses[status] = (finalStatuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));

  const item = await db.send(
    new GetCommand({ TableName: localTable('inventory'), Key: { item_id: itemId }, ConsistentRead: true }),
  );
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    clients,
    orders,
    stock,
    left: Number(item.Item?.availability),
    finalStatuses,
    answers,
    malformed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/** A JSON body with `status`; a failure's also has its category and trace id. */
function isWellFormed(status: number, text: string): boolean {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (status < 400) return body.status === 'success';
    return (
      body.status === 'failure' && typeof body.category === 'string' && typeof body.trace_id === 'string'
    );
  } catch {
    return false;
  }
}

const options = optionsOf(process.argv);

async function main(): Promise<void> {
  const orders = options.number('orders', 200);
  const stock = options.number('stock', 30);
  const clientCounts = options.numbers('clients', [4, 8, 32]);
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const offline = await startOffline({
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      HTTP_PORT: String(await freePort()),
      OFFLINE_LAMBDA_PORT: String(await freePort()),
      OTEL_SDK_DISABLED: 'true',
      LOKI_URL: '',
      FRAUD_PERCENTAGE: '0',
      CHAOS: '',
    },
    keepOutput: false,
  });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_DEFAULTS.region,
    credentials: localCredentials(),
  });
  const db = DynamoDBDocumentClient.from(client);
  const results: FlashSale[] = [];
  try {
    // A sale nobody measures first: DynamoDB Local's JVM and the instances warm up on it.
    await flashSale({ url: offline.url, db, itemId: 'hot-warmup', stock, orders, clients: 8, seed: 0 });
    for (const [index, clients] of clientCounts.entries()) {
      process.stderr.write(`flash sale: ${orders} orders, ${clients} clients, ${stock} in stock\n`);
      const itemId = `hot-${clients}`;
      results.push(
        await flashSale({ url: offline.url, db, itemId, stock, orders, clients, seed: index + 1 }),
      );
    }
  } finally {
    client.destroy();
    await offline.stop();
    await dynamo.stop();
  }
  console.log('| clients | sold | final answers | all answers (retries too) | p50 | p99 | goal |');
  console.log('|---|---|---|---|---|---|---|');
  for (const result of results) {
    const sold = result.stock - result.left;
    const fiveXx = Object.keys(result.answers).filter((status) => Number(status) >= 500);
    const met =
      sold === result.stock && fiveXx.length === 0 && result.malformed.length === 0 && result.p99Ms <= 1000;
    console.log(
      `| ${result.clients} | ${sold} of ${result.stock} | ${describe(result.finalStatuses)} | ${describe(result.answers)} | ` +
        `${result.p50Ms.toFixed(0)} ms | ${result.p99Ms.toFixed(0)} ms | ${met ? 'met' : 'missed'} |`,
    );
  }
  console.log(JSON.stringify({ hotItem: results }));
}

function describe(counts: Record<number, number>): string {
  return Object.entries(counts)
    .map(([status, count]) => `${count} × ${status}`)
    .join(', ');
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
