import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { invokeForResult } from '#local-runtime/lambda-api.cjs';
import { eventually } from '../../scripts/lib/eventually';
import { localTable } from '../../scripts/lib/local-tables';
import { OtlpReceiver, type ReceivedSpan, SPAN_KIND } from '../../scripts/lib/otlp-receivers';
import { getItem, SEED_PAYLOAD, type Stack, startStack } from '../support/offline-stack';
import { describeSpans, explaining } from '../support/traces';

const ORDERS_TABLE = localTable('orders');
const oneUnitOf = (itemId: string) => ({ ...SEED_PAYLOAD, items: [{ item_id: itemId, quantity: 1 }] });

/** Waits until the order's stock is committed, through the stream, and answers the order. */
async function committedOrder(stack: Stack, orderId: string) {
  return eventually(
    async () => {
      const order = await getItem(stack.db, 'orders', { order_id: orderId });
      return order?.committed_at ? order : undefined;
    },
    {
      what: `order ${orderId} committed through the stream`,
      seen: () =>
        stack.offline
          .output()
          .split('\n')
          .filter((line) => /committer|stream/.test(line))
          .join('\n'),
    },
  );
}

describe("a completed order's stock is committed from the orders table's stream", () => {
  let stack: Stack;
  const failedRecords = mkdtempSync(path.join(tmpdir(), 'failed-records-'));
  before(async () => {
    stack = await startStack({
      env: {
        OFFLINE_FAILED_RECORDS_DIR: failedRecords,
        // The reaper stays out of the way: what is committed here, the stream committed.
        REAPER_INTERVAL_SECONDS: '0',
      },
    });
  });
  after(async () => {
    await stack?.stop();
    rmSync(failedRecords, { recursive: true, force: true });
  });

  it('answers 201 once COMPLETED is written, and the stream commits the reservations', async () => {
    await stack.setStock('streamed', 10, { 'Warehouse-A': 10 });
    const response = await stack.post('/api/order', oneUnitOf('streamed'));
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const orderId = String(response.body.order_id);
    const order = await committedOrder(stack, orderId);
    assert.equal(order.status, 'COMPLETED');
    assert.equal(order.unsettled, undefined, 'settled: it left the reaper index');
    for (const table of ['inventoryReservations', 'warehouseReservations']) {
      const reservation = await getItem(stack.db, table, { order_id: orderId });
      assert.equal(reservation?.status, 'COMMITTED', table);
    }
  });

  it('commits a record delivered twice once', async () => {
    await stack.setStock('twice', 10, { 'Warehouse-A': 10 });
    const response = await stack.post('/api/order', oneUnitOf('twice'));
    const orderId = String(response.body.order_id);
    await committedOrder(stack, orderId);
    const before = await stack.stock();
    const record = {
      eventID: 'redelivered',
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${ORDERS_TABLE}/stream/x`,
      dynamodb: {
        SequenceNumber: '1',
        NewImage: { order_id: { S: orderId }, status: { S: 'COMPLETED' }, trace_id: { S: '0'.repeat(32) } },
        OldImage: { order_id: { S: orderId }, status: { S: 'RESERVED' } },
      },
    };
    const answer = await invokeForResult(stack.lambdaApiUrl, 'orders-local-committer', { Records: [record] });
    assert.deepEqual(answer, { result: { batchItemFailures: [] } });
    assert.deepEqual(await stack.stock(), before, 'no unit moved');
    const reservation = await getItem(stack.db, 'inventoryReservations', { order_id: orderId });
    assert.equal(reservation?.status, 'COMMITTED');
  });

  it('retries a failing record, then sets it aside with one line, while the records behind it commit', async () => {
    // A completed order inventory refuses to commit (its id is no order id): it fails every delivery.
    const poison = 'not-an-order-id';
    await stack.db.send(
      new PutCommand({
        TableName: ORDERS_TABLE,
        Item: { order_id: poison, status: 'RESERVED', trace_id: '0'.repeat(32) },
      }),
    );
    await stack.db.send(
      new UpdateCommand({
        TableName: ORDERS_TABLE,
        Key: { order_id: poison },
        UpdateExpression: 'SET #status = :completed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':completed': 'COMPLETED' },
      }),
    );
    await stack.setStock('behind', 10, { 'Warehouse-A': 10 });
    const response = await stack.post('/api/order', oneUnitOf('behind'));
    await committedOrder(stack, String(response.body.order_id));
    const line = await eventually(
      () =>
        /committer: stream record \d+ \([^)]+\) set aside, its retries ran out \(4 attempt\(s\)\): (\S+failed-records\.jsonl)/.exec(
          stack.offline.output(),
        ) ?? undefined,
      {
        what: 'the line that sets the poison record aside',
        seen: () =>
          stack.offline
            .output()
            .split('\n')
            .filter((line) => /committer|not-an-order-id/.test(line))
            .join('\n'),
      },
    );
    const [setAside] = readFileSync(path.resolve(String(line[1])), 'utf8')
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text));
    assert.equal(setAside.record.dynamodb.NewImage.order_id.S, poison);
    assert.equal(setAside.requestContext.approximateInvokeCount, 4);
    assert.equal((await getItem(stack.db, 'orders', { order_id: poison }))?.committed_at, undefined);
  });
});

describe('a consumer that crashes on every delivery', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      env: {
        // It dies after committing, before settling: the stream delivers the record again, and again.
        CHAOS: 'stock-committer:crash=1,crash_at=stock_committed',
        CHAOS_SEED: '1',
        OFFLINE_FAILED_RECORDS_DIR: mkdtempSync(path.join(tmpdir(), 'failed-records-')),
      },
    });
  });
  after(() => stack?.stop());

  it('commits once, and the order settles all the same: the reaper finishes what the stream gave up on', async () => {
    await stack.setStock('crashing', 10, { 'Warehouse-A': 10 });
    const before = await stack.stock();
    const response = await stack.post('/api/order', oneUnitOf('crashing'));
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const orderId = String(response.body.order_id);
    await eventually(() => /set aside, its retries ran out/.test(stack.offline.output()) || undefined, {
      what: 'the record set aside after its retries',
      seen: () => stack.offline.output().slice(-2000),
      timeoutMs: 60_000,
    });
    const order = await eventually(
      async () => {
        const found = await getItem(stack.db, 'orders', { order_id: orderId });
        return found?.committed_at ? found : undefined;
      },
      {
        what: `order ${orderId} settled by the reaper`,
        seen: () => stack.offline.output().slice(-2000),
        timeoutMs: 60_000,
      },
    );
    assert.equal(order.unsettled, undefined);
    const after = await stack.stock();
    assert.equal(after.inventory.crashing, (before.inventory.crashing ?? 0) - 1, 'one unit sold, once');
    // The reaper logs after its write, and a function's log reaches this process after the write is readable.
    await eventually(
      () => /reaper: committed the stock of completed order/.test(stack.offline.output()) || undefined,
      {
        what: "the reaper's line for the order it settled",
        seen: () => stack.offline.output().slice(-2000),
      },
    );
  });
});

describe("the order's trace continues across the stream", () => {
  let stack: Stack;
  const otlp = new OtlpReceiver();
  before(async () => {
    await otlp.start();
    stack = await startStack({ env: { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
  });
  after(async () => {
    await stack?.stop();
    await otlp.stop();
  });

  it("runs the record in a CONSUMER span, the child of the write's PRODUCER span; the commit below it; the batch span links it", async () => {
    await stack.setStock('traced', 10, { 'Warehouse-A': 10 });
    const response = await stack.post('/api/order', oneUnitOf('traced'));
    assert.equal(response.status, 201);
    const traceId = String(response.body.trace_id);
    const spans = await eventually(
      () => {
        const found = otlp.trace(traceId);
        // Settled: the consumer's own write, the last thing it does for the record.
        return found.some(
          (span) => span.serviceName === 'stock-committer' && span.name === 'DynamoDB.UpdateItem',
        )
          ? found
          : undefined;
      },
      { what: `the commit's spans in trace ${traceId}`, seen: () => describeSpans(otlp.trace(traceId)) },
    );
    await explaining(
      () => describeSpans(spans),
      () => {
        const producer = spans.find((span) => span.kind === SPAN_KIND.PRODUCER) as ReceivedSpan;
        assert.equal(producer?.serviceName, 'order-service');
        assert.equal(producer.name, `publish ${ORDERS_TABLE}`);
        assert.equal(producer.attributes['messaging.system'], 'aws_dynamodb_streams');
        const consumer = spans.find((span) => span.kind === SPAN_KIND.CONSUMER) as ReceivedSpan;
        assert.equal(consumer?.serviceName, 'stock-committer');
        assert.equal(consumer.name, `process ${ORDERS_TABLE}`);
        assert.equal(consumer.parentSpanId, producer.spanId, 'the consumer continues the producer');
        assert.equal(consumer.attributes['messaging.operation.type'], 'process');
        const byId = new Map(spans.map((span) => [span.spanId, span]));
        const ancestors = (span: ReceivedSpan): string[] => {
          const parent = byId.get(span.parentSpanId);
          return parent ? [parent.spanId, ...ancestors(parent)] : [];
        };
        const commits = spans.filter(
          (span) => span.kind === SPAN_KIND.SERVER && ancestors(span).includes(consumer.spanId),
        );
        assert.deepEqual(
          commits.map((span) => span.serviceName).sort(),
          ['inventory-service', 'warehouse-service'],
          "the commit's invocations are below the record's span",
        );
      },
    );
    const batch = await eventually(
      () =>
        otlp.spans.find(
          (span) =>
            span.serviceName === 'stock-committer' &&
            span.kind === SPAN_KIND.SERVER &&
            span.links.some((link) => link.traceId === traceId),
        ),
      {
        what: "the batch's invocation span, linking the record's context",
        seen: () => describeSpans(otlp.spans),
      },
    );
    assert.notEqual(batch.traceId, traceId, 'the batch has a trace of its own');
    assert.equal(batch.attributes['messaging.batch.message_count'], 1);
  });
});
