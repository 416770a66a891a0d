import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ReservationLedger } from '../../functions/shared/data/reservation-ledger';
import { withSpan } from '../../functions/shared/telemetry/api';
import { BaggageAttributes } from '../../functions/shared/telemetry/baggage-attributes';
import {
  EdgeTraceIds,
  serverSpanConfig,
  traceIdOfRequestId,
} from '../../functions/shared/telemetry/edge-context';
import {
  annotateDynamoDbSpan,
  recordHttpOutcome,
  tablesOfTransaction,
} from '../../functions/shared/telemetry/instrumentation-config';
import {
  ExplicitLambdaInstrumentation,
  WRAPPED_RELEASE,
} from '../../functions/shared/telemetry/lambda-instrumentation';

/** Spans asserted in process, by name, kind, status and attributes, as the instrumentations' own tests do. */
const exporter = new InMemorySpanExporter();
const traceIds = new EdgeTraceIds();
const provider = new TracerProvider({
  idGenerator: traceIds,
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});
const tracer = provider.getTracer('test');

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterEach(() => exporter.reset());
after(() => provider.shutdown());

const finished = (name: string) => {
  const spans = exporter.getFinishedSpans().filter((span) => span.name === name);
  assert.equal(spans.length, 1, `one ${name} span in ${exporter.getFinishedSpans().map((s) => s.name)}`);
  return spans[0] as NonNullable<(typeof spans)[number]>;
};

describe('withSpan', () => {
  it('runs the work in an INTERNAL child of the active span, with its attributes and no status', async () => {
    const result = await tracer.startActiveSpan('parent', async (parent) => {
      const value = await withSpan('order.compensate', { 'order.id': 'o-1' }, async () => 42);
      parent.end();
      return value;
    });
    assert.equal(result, 42);
    const span = finished('order.compensate');
    assert.equal(span.kind, SpanKind.INTERNAL);
    assert.deepEqual(span.attributes, { 'order.id': 'o-1' });
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.parentSpanContext?.spanId, finished('parent').spanContext().spanId);
  });

  it('marks the span as an error with the message, and rethrows', async () => {
    await assert.rejects(
      withSpan('order.compensate', {}, async () => {
        throw new Error('inventory unreachable');
      }),
      /inventory unreachable/,
    );
    assert.deepEqual(finished('order.compensate').status, {
      code: SpanStatusCode.ERROR,
      message: 'inventory unreachable',
    });
  });
});

/** A DocumentClient that holds one reservation table in memory: enough for the ledger's release path. */
function fakeDocumentClient(records: Map<string, Record<string, unknown>>): DynamoDBDocumentClient {
  return {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const input = command.input;
      switch (command.constructor.name) {
        case 'GetCommand':
          return { Item: records.get(String((input.Key as { order_id: string }).order_id)) };
        case 'PutCommand': {
          const item = input.Item as { order_id: string };
          if (records.has(item.order_id)) {
            throw Object.assign(new Error('exists'), { name: 'ConditionalCheckFailedException' });
          }
          records.set(item.order_id, item);
          return {};
        }
        case 'TransactWriteCommand': {
          const [update] = input.TransactItems as Array<{ Update: { Key: { order_id: string } } }>;
          const record = records.get(String(update?.Update.Key.order_id));
          if (record) record.status = 'RELEASED';
          return {};
        }
        default:
          throw new Error(`unexpected ${command.constructor.name}`);
      }
    },
  } as unknown as DynamoDBDocumentClient;
}

describe('ReservationLedger.release spans', () => {
  it('names the span after its owner and counts the units it gave back', async () => {
    const records = new Map<string, Record<string, unknown>>([
      [
        'o-1',
        {
          order_id: 'o-1',
          status: 'RESERVED',
          lines: [
            { item_id: 'sku001', quantity: 2 },
            { item_id: 'sku002', quantity: 3 },
          ],
        },
      ],
    ]);
    const ledger = new ReservationLedger(fakeDocumentClient(records), 'reservations', 'inventory');
    const released = await ledger.release('o-1', () => []);
    assert.equal(released.length, 2);
    const span = finished('inventory.release');
    assert.equal(span.kind, SpanKind.INTERNAL);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(span.attributes, { 'order.id': 'o-1', 'inventory.released_quantity': 5 });
    assert.equal(records.get('o-1')?.status, 'RELEASED');
  });

  it('releases nothing twice, and leaves a tombstone for an order it never reserved', async () => {
    const records = new Map<string, Record<string, unknown>>();
    const ledger = new ReservationLedger(fakeDocumentClient(records), 'reservations', 'warehouse');
    assert.deepEqual(await ledger.release('o-2', () => []), []);
    assert.deepEqual(finished('warehouse.release').attributes, {
      'order.id': 'o-2',
      'warehouse.released_quantity': 0,
    });
    assert.equal(records.get('o-2')?.status, 'RELEASED', 'tombstone');
  });
});

describe('recordHttpOutcome (SERVER span status)', () => {
  const outcome = (info: Parameters<typeof recordHttpOutcome>[1]) => {
    tracer.startActiveSpan('server', { kind: SpanKind.SERVER }, (span) => {
      recordHttpOutcome(span, info);
      span.end();
    });
    return finished('server');
  };

  it('leaves a 2xx and a 4xx unset, with the status code attribute', () => {
    for (const statusCode of [201, 404]) {
      const span = outcome({ res: { statusCode } });
      assert.equal(span.status.code, SpanStatusCode.UNSET, `${statusCode}`);
      assert.equal(span.attributes['http.response.status_code'], statusCode);
      exporter.reset();
    }
  });

  it('marks a 5xx as an error', () => {
    const span = outcome({ res: { statusCode: 503 } });
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: 'HTTP 503' });
  });

  it('marks a handler that threw, with no response, as an error', () => {
    const span = outcome({ err: new Error('crash') });
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.attributes['http.response.status_code'], undefined);
  });
});

describe('DynamoDB client spans', () => {
  it('tablesOfTransaction lists each table of a transaction once, sorted', () => {
    assert.deepEqual(
      tablesOfTransaction({
        TransactItems: [
          { Update: { TableName: 'stock' } },
          { Put: { TableName: 'reservations' } },
          { ConditionCheck: { TableName: 'stock' } },
        ],
      }),
      ['reservations', 'stock'],
    );
    assert.deepEqual(tablesOfTransaction({ TableName: 'orders' }), []);
    assert.deepEqual(tablesOfTransaction(undefined), []);
  });

  it('names the database for the service graph and the tables of a transaction', () => {
    const span = tracer.startSpan('DynamoDB.TransactWriteItems', { kind: SpanKind.CLIENT });
    annotateDynamoDbSpan(span, {
      serviceName: 'DynamoDB',
      commandInput: { TransactItems: [{ Put: { TableName: 'b' } }, { Update: { TableName: 'a' } }] },
    });
    span.end();
    assert.deepEqual(finished('DynamoDB.TransactWriteItems').attributes, {
      'peer.service': 'dynamodb',
      'db.system': 'dynamodb',
      'aws.dynamodb.table_names': ['a', 'b'],
    });
  });

  it('leaves other AWS services alone', () => {
    const span = tracer.startSpan('SSM.GetParameter', { kind: SpanKind.CLIENT });
    annotateDynamoDbSpan(span, { serviceName: 'SSM', commandInput: {} });
    span.end();
    assert.deepEqual(finished('SSM.GetParameter').attributes, {});
  });
});

describe('ExplicitLambdaInstrumentation (the handler wrapped where it is made)', () => {
  // The SDK registers W3C Trace Context as the global propagator; so does this suite, and only it.
  before(() =>
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    ),
  );
  after(() => propagation.disable());
  const instance = () => {
    const instrumentation = new ExplicitLambdaInstrumentation({ lambdaStartTime: Date.now() });
    instrumentation.setTracerProvider(provider);
    return instrumentation;
  };
  const context = {
    functionName: 'orders-prod-fraud',
    awsRequestId: 'request-1',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-prod-fraud',
  };

  it('registers no module hook: a handler loaded with require() is not wrapped a second time', () => {
    assert.deepEqual(instance().getModuleDefinitions(), []);
  });

  it('makes one SERVER span per invocation, cold first, continuing the caller’s traceparent', async () => {
    const handler = instance().traceHandler(async (_event: unknown, _context: unknown) => ({
      statusCode: 200,
    }));
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await handler({ headers: { traceparent } }, { ...context, awsRequestId: 'request-1' });
    await handler({ headers: { traceparent } }, { ...context, awsRequestId: 'request-2' });
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(
      spans.map((span) => [
        span.name,
        span.kind,
        span.attributes['faas.invocation_id'],
        span.attributes['faas.coldstart'],
      ]),
      [
        ['orders-prod-fraud', SpanKind.SERVER, 'request-1', true],
        ['orders-prod-fraud', SpanKind.SERVER, 'request-2', false],
      ],
    );
    for (const span of spans) {
      assert.equal(span.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(span.parentSpanContext?.spanId, '00f067aa0ba902b7');
      assert.equal(span.attributes['cloud.account.id'], '123456789012');
    }
  });

  describe('at the public edge (INBOUND_TRACE_CONTEXT=link)', () => {
    const edge = () => {
      const instrumentation = new ExplicitLambdaInstrumentation({
        lambdaStartTime: Date.now(),
        ...serverSpanConfig('link', traceIds),
      });
      instrumentation.setTracerProvider(provider);
      return instrumentation.traceHandler(async (_event: unknown, _context: unknown) => ({
        statusCode: 201,
      }));
    };
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const invoke = (headers: Record<string, string>) =>
      edge()({ httpMethod: 'POST', resource: '/api/order', headers }, context);

    it('starts a new trace, and links the caller’s context instead of continuing it', async () => {
      await invoke({ traceparent: `00-${callerTrace}-${callerSpan}-01` });
      const [span] = exporter.getFinishedSpans();
      assert.notEqual(span?.spanContext().traceId, callerTrace);
      assert.equal(span?.parentSpanContext, undefined, 'a root span');
      assert.deepEqual(
        span?.links.map((link) => [link.context.traceId, link.context.spanId, link.attributes]),
        [[callerTrace, callerSpan, { 'link.reason': 'inbound_trace_context' }]],
      );
    });

    it("takes the invocation's Lambda request id as the new trace's id, for that trace only", async () => {
      const awsRequestId = '0B9C7F4E-2D1A-4C3B-9E8F-7A6B5C4D3E2F';
      await edge()(
        {
          httpMethod: 'POST',
          resource: '/api/order',
          headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` },
        },
        { ...context, awsRequestId },
      );
      const child = tracer.startSpan('a root span after the invocation');
      child.end();
      const [server, after] = exporter.getFinishedSpans();
      assert.equal(server?.spanContext().traceId, '0b9c7f4e2d1a4c3b9e8f7a6b5c4d3e2f');
      assert.equal(server?.attributes['faas.invocation_id'], awsRequestId);
      assert.notEqual(
        after?.spanContext().traceId,
        server?.spanContext().traceId,
        'the next trace is random',
      );
    });

    it('reads a request id as a trace id only when it is one', () => {
      assert.equal(
        traceIdOfRequestId('0b9c7f4e-2d1a-4c3b-9e8f-7a6b5c4d3e2f'),
        '0b9c7f4e2d1a4c3b9e8f7a6b5c4d3e2f',
      );
      assert.equal(traceIdOfRequestId('request-1'), undefined);
      assert.equal(traceIdOfRequestId('00000000-0000-0000-0000-000000000000'), undefined);
      assert.equal(traceIdOfRequestId('0b9c7f4e-2d1a-4c3b-9e8f-7a6b5c4d3e2f0'), undefined);
      assert.equal(traceIdOfRequestId(undefined), undefined);
    });

    it('traces a request whose caller said "not sampled" (flags 00): the server decides', async () => {
      await invoke({ traceparent: `00-${callerTrace}-${callerSpan}-00` });
      const [span] = exporter.getFinishedSpans();
      assert.ok(span, 'exported');
      assert.equal(span.spanContext().traceFlags & 1, 1, 'sampled');
    });

    it('drops inbound baggage and makes no link from an invalid traceparent', async () => {
      const seen: string[] = [];
      const instrumentation = new ExplicitLambdaInstrumentation({
        lambdaStartTime: Date.now(),
        ...serverSpanConfig('link', traceIds),
      });
      instrumentation.setTracerProvider(provider);
      const handler = instrumentation.traceHandler(async (_event: unknown, _context: unknown) => {
        seen.push(
          ...(propagation
            .getActiveBaggage()
            ?.getAllEntries()
            .map(([key]) => key) ?? []),
        );
        return { statusCode: 201 };
      });
      await handler({ headers: { traceparent: '00-zz-yy-01', baggage: 'user=666' } }, context);
      assert.deepEqual(seen, []);
      assert.deepEqual(exporter.getFinishedSpans()[0]?.links, []);
    });
  });

  it('fails loudly when the instrumentation no longer has the wrapper it was written against', () => {
    const instrumentation = instance() as unknown as {
      _getHandler?: unknown;
      traceHandler: ExplicitLambdaInstrumentation['traceHandler'];
    };
    instrumentation._getHandler = undefined;
    assert.throws(() => instrumentation.traceHandler(async () => ({})), /written against 0\.76\.0/);
  });

  it('runs on the very release whose private wrapper it calls: another fails here until re-checked', () => {
    const entry = require.resolve('@opentelemetry/instrumentation-aws-lambda');
    const manifest = path.join(
      entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`)),
      'package.json',
    );
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    assert.equal(
      version,
      WRAPPED_RELEASE,
      `@opentelemetry/instrumentation-aws-lambda ${version} is installed, but lambda-instrumentation.ts calls the private _getHandler of ${WRAPPED_RELEASE}: re-check it, then move WRAPPED_RELEASE and the exact pin in package.json together`,
    );
    const prototype = Object.getPrototypeOf(ExplicitLambdaInstrumentation.prototype) as Record<
      string,
      unknown
    >;
    assert.equal(typeof prototype._getHandler, 'function', '_getHandler is still on the instrumentation');
  });
});

describe('BaggageAttributes', () => {
  it('puts each baggage entry of the parent context on the span, prefixed', () => {
    const spans = new InMemorySpanExporter();
    const withBaggage = new TracerProvider({
      spanProcessors: [new BaggageAttributes(), new SimpleSpanProcessor({ exporter: spans })],
    });
    const baggage = propagation.createBaggage({
      'customer.tier': { value: 'gold' },
      'http.route': { value: 'x' },
    });
    withBaggage
      .getTracer('test')
      .startSpan('with', {}, propagation.setBaggage(context.active(), baggage))
      .end();
    withBaggage.getTracer('test').startSpan('without').end();
    assert.deepEqual(
      spans.getFinishedSpans().map((span) => [span.name, span.attributes]),
      [
        ['with', { 'baggage.customer.tier': 'gold', 'baggage.http.route': 'x' }],
        ['without', {}],
      ],
    );
  });
});
