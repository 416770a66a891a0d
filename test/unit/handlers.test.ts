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

describe('fraud handler (fixtures)', () => {
  it('passes a legitimate transaction', async () => {
    assert.deepEqual(await invoke('fraud', 'fraud-check-legitimate.json'), {
      statusCode: 200,
      headers: jsonHeaders,
      body: { status: 'legitimate', verdict: 'legitimate', reason: 'passed', trace_id: TRACE_ID },
    });
  });

  it('flags a blocked user', async () => {
    assert.deepEqual(await invoke('fraud', 'fraud-check-blocked-user.json'), {
      statusCode: 200,
      headers: jsonHeaders,
      body: { status: 'fraudulent', verdict: 'fraudulent', reason: 'blocked_user', trace_id: TRACE_ID },
    });
  });

  it('answers 400 naming the missing field', async () => {
    assert.deepEqual(await invoke('fraud', 'fraud-check-missing-user.json'), {
      statusCode: 400,
      headers: jsonHeaders,
      body: {
        status: 'failure',
        message: 'Invalid request body',
        category: 'validation',
        errors: [{ field: 'user_id', message: 'Invalid input' }],
        trace_id: TRACE_ID,
      },
    });
  });

  it('answers 404 for a route it does not have', async () => {
    assert.deepEqual(await invoke('fraud', 'fraud-check-wrong-method.json'), {
      statusCode: 404,
      headers: jsonHeaders,
      body: {
        status: 'failure',
        message: 'No route for GET /fraud/check',
        category: 'not_found',
        trace_id: TRACE_ID,
      },
    });
  });
});

describe('api-gateway handler (fixtures): bad input never reaches the order function', () => {
  it('answers 400 for malformed JSON', async () => {
    assert.deepEqual(await invoke('api-gateway', 'api-order-malformed-json.json'), {
      statusCode: 400,
      headers: jsonHeaders,
      body: {
        status: 'failure',
        message: 'Request body is not valid JSON',
        category: 'validation',
        trace_id: TRACE_ID,
      },
    });
  });

  it('answers 400 naming an unknown field', async () => {
    assert.deepEqual(await invoke('api-gateway', 'api-order-unknown-field.json'), {
      statusCode: 400,
      headers: jsonHeaders,
      body: {
        status: 'failure',
        message: 'Invalid request body',
        category: 'validation',
        errors: [{ field: 'body', message: 'unknown field(s): discount' }],
        trace_id: TRACE_ID,
      },
    });
  });

  it('answers 400 for an order id that is not a UUID', async () => {
    assert.deepEqual(await invoke('api-gateway', 'api-order-read-bad-id.json'), {
      statusCode: 400,
      headers: jsonHeaders,
      body: {
        status: 'failure',
        message: 'Invalid request path',
        category: 'validation',
        errors: [{ field: 'id', message: 'must be an order id (UUID)' }],
        trace_id: TRACE_ID,
      },
    });
  });
});
