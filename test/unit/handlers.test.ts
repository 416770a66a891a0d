import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

/**
 * The real handlers, built as Lambda loads them, driven by API Gateway proxy events from test/fixtures/, with
 * whole responses asserted. Environment first: each module validates its own once, at load.
 */
Object.assign(process.env, {
  IS_OFFLINE: 'true',
  LOG_LEVEL: 'silent',
  AWS_REGION: 'us-east-1',
  FRAUD_PERCENTAGE: '0',
  FRAUD_BLOCKED_USER_IDS: '666',
  IDEMPOTENCY_TABLE: 'orders-test-idempotency',
  // Nothing listens here: a handler that called downstream on bad input would answer 502, not 4xx.
  SERVICES_BASE_URL: 'http://127.0.0.1:9',
});

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const FUNCTIONS = path.resolve(__dirname, '..', '..', 'functions');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'; // the fixtures' traceparent
const context = { getRemainingTimeInMillis: () => 3_000 } as Context;

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

async function invoke(handlerModule: string, fixture: string) {
  // Loaded on first use, after the environment above, as the Lambda runtime loads a handler.
  const { handler } = require(path.join(FUNCTIONS, handlerModule, 'handler.js')) as { handler: Handler };
  const event = JSON.parse(readFileSync(path.join(FIXTURES, fixture), 'utf8')) as APIGatewayProxyEvent;
  const result = await handler(event, context);
  return { ...result, body: JSON.parse(result.body) as unknown };
}

const jsonHeaders = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-trace-id': TRACE_ID,
};

interface FixtureCase {
  name: string;
  handler: 'fraud' | 'api-gateway';
  fixture: string;
  statusCode: number;
  /** The whole body but its trace_id, which is always the fixtures' own. */
  body: Record<string, unknown>;
}

const failure = (message: string, category: string, errors?: Array<{ field: string; message: string }>) => ({
  status: 'failure',
  message,
  category,
  ...(errors ? { errors } : {}),
});

const CASES: FixtureCase[] = [
  {
    name: 'fraud passes a legitimate transaction',
    handler: 'fraud',
    fixture: 'fraud-check-legitimate.json',
    statusCode: 200,
    body: { status: 'checked', verdict: 'legitimate', reason: 'passed' },
  },
  {
    name: 'fraud flags a blocked user',
    handler: 'fraud',
    fixture: 'fraud-check-blocked-user.json',
    statusCode: 200,
    body: { status: 'checked', verdict: 'fraudulent', reason: 'blocked_user' },
  },
  {
    name: 'fraud answers 400 naming the missing field',
    handler: 'fraud',
    fixture: 'fraud-check-missing-user.json',
    statusCode: 400,
    body: failure('Invalid request body', 'validation', [{ field: 'user_id', message: 'Invalid input' }]),
  },
  {
    name: 'fraud answers 404 for a route it does not have',
    handler: 'fraud',
    fixture: 'fraud-check-wrong-method.json',
    statusCode: 404,
    body: failure('No route for GET /fraud/check', 'not_found'),
  },
  // Bad input never reaches the order function (nothing listens at SERVICES_BASE_URL).
  {
    name: 'api-gateway answers 400 for malformed JSON',
    handler: 'api-gateway',
    fixture: 'api-order-malformed-json.json',
    statusCode: 400,
    body: failure('Request body is not valid JSON', 'validation'),
  },
  {
    name: 'api-gateway answers 400 naming an unknown field',
    handler: 'api-gateway',
    fixture: 'api-order-unknown-field.json',
    statusCode: 400,
    body: failure('Invalid request body', 'validation', [
      { field: 'body', message: 'unknown field(s): discount' },
    ]),
  },
  {
    name: 'api-gateway answers 400 for an order id that is not a UUID',
    handler: 'api-gateway',
    fixture: 'api-order-read-bad-id.json',
    statusCode: 400,
    body: failure('Invalid request path', 'validation', [
      { field: 'id', message: 'must be an order id (UUID)' },
    ]),
  },
];

describe('handlers driven by API Gateway event fixtures (whole responses)', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      assert.deepEqual(await invoke(testCase.handler, testCase.fixture), {
        statusCode: testCase.statusCode,
        headers: jsonHeaders,
        body: { ...testCase.body, trace_id: TRACE_ID },
      });
    });
  }
});
