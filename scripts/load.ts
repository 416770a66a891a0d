/**
 * `npm run load`: steady demo traffic, so the Grafana dashboards fill the way intro-to-mltp's k6 traffic fills
 * them. Open-loop: orders start at the chosen rate whether or not earlier ones have finished.
 *   npm run load -- --rate 5 --duration 300 [--url http://localhost:4000]
 * The target is --url, else ORDER_API_URL, else HTTP_PORT's local API. A live line shows the rate, errors and
 * p50/p99 so far; a table per scenario ends the run.
 * The mix: mostly successful orders, with out-of-stock, unknown items, fraud and declined payments.
 * When it can reach the DynamoDB the functions use (AWS_ENDPOINT_URL_DYNAMODB, default http://localhost:8000),
 * it restocks sku001 whenever it runs low, so a long run keeps succeeding.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { localCredentials } from './dynamodb-local';
import { orderApiUrl } from './endpoints';
import { LatencyHistogram } from './latency';
import { LOCAL_TABLES } from './local-tables';

interface Scenario {
  name: string;
  weight: number;
  body: () => Record<string, unknown>;
}

const address = '10 Main Street, CA';
const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)] as T;
const user = () => String(100 + Math.floor(Math.random() * 900));

export const SCENARIOS: Scenario[] = [
  {
    name: 'success',
    weight: 70,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku001', quantity: 1 + Math.floor(Math.random() * 3) }],
      amount: (20 + Math.random() * 200).toFixed(2),
      payment_method: pick(['credit_card', 'debit_card', 'paypal']),
      shipping_address: address,
    }),
  },
  {
    name: 'out of stock',
    weight: 10,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku002', quantity: 999 }],
      amount: '99.00',
      payment_method: 'paypal',
      shipping_address: address,
    }),
  },
  {
    name: 'unknown item',
    weight: 5,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku404', quantity: 1 }],
      amount: '5.00',
      payment_method: 'paypal',
      shipping_address: address,
    }),
  },
  {
    name: 'fraud',
    weight: 8,
    body: () => ({
      user_id: '666',
      items: [{ item_id: 'sku001', quantity: 1 }],
      amount: '49.99',
      payment_method: 'credit_card',
      shipping_address: address,
    }),
  },
  {
    name: 'declined',
    weight: 7,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku001', quantity: 1 }],
      amount: '49.99',
      payment_method: 'credit_card',
      shipping_address: address,
      card: { number: '4000000000000002', expiry: '12/30' },
    }),
  },
];

export function chooseScenario(draw: number): Scenario {
  const total = SCENARIOS.reduce((sum, scenario) => sum + scenario.weight, 0);
  let threshold = draw * total;
  for (const scenario of SCENARIOS) {
    threshold -= scenario.weight;
    if (threshold < 0) return scenario;
  }
  return SCENARIOS[0] as Scenario;
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

interface Tally {
  latency: LatencyHistogram;
  statuses: Map<string, number>;
}

const newTally = (): Tally => ({ latency: new LatencyHistogram(), statuses: new Map() });
/** A 5xx or no answer at all; a 4xx is a scenario's expected refusal (out of stock, unknown item, fraud). */
const isError = (status: string) => status === 'error' || status.startsWith('5');
const errorsOf = (tally: Tally) =>
  [...tally.statuses].reduce((sum, [status, count]) => sum + (isError(status) ? count : 0), 0);
const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(0));

/** The end-of-run table: one row per scenario and a total, with statuses and latency percentiles. */
export function summaryTable(byScenario: Map<string, Tally>, total: Tally, seconds: number): string {
  const rows = [...byScenario].map(([name, tally]) => [name, tally] as const).concat([['total', total]]);
  const header = ['scenario', 'orders', 'per s', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'statuses'];
  const cells = rows.map(([name, tally]) => [
    name,
    String(tally.latency.count),
    (tally.latency.count / seconds).toFixed(1),
    String(errorsOf(tally)),
    ms(tally.latency.percentile(0.5)),
    ms(tally.latency.percentile(0.9)),
    ms(tally.latency.percentile(0.99)),
    [...tally.statuses]
      .sort()
      .map(([status, count]) => `${status}×${count}`)
      .join(' '),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 || column === row.length - 1
          ? cell.padEnd(widths[column] ?? 0)
          : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [format(header), ...cells.map(format)].join('\n');
}

async function main(): Promise<void> {
  const url = option('url', orderApiUrl()).replace(/\/$/, '');
  const rate = Math.min(200, Math.max(0.1, Number(option('rate', '5'))));
  const duration = Math.min(24 * 3600, Math.max(1, Number(option('duration', '300'))));
  const total = newTally();
  const byScenario = new Map<string, Tally>(SCENARIOS.map((scenario) => [scenario.name, newTally()]));
  let sent = 0;
  let done = 0;
  let inFlight = 0;

  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB || 'http://localhost:8000',
      region: 'us-east-1',
      credentials: localCredentials(),
      maxAttempts: 1,
    }),
  );
  const restock = async () => {
    try {
      const item = await db.send(
        new GetCommand({ TableName: LOCAL_TABLES.inventory, Key: { item_id: 'sku001' } }),
      );
      if (Number(item.Item?.availability ?? 0) > 200) return;
      await db.send(
        new UpdateCommand({
          TableName: LOCAL_TABLES.inventory,
          Key: { item_id: 'sku001' },
          UpdateExpression: 'ADD availability :q',
          ExpressionAttributeValues: { ':q': 1000 },
        }),
      );
      await db.send(
        new UpdateCommand({
          TableName: LOCAL_TABLES.warehouseStock,
          Key: { item_id: 'sku001', location: 'Warehouse-A' },
          UpdateExpression: 'ADD available_quantity :q',
          ExpressionAttributeValues: { ':q': 1000 },
        }),
      );
    } catch {
      // No local DynamoDB reachable (e.g. a deployed API): traffic goes on without restocking.
    }
  };

  const fire = async () => {
    const scenario = chooseScenario(Math.random());
    sent++;
    inFlight++;
    const started = performance.now();
    let status = 'error';
    try {
      const response = await fetch(`${url}/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(scenario.body()),
        signal: AbortSignal.timeout(15_000),
      });
      await response.arrayBuffer();
      status = String(response.status);
    } catch {
      status = 'error';
    }
    const elapsed = performance.now() - started;
    for (const tally of [total, byScenario.get(scenario.name) ?? newTally()]) {
      tally.latency.record(elapsed);
      tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    }
    inFlight--;
    done++;
  };

  const progress = () => {
    const seconds = Math.max((Date.now() - began) / 1000, 0.001);
    return (
      `[${seconds.toFixed(0)} s] ${done} done (${(done / seconds).toFixed(1)}/s), ${inFlight} in flight, ` +
      `${errorsOf(total)} errors | p50 ${ms(total.latency.percentile(0.5))} ms, p99 ${ms(total.latency.percentile(0.99))} ms so far`
    );
  };
  // On a terminal one line is rewritten in place every second; piped, a line every 5 s keeps logs short.
  const live = Boolean(process.stdout.isTTY);
  const show = () => {
    if (live) process.stdout.write(`\r\x1b[2K${progress()}`);
    else console.log(progress());
  };

  const began = Date.now();
  console.log(`sending ${rate} orders/s to ${url}/api/order for ${duration} s (Ctrl-C stops early)`);
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  await restock();
  const ticker = setInterval(show, live ? 1_000 : 5_000);
  const restocker = setInterval(() => void restock(), 5_000);
  while (!stopping && Date.now() - began < duration * 1000) {
    const due = Math.floor(((Date.now() - began) / 1000) * rate);
    while (sent < due) void fire();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(ticker);
  clearInterval(restocker);
  show();
  if (live) process.stdout.write('\n');
  console.log(`\n${summaryTable(byScenario, total, (Date.now() - began) / 1000)}`);
  process.exit(0);
}

if (require.main === module) void main();
