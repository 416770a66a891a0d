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
import { DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import LOCAL_DEFAULTS from '../functions/shared/local-defaults.json';
import { OtlpLogsReceiver, OtlpReceiver } from '../test/support/receivers';
import { drive, measureDrift, rssMb } from './bench-load';
import { type Drift, levelResults, type PooledLevel, printTable, summary } from './bench-report';
import { MODE_NAMES, type Mode, modeEnvironments, startTarget } from './bench-targets';
import { localCredentials, startDynamoDbLocal } from './dynamodb-local';
import { putStock } from './local-tables';
import { freePort } from './ports';

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

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const database = await benchDatabase();
  const otlp = await new OtlpReceiver({ keepSpans: false }).start();
  const loki = await new OtlpLogsReceiver({ keepRecords: false }).start();
  const envFor = modeEnvironments(
    { AWS_ENDPOINT_URL_DYNAMODB: database.endpoint, FRAUD_PERCENTAGE: '0', CHAOS: '' },
    { otlp: otlp.url, loki: loki.url, deadPort: await freePort() },
  );

  // DynamoDB Local is a JVM: it gets faster for a while. Warm it first, so that whichever mode runs first
  // is not measured against a colder database than the others.
  const warmOrders = options.quick ? 100 : 1_000;
  process.stderr.write(`warming up DynamoDB Local (${warmOrders} orders through the floor)\n`);
  const floor = await startTarget('a', envFor.a);
  try {
    await database.restock();
    await drive(floor.url, warmOrders, 8, 'warm-up');
  } finally {
    await floor.stop();
  }

  const { samples, memory, drift } = await runRounds(options, envFor, database);
  await otlp.stop();
  await loki.stop();
  await database.stop();

  const results = levelResults(samples, options.modes, options.concurrency);
  printTable(results, memory);
  console.log(JSON.stringify(summary(results, options, drift)));
}

/** DynamoDB Local in memory, with the bench's stock and a way to start every mode from empty tables. */
async function benchDatabase() {
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_DEFAULTS.region,
    credentials: localCredentials(),
  });
  const db = DynamoDBDocumentClient.from(client);
  return {
    endpoint: dynamo.endpoint,
    restock: () => putStock(db, 'bench', 1e9, { 'Warehouse-A': 1e9 }),
    /** Every mode starts from empty tables (recreated and seeded as it starts), so none runs on a bigger database. */
    reset: async () => {
      const { TableNames = [] } = await client.send(new ListTablesCommand({}));
      for (const name of TableNames) await client.send(new DeleteTableCommand({ TableName: name }));
    },
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
}

/**
 * Modes run in interleaved rounds (a b c d, a b c d, ...) and each level's latencies are pooled over the
 * rounds, so that slow drifts of the machine or the database weigh on every mode alike.
 */
async function runRounds(
  options: Options,
  envFor: Record<Mode, NodeJS.ProcessEnv>,
  database: Awaited<ReturnType<typeof benchDatabase>>,
) {
  const samples = new Map<string, PooledLevel>();
  const memory: Record<string, { before: number; after: number }> = {};
  let drift: Drift | undefined;
  for (let round = 1; round <= options.rounds; round++) {
    for (const mode of options.modes) {
      process.stderr.write(`round ${round}/${options.rounds}, (${mode}) ${MODE_NAMES[mode]}: starting\n`);
      await database.reset();
      const target = await startTarget(mode, envFor[mode]);
      try {
        await database.restock();
        await drive(target.url, options.warmup, Math.max(...options.concurrency), `(${mode}) warm-up`);
        const before = rssMb(target.pid);
        for (const concurrency of options.concurrency) {
          await database.restock();
          const run = await drive(target.url, options.requests, concurrency, `(${mode}) c=${concurrency}`);
          const pooled = samples.get(`${mode}@${concurrency}`) ?? { latencies: [], errors: 0, seconds: 0 };
          pooled.latencies.push(...run.latencies);
          pooled.errors += run.errors;
          pooled.seconds += run.seconds;
          samples.set(`${mode}@${concurrency}`, pooled);
        }
        if (round === 1) memory[mode] = { before, after: rssMb(target.pid) };
        if (mode === 'c' && round === options.rounds && options.driftOrders > 0) {
          drift = await measureDrift(target, options.driftOrders, database.restock);
        }
      } finally {
        await target.stop();
      }
    }
  }
  return { samples, memory, drift };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
