import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoDbLocal, localCredentials, startDynamoDbLocal } from '../../scripts/lib/dynamodb-local';
import { LOCAL_TABLES, localTable, putStock } from '../../scripts/lib/local-tables';
import { type Offline, startOffline } from '../../scripts/lib/offline';
import { SEED_ORDER } from '../../scripts/lib/orders';
import { freePort } from '../../scripts/lib/ports';

export { freePort };

export const TABLES = LOCAL_TABLES;

/** A W3C trace id, as every response carries. */
export const TRACE_ID = /^[\da-f]{32}$/;

/** The seed project's create_order.sh payload. */
/**
 * The seed order without its `amount`: the server prices every order, and a client's amount is only a check,
 * so a test that changes the items sends none (the pricing tests send one on purpose).
 */
export const { amount: SEED_AMOUNT, ...SEED_PAYLOAD } = SEED_ORDER;

/**
 * The whole JSON body, with the trace id checked for what it must be rather than copied: 32 hex digits,
 * the same as the `x-trace-id` header.
 */
export function assertJsonBody(response: ApiResponse, expected: Record<string, unknown>): void {
  const { trace_id: traceId, ...rest } = response.body;
  assert.deepEqual(rest, expected);
  assert.match(String(traceId), TRACE_ID);
  assert.equal(response.headers.get('x-trace-id'), traceId, 'the x-trace-id header matches the body');
  assert.match(String(response.headers.get('content-type')), /^application\/json/);
}

export interface StackOptions {
  /** Environment for serverless offline (and so for the functions). */
  env?: NodeJS.ProcessEnv;
  /** Reuse a running DynamoDB Local instead of starting one. */
  dynamo?: DynamoDbLocal;
}

export interface Stack {
  url: string;
  /** serverless-offline's Lambda invoke API. */
  lambdaApiUrl: string;
  offline: Offline;
  dynamo: DynamoDbLocal;
  db: DynamoDBDocumentClient;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  stock(): Promise<StockSnapshot>;
  /** Stocks an item at `unitPriceCents` (10.00 unless given). */
  setStock(
    itemId: string,
    inventory: number,
    warehouse: Record<string, number>,
    unitPriceCents?: number,
  ): Promise<void>;
  scan(table: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface StockSnapshot {
  inventory: Record<string, number>;
  /** "sku001@Warehouse-A" → available quantity. */
  warehouse: Record<string, number>;
}

/** DynamoDB Local (in memory) plus `serverless offline start` on free loopback ports. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dynamo = options.dynamo ?? (await startDynamoDbLocal({ port: await freePort(), inMemory: true }));
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  const offline = await startOffline({
    env: {
      HTTP_PORT: String(httpPort),
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      FRAUD_PERCENTAGE: '0',
      LOKI_URL: '',
      OTEL_SDK_DISABLED: 'true',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      // The reaper runs every second and takes an order one second after its function's timeout: tests
      // that wait for orders to settle then wait seconds, not the defaults' minute.
      REAPER_INTERVAL_SECONDS: '1',
      ORDER_ABANDON_MARGIN_SECONDS: '1',
      // Instances start on first use, so tests see each one's cold start (and stacks start sooner).
      OFFLINE_PREWARM: 'false',
      ...options.env,
    },
  });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: localCredentials(),
  });
  const db = DynamoDBDocumentClient.from(client);
  const url = offline.url;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const { 'content-type': contentType = 'application/json', ...others } = headers;
    const sent = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    // An empty content-type sends none at all: fetch adds one to a string body, never to bytes.
    const response = await fetch(`${url}${path}`, {
      method,
      headers: contentType ? { 'content-type': contentType, ...others } : others,
      body: sent === undefined || contentType ? sent : new TextEncoder().encode(sent),
    });
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { unparsed: text };
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };

  const scan = async (table: string) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new ScanCommand({ TableName: localTable(table), ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };

  return {
    url,
    lambdaApiUrl: `http://127.0.0.1:${lambdaPort}`,
    offline,
    dynamo,
    db,
    post: (path, body, headers) => call('POST', path, body, headers),
    get: (path) => call('GET', path),
    scan,
    async stock() {
      const inventory = Object.fromEntries(
        (await scan('inventory')).map((row) => [String(row.item_id), Number(row.availability)]),
      );
      const warehouse = Object.fromEntries(
        (await scan('warehouseStock')).map((row) => [
          `${row.item_id}@${row.location}`,
          Number(row.available_quantity),
        ]),
      );
      return { inventory, warehouse };
    },
    setStock: (itemId, inventory, warehouse, unitPriceCents) =>
      putStock(db, itemId, inventory, warehouse, unitPriceCents),
    async stop() {
      await offline.stop();
      client.destroy();
      if (!options.dynamo) await dynamo.stop();
    },
  };
}

export async function getItem(db: DynamoDBDocumentClient, table: string, key: Record<string, unknown>) {
  return (await db.send(new GetCommand({ TableName: localTable(table), Key: key, ConsistentRead: true })))
    .Item;
}
