/**
 * `npm run bench:stream-commit -- [--orders 100] [--rounds 2] [--before <git ref>]`: what moving the commit onto
 * the orders table's stream changed, offline, side by side in one run. This build and the one at `--before`
 * (built in a temporary worktree that shares node_modules) each serve rounds of `--orders` serial orders,
 * interleaved, against the same DynamoDB Local, tracing off so the functions are measured:
 * - the order's latency at the client (p50, p99);
 * - for this build, the time from COMPLETED (`completed_at`) to committed (`committed_at`), p50 and p99.
 * The last line printed is a JSON summary.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { localCredentials, startDynamoDbLocal } from '../lib/dynamodb-local';
import { eventually } from '../lib/eventually';
import { localTable, putStock } from '../lib/local-tables';
import { FUNCTIONS_ALONE, offlinePorts, startOffline } from '../lib/offline';
import { orderBody, placeOrder } from '../lib/orders';
import { freePort } from '../lib/ports';
import { optionsOf } from './options';
import { percentile } from './stats';
import { buildWorktree, removeWorktree } from './worktree';

const options = optionsOf(process.argv);

interface Round {
  build: string;
  latenciesMs: number[];
  commitDelaysMs: number[];
}

async function main(): Promise<void> {
  const orders = options.number('orders', 100);
  const rounds = options.number('rounds', 2);
  const before = options.value('before');
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: LOCAL_DEFAULTS.region,
      credentials: localCredentials(),
    }),
  );
  const builds: Array<{ name: string; root: string }> = [{ name: 'this build', root: PROJECT_ROOT }];
  if (before) builds.push({ name: `before (${before})`, root: buildWorktree(before) });
  const results: Round[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const build of builds) {
        process.stderr.write(`round ${round + 1}: ${build.name}, ${orders} orders\n`);
        results.push(await measure(build, orders, dynamo.endpoint, db, `bench-${round}-${results.length}`));
      }
    }
  } finally {
    db.destroy();
    await dynamo.stop();
    for (const build of builds.slice(1)) removeWorktree(build.root);
  }
  const summary = builds.map(({ name }) => {
    const mine = results.filter((result) => result.build === name);
    const latencies = mine.flatMap((result) => result.latenciesMs).sort((a, b) => a - b);
    const delays = mine.flatMap((result) => result.commitDelaysMs).sort((a, b) => a - b);
    return {
      build: name,
      orders: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      commitP50Ms: percentile(delays, 0.5),
      commitP99Ms: percentile(delays, 0.99),
    };
  });
  console.log('| build | orders | client p50 | client p99 | COMPLETED → committed p50 | p99 |');
  console.log('|---|---|---|---|---|---|');
  const ms = (value: number) => (Number.isNaN(value) ? '–' : `${value.toFixed(0)} ms`);
  for (const row of summary) {
    console.log(
      `| ${row.build} | ${row.orders} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${ms(row.commitP50Ms)} | ${ms(row.commitP99Ms)} |`,
    );
  }
  console.log(JSON.stringify({ streamCommit: summary }));
}

async function measure(
  build: { name: string; root: string },
  orders: number,
  endpoint: string,
  db: DynamoDBDocumentClient,
  itemId: string,
): Promise<Round> {
  const offline = await startOffline({
    cwd: build.root,
    keepOutput: false,
    env: { AWS_ENDPOINT_URL_DYNAMODB: endpoint, ...(await offlinePorts()), ...FUNCTIONS_ALONE },
  });
  const body = JSON.stringify(orderBody(itemId));
  const latenciesMs: number[] = [];
  const placed: string[] = [];
  try {
    await putStock(db, itemId, orders + 10, { 'Warehouse-A': orders + 10 });
    // One unmeasured order: every instance on the path is warm.
    await placeOrder(offline.url, body);
    for (let index = 0; index < orders; index++) {
      const answer = await placeOrder(offline.url, body);
      latenciesMs.push(answer.ms);
      const orderId = answer.json().order_id;
      if (answer.status === 201 && typeof orderId === 'string') placed.push(orderId);
    }
    const commitDelaysMs: number[] = [];
    for (const orderId of placed) {
      // An order whose commit never lands is left out of the delays, as it was when the loop gave up.
      const order = await eventually(
        async () => {
          const { Item } = await db.send(
            new GetCommand({
              TableName: localTable('orders'),
              Key: { order_id: orderId },
              ConsistentRead: true,
            }),
          );
          return Item?.committed_at ? Item : undefined;
        },
        { what: `order ${orderId} committed`, timeoutMs: 30_000 },
      ).catch(() => undefined);
      if (order?.completed_at) {
        commitDelaysMs.push(Date.parse(String(order.committed_at)) - Date.parse(String(order.completed_at)));
      }
    }
    return { build: build.name, latenciesMs, commitDelaysMs };
  } finally {
    await offline.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
