/**
 * `npm run load`: steady demo traffic, so the Grafana dashboards fill the way intro-to-mltp's k6 traffic fills
 * them. Open-loop: orders start at the chosen rate whether or not earlier ones have finished.
 *   npm run load -- --rate 5 --duration 300 [--url http://localhost:4000]
 * The mix: mostly successful orders, with out-of-stock, unknown items, fraud and declined payments.
 * When it can reach the DynamoDB the functions use (AWS_ENDPOINT_URL_DYNAMODB, default http://localhost:8000),
 * it restocks sku001 whenever it runs low, so a long run keeps succeeding.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { localCredentials } from './dynamodb-local';
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

async function main(): Promise<void> {
  const url = option('url', process.env.ORDER_API_URL ?? 'http://localhost:4000').replace(/\/$/, '');
  const rate = Math.min(200, Math.max(0.1, Number(option('rate', '5'))));
  const duration = Math.min(24 * 3600, Math.max(1, Number(option('duration', '300'))));
  const statuses = new Map<string, number>();
  const byScenario = new Map<string, number>();
  let window: number[] = [];
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
    byScenario.set(scenario.name, (byScenario.get(scenario.name) ?? 0) + 1);
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
    window.push(performance.now() - started);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    inFlight--;
    done++;
  };

  const summary = () => {
    const sorted = [...window].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? sorted[Math.floor(p * (sorted.length - 1))]?.toFixed(0) : '-');
    const counts = [...statuses.entries()]
      .sort()
      .map(([status, count]) => `${status}:${count}`)
      .join(' ');
    return `sent ${sent}, done ${done}, in flight ${inFlight} | ${counts} | last 5 s p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
  };

  console.log(`sending ${rate} orders/s to ${url}/api/order for ${duration} s (Ctrl-C stops early)`);
  const began = Date.now();
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  await restock();
  const ticker = setInterval(() => {
    console.log(`[${Math.round((Date.now() - began) / 1000)}s] ${summary()}`);
    window = [];
    void restock();
  }, 5_000);
  while (!stopping && Date.now() - began < duration * 1000) {
    const due = Math.floor(((Date.now() - began) / 1000) * rate);
    while (sent < due) void fire();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  clearInterval(ticker);
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`finished: ${summary()}`);
  console.log(
    `by scenario: ${[...byScenario.entries()].map(([name, count]) => `${name} ${count}`).join(', ')}`,
  );
  process.exit(0);
}

if (require.main === module) void main();
