import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ABANDONED_REASON, type ReapSummary, reapAbandonedOrders } from '../../functions/reaper/service';
import { DomainError } from '../../functions/shared/contracts/errors';
import type { OrderRecord, OrderStatus, RecoveryStore } from '../../functions/shared/data/order-store';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterEach(() => exporter.reset());
after(() => provider.shutdown());

const ORDER_TRACE = 'a'.repeat(32);
const ORDER_SPAN = 'b'.repeat(16);

function order(id: string, status: OrderStatus, fields: Partial<OrderRecord> = {}): OrderRecord {
  return {
    order_id: id,
    status,
    user_id: 'u',
    items: [{ item_id: 'sku001', quantity: 1 }],
    payment_method: 'paypal',
    shipping_address: 'x',
    trace_id: ORDER_TRACE,
    span_id: ORDER_SPAN,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    deadline: '2026-01-01T00:00:11.000Z',
    unsettled: 'yes',
    ...fields,
  };
}

/**
 * The store's rules in memory: abandon only a non-final order past its deadline; settle only a FAILED one.
 * `beforeAbandon` lets a test slip a late completion in between the query and the reaper's write.
 */
class MemoryRecoveryStore implements RecoveryStore {
  readonly table = 'orders';
  readonly records = new Map<string, OrderRecord>();
  beforeAbandon: (record: OrderRecord) => void = () => {};
  constructor(orders: OrderRecord[]) {
    for (const record of orders) this.records.set(record.order_id, { ...record });
  }
  async create() {
    throw new Error('the reaper never creates orders');
  }
  async transition() {
    throw new Error('the reaper changes orders only through abandon and settleReleased');
  }
  async get(orderId: string) {
    const record = this.records.get(orderId);
    return record && { ...record };
  }
  async overdue(now: string) {
    return [...this.records.values()]
      .filter((record) => record.unsettled !== undefined && record.deadline <= now)
      .map((record) => ({ ...record }));
  }
  async abandon(orderId: string, now: string, reason: string) {
    const record = this.records.get(orderId) as OrderRecord;
    this.beforeAbandon(record);
    if (!['PENDING', 'RESERVED'].includes(record.status) || record.deadline > now) return false;
    Object.assign(record, { status: 'FAILED', failure_category: 'abandoned', failure_reason: reason });
    record.compensated = false;
    return true;
  }
  async settleCompleted(orderId: string, now: string, conflict?: string) {
    const record = this.records.get(orderId) as OrderRecord;
    assert.equal(record.status, 'COMPLETED', 'only a COMPLETED order is settled by a commit');
    Object.assign(record, conflict ? { commit_conflict: conflict } : { committed_at: now });
    delete record.unsettled;
  }
  async settleReleased(orderId: string, now: string) {
    const record = this.records.get(orderId) as OrderRecord;
    assert.equal(record.status, 'FAILED', 'only a FAILED order is settled by a release');
    Object.assign(record, { compensated: true, recovered_at: now });
    delete record.unsettled;
  }
}

/** A fake inventory: records releases and commits; `commitRefusal` answers every commit with that error. */
function inventory(fail = false, commitRefusal?: Error) {
  const released: string[] = [];
  const committed: string[] = [];
  return {
    released,
    committed,
    async post<T>(path: string, body: unknown): Promise<T> {
      assert.ok(['POST /inventory/release', 'POST /inventory/commit'].includes(path), path);
      if (fail) throw new Error('inventory unreachable');
      const orderId = (body as { order_id: string }).order_id;
      if (path === 'POST /inventory/commit') {
        if (commitRefusal) throw commitRefusal;
        committed.push(orderId);
      } else released.push(orderId);
      return {} as T;
    },
  };
}

const NOW = new Date('2026-01-01T00:01:00.000Z');

/** A run's summary with the counts given and every other count 0. */
function counted(counts: Partial<ReapSummary>): ReapSummary {
  return {
    overdue: 0,
    recovered: 0,
    released: 0,
    committed: 0,
    conflicted: 0,
    skipped: 0,
    failed: 0,
    ...counts,
  };
}

describe('reaper', () => {
  it('marks an abandoned order FAILED/abandoned, releases its stock, and links its span to the order', async () => {
    const store = new MemoryRecoveryStore([order('o-1', 'RESERVED')]);
    const client = inventory();
    const summary = await reapAbandonedOrders({ store, inventory: client, batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({ overdue: 1, recovered: 1 }));
    assert.deepEqual(client.released, ['o-1']);
    const record = store.records.get('o-1');
    assert.equal(record?.status, 'FAILED');
    assert.equal(record?.failure_category, 'abandoned');
    assert.equal(record?.failure_reason, ABANDONED_REASON);
    assert.equal(record?.compensated, true);
    assert.equal(record?.unsettled, undefined);

    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.name, 'reaper.recover');
    assert.equal(span?.kind, SpanKind.INTERNAL);
    assert.deepEqual(span?.attributes, {
      'order.id': 'o-1',
      'order.trace_id': ORDER_TRACE,
      'order.status_before': 'RESERVED',
      'reaper.outcome': 'recovered',
    });
    assert.deepEqual(
      span?.links.map((link) => [link.context.traceId, link.context.spanId, link.attributes]),
      [[ORDER_TRACE, ORDER_SPAN, { 'link.reason': 'recovers_abandoned_order' }]],
    );
  });

  it('never reaps an order that completes between the query and the write', async () => {
    const store = new MemoryRecoveryStore([order('o-2', 'RESERVED')]);
    store.beforeAbandon = (record) => {
      record.status = 'COMPLETED';
      delete record.unsettled;
    };
    const client = inventory();
    const summary = await reapAbandonedOrders({ store, inventory: client, batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({ overdue: 1, skipped: 1 }));
    assert.deepEqual(client.released, [], 'a sold order keeps its stock');
    assert.equal(store.records.get('o-2')?.status, 'COMPLETED');
  });

  it('finishes a failed order whose own compensation gave up, keeping its category', async () => {
    const failed = order('o-3', 'FAILED', { failure_category: 'downstream_timeout', compensated: false });
    const store = new MemoryRecoveryStore([failed]);
    const summary = await reapAbandonedOrders({ store, inventory: inventory(), batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({ overdue: 1, released: 1 }));
    const record = store.records.get('o-3');
    assert.equal(record?.failure_category, 'downstream_timeout');
    assert.equal(record?.compensated, true);
  });

  it('leaves an order unsettled for the next run when its stock cannot be released yet', async () => {
    const store = new MemoryRecoveryStore([order('o-4', 'PENDING')]);
    const summary = await reapAbandonedOrders({ store, inventory: inventory(true), batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({ overdue: 1, failed: 1 }));
    const record = store.records.get('o-4');
    assert.equal(record?.status, 'FAILED', 'abandoned: it can no longer complete');
    assert.equal(record?.unsettled, 'yes', 'still in the index');
    const retry = await reapAbandonedOrders({ store, inventory: inventory(), batchSize: 10 }, NOW);
    assert.deepEqual(retry, counted({ overdue: 1, released: 1 }));
  });

  it('commits the stock of a completed order whose function died before committing it', async () => {
    const store = new MemoryRecoveryStore([order('o-6', 'COMPLETED', { authorization_id: 'auth-6' })]);
    const client = inventory();
    const summary = await reapAbandonedOrders({ store, inventory: client, batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({ overdue: 1, committed: 1 }));
    assert.deepEqual(client.committed, ['o-6']);
    assert.deepEqual(client.released, [], 'a completed order goes forward, never back');
    const record = store.records.get('o-6');
    assert.equal(record?.status, 'COMPLETED');
    assert.equal(typeof record?.committed_at, 'string');
    assert.equal(record?.unsettled, undefined);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.attributes['reaper.outcome'], 'committed');
  });

  it('settles a completed order whose stock was released before it could be committed, and says so', async () => {
    const store = new MemoryRecoveryStore([order('o-7', 'COMPLETED')]);
    const refusal = new DomainError('conflict', 'The inventory reservation of order o-7 was released');
    const summary = await reapAbandonedOrders(
      { store, inventory: inventory(false, refusal), batchSize: 10 },
      NOW,
    );
    assert.equal(summary.conflicted, 1);
    const record = store.records.get('o-7');
    assert.equal(record?.commit_conflict, refusal.message);
    assert.equal(record?.unsettled, undefined, 'out of the index: a retry cannot bring the stock back');
  });

  it("puts every count of a run's summary on the span it runs in", async () => {
    const store = new MemoryRecoveryStore([order('o-8', 'COMPLETED'), order('o-9', 'RESERVED')]);
    const refusal = new DomainError('conflict', 'The inventory reservation of order o-8 was released');
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('reaper run', async (run) => {
      await reapAbandonedOrders({ store, inventory: inventory(false, refusal), batchSize: 10 }, NOW);
      run.end();
    });
    const run = exporter.getFinishedSpans().find((span) => span.name === 'reaper run');
    assert.deepEqual(run?.attributes, {
      'reaper.overdue': 2,
      'reaper.recovered': 1,
      'reaper.released': 0,
      'reaper.committed': 0,
      'reaper.conflicted': 1,
      'reaper.skipped': 0,
      'reaper.failed': 0,
    });
  });

  it('leaves orders before their deadline alone', async () => {
    const store = new MemoryRecoveryStore([
      order('o-5', 'PENDING', { deadline: '2026-01-01T00:02:00.000Z' }),
    ]);
    const summary = await reapAbandonedOrders({ store, inventory: inventory(), batchSize: 10 }, NOW);
    assert.deepEqual(summary, counted({}));
    assert.equal(exporter.getFinishedSpans().length, 0);
  });
});
