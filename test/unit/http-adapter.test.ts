import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import axios from 'axios';
import { DomainError } from '../../functions/shared/contracts/errors';
import { httpRouter } from '../../functions/shared/http/router';
import { ServiceClient } from '../../functions/shared/http/service-client';
import { runInvocation } from '../../functions/shared/runtime/invocation';

const context = { getRemainingTimeInMillis: () => 3_000 } as Context;

/** A valid body of the contract route these tests serve: POST /fraud/check. */
const check = {
  order_id: '00000000-0000-4000-8000-000000000001',
  user_id: 'widget',
  amount_cents: 500,
  payment_method: 'paypal' as const,
};
const legitimate = { status: 'checked', verdict: 'legitimate', reason: 'passed' } as const;

function event(overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    resource: '/fraud/check',
    path: '/fraud/check',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(check),
    isBase64Encoded: false,
    pathParameters: null,
    ...overrides,
  } as APIGatewayProxyEvent;
}

const withUser = (user_id: string) => JSON.stringify({ ...check, user_id });

const handler = httpRouter({
  'POST /fraud/check': async ({ body }) => {
    if (body.user_id === 'boom') throw new Error('secret internal detail at db.example:5432');
    if (body.user_id === 'taken') throw new DomainError('conflict', 'That name is taken');
    return { statusCode: 201, body: legitimate };
  },
});

describe('HTTP adapter (real handler, whole responses)', () => {
  it('answers a valid request with JSON, the trace id from traceparent, and the header', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await handler(
      event({
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      }),
      context,
    );
    assert.deepEqual(response, {
      statusCode: 201,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-trace-id': traceId },
      body: JSON.stringify({ ...legitimate, trace_id: traceId }),
    });
  });

  it('maps a domain error to its status through the one table', async () => {
    const response = await handler(event({ body: withUser('taken') }), context);
    assert.equal(response.statusCode, 409);
    const { trace_id: traceId, ...body } = JSON.parse(response.body);
    assert.deepEqual(body, { status: 'failure', message: 'That name is taken', category: 'conflict' });
    assert.match(traceId, /^[\da-f]{32}$/);
    assert.equal(response.headers?.['x-trace-id'], traceId);
  });

  it('never leaks an unexpected error', async () => {
    const response = await handler(event({ body: withUser('boom') }), context);
    assert.equal(response.statusCode, 500);
    assert.deepEqual(JSON.parse(response.body).message, 'Internal error');
    assert.ok(!response.body.includes('db.example'));
  });

  it('answers 400 with field errors, 413 for a large body, 415 for another media type, 404 for no route', async () => {
    const invalid = JSON.parse(
      (await handler(event({ body: JSON.stringify({ ...check, amount_cents: 0, x: 1 }) }), context)).body,
    );
    assert.deepEqual(invalid.errors, [
      { field: 'amount_cents', message: 'must be greater than 0' },
      { field: 'body', message: 'unknown field(s): x' },
    ]);
    assert.equal((await handler(event({ body: withUser('x'.repeat(17_000)) }), context)).statusCode, 413);
    assert.equal(
      (await handler(event({ headers: { 'content-type': 'text/csv' } }), context)).statusCode,
      415,
    );
    assert.equal(
      (
        await handler(
          event({ body: Buffer.from(JSON.stringify(check)).toString('base64'), isBase64Encoded: true }),
          context,
        )
      ).statusCode,
      201,
    );
    assert.equal((await handler(event({ httpMethod: 'DELETE' }), context)).statusCode, 404);
  });
});

describe('service client error mapping (real HTTP on loopback)', () => {
  let server: Server;
  let client: ServiceClient;
  let lastTimeoutMs: number | undefined;
  /** What the downstream answers to the next call: a status and body, or nothing at all. */
  let answer: { status: number; body: unknown } | 'never' = { status: 200, body: legitimate };
  /** Answered first, one per call, before `answer`. */
  let firstAnswers: Array<{ status: number; body: unknown }> = [];
  let calls = 0;
  let calledPath = '';
  before(async () => {
    server = createServer((request, response) => {
      calls++;
      calledPath = request.url ?? '';
      const next = firstAnswers.shift() ?? answer;
      if (next === 'never') return; // only the client's own timeout ends the call
      response.writeHead(next.status, { 'content-type': 'application/json' }).end(JSON.stringify(next.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const http = axios.create({ baseURL: `http://127.0.0.1:${port}` });
    http.interceptors.request.use((config) => {
      lastTimeoutMs = config.timeout;
      return config;
    });
    client = new ServiceClient('thing-service', http);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const within = <T>(ms: number, fn: () => Promise<T>) =>
    runInvocation({ traceId: 'b'.repeat(32), deadline: Date.now() + ms }, fn);

  const callCheck = () => client.post('POST /fraud/check', check);

  it("answers the contract's response type, parsed: fields outside it are dropped", async () => {
    answer = { status: 200, body: { ...legitimate, trace_id: 'c'.repeat(32) } };
    assert.deepEqual(await within(5_000, callCheck), legitimate);
    assert.equal(calledPath, '/fraud/check');
  });

  it('turns an answer outside the contract into a 502 that names the service', async () => {
    answer = { status: 200, body: { ok: true } };
    await assert.rejects(
      within(5_000, callCheck),
      (error: unknown) =>
        error instanceof DomainError &&
        error.status === 502 &&
        error.message === 'thing-service answered with an unexpected body',
    );
  });

  it("passes a downstream's categorised 4xx through unchanged", async () => {
    answer = { status: 409, body: { status: 'failure', category: 'out_of_stock', message: 'none left' } };
    await assert.rejects(
      within(5_000, callCheck),
      (error: unknown) =>
        error instanceof DomainError && error.category === 'out_of_stock' && error.message === 'none left',
    );
  });

  const throttled = {
    status: 429,
    body: { status: 'failure', category: 'throttled', message: 'Too many requests', trace_id: 'req-1' },
  };

  it('retries a throttled call (it never ran) with backoff, and answers what the retry got', async () => {
    firstAnswers = [throttled, throttled];
    answer = { status: 200, body: legitimate };
    calls = 0;
    assert.deepEqual(await within(5_000, callCheck), legitimate);
    assert.equal(calls, 3);
  });

  it('gives up on a function that stays throttled: 429 throttled travels up', async () => {
    answer = throttled;
    calls = 0;
    await assert.rejects(
      within(5_000, callCheck),
      (error: unknown) =>
        error instanceof DomainError && error.category === 'throttled' && error.status === 429,
    );
    assert.equal(calls, 5, 'five attempts');
  });

  it('turns a 5xx into a 502 that names the service and nothing else', async () => {
    answer = { status: 500, body: { message: 'TypeError: x is undefined at /var/task/a.js:1' } };
    await assert.rejects(
      within(5_000, callCheck),
      (error: unknown) =>
        error instanceof DomainError && error.status === 502 && error.message === 'thing-service failed',
    );
  });

  it('times out before the caller does, keeping the compensation reserve', async () => {
    answer = 'never';
    await assert.rejects(
      within(1_500, callCheck),
      (error: unknown) => error instanceof DomainError && error.category === 'downstream_timeout',
    );
    assert.ok(
      lastTimeoutMs !== undefined && lastTimeoutMs > 0 && lastTimeoutMs <= 500,
      `the call's timeout (${lastTimeoutMs} ms) is what is left of 1.5 s after the 1 s reserve`,
    );
  });
});
