import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOrder, findOrder } from '../../functions/order/service';
import { authorizePayment } from '../../functions/payment/service';
import { DomainError } from '../../functions/shared/contracts/errors';
import type { OrderRecord, OrderStatus, OrderStore } from '../../functions/shared/data/order-store';
import { runInvocation } from '../../functions/shared/runtime/invocation';

/** An in-memory store that enforces the same guarded transitions as the DynamoDB one. */
class MemoryStore implements OrderStore {
  readonly table = 'orders';
  readonly records = new Map<string, OrderRecord>();
  async create(record: OrderRecord) {
    assert.ok(!this.records.has(record.order_id));
    this.records.set(record.order_id, { ...record, unsettled: 'yes' });
  }
  async transition(orderId: string, from: OrderStatus[], to: OrderStatus, fields: Partial<OrderRecord> = {}) {
    const record = this.records.get(orderId);
    if (!record || !from.includes(record.status)) throw new Error(`illegal transition to ${to}`);
    Object.assign(record, fields, { status: to });
    if (to === 'FAILED' && fields.compensated === true) delete record.unsettled;
  }
  async get(orderId: string) {
    return this.records.get(orderId);
  }
  async settleCompleted(orderId: string, now: string, conflict?: string) {
    const record = this.records.get(orderId);
    assert.equal(record?.status, 'COMPLETED', 'only a COMPLETED order settles by a commit');
    Object.assign(record, conflict ? { commit_conflict: conflict } : { committed_at: now });
    delete record.unsettled;
  }
}

/** A fake downstream: answers per path, records every call. */
function downstream(answers: Record<string, Array<unknown | Error>>) {
  const calls: string[] = [];
  return {
    calls,
    async post<T>(path: string): Promise<T> {
      calls.push(path);
      const queue = answers[path] ?? [path === 'POST /inventory/reserve' ? RESERVED : {}];
      const answer = queue.length > 1 ? queue.shift() : queue[0];
      if (answer instanceof Error) throw answer;
      return answer as T;
    },
  };
}

const request = {
  user_id: '123',
  items: [{ item_id: 'sku001', quantity: 2 }],
  amount: 9998,
  payment_method: 'credit_card' as const,
  shipping_address: '10 Main Street, CA',
  card: { number: '4242424242424242', expiry: '12/30' },
};

/** Inventory's answer to the request below: two units of sku001 at its catalog price, 49.99. */
const RESERVED = {
  status: 'reserved',
  items: [{ item_id: 'sku001', quantity: 2, unit_price_cents: 4999 }],
  total_cents: 9998,
  allocations: [],
};

const inInvocation = <T>(fn: () => Promise<T>) =>
  runInvocation({ traceId: 'a'.repeat(32), deadline: Date.now() + 5_000 }, fn);

describe('order saga', () => {
  it('reserves, authorizes and completes, keeping only the last four card digits', async () => {
    const store = new MemoryStore();
    const inventory = downstream({});
    const payment = downstream({ 'POST /payment/authorize': [{ authorization_id: 'auth-1' }] });
    const created = await inInvocation(() =>
      createOrder(request, { store, inventory, payment, abandonMarginMs: 1_000 }),
    );
    assert.equal(created.authorization_id, 'auth-1');
    const record = store.records.get(created.order_id);
    assert.equal(record?.status, 'COMPLETED');
    assert.equal(record?.card_last4, '4242');
    assert.equal(record?.trace_id, 'a'.repeat(32));
    assert.ok(!JSON.stringify(record).includes('4242424242424242'));
    // The commit is the stream consumer's (functions/committer): the order answers once COMPLETED is written.
    assert.deepEqual(inventory.calls, ['POST /inventory/reserve']);
    assert.equal(record?.unsettled, 'yes', 'unsettled until its stock is committed');
    const view = await findOrder(created.order_id, store);
    assert.equal(view.order_trace_id, 'a'.repeat(32));
    assert.equal('shipping_address' in view, false);
  });

  it('releases the reservation and records FAILED when payment declines', async () => {
    const store = new MemoryStore();
    const inventory = downstream({});
    const payment = downstream({
      'POST /payment/authorize': [new DomainError('payment_declined', 'Payment declined')],
    });
    await assert.rejects(
      inInvocation(() => createOrder(request, { store, inventory, payment, abandonMarginMs: 1_000 })),
      (error: unknown) => error instanceof DomainError && error.status === 402,
    );
    assert.deepEqual(inventory.calls, ['POST /inventory/reserve', 'POST /inventory/release']);
    const [record] = store.records.values();
    assert.equal(record?.status, 'FAILED');
    assert.equal(record?.failure_category, 'payment_declined');
    assert.equal(record?.compensated, true);
  });

  it('records FAILED without a release round trip when inventory refuses outright (sold out)', async () => {
    const store = new MemoryStore();
    const inventory = downstream({
      'POST /inventory/reserve': [new DomainError('out_of_stock', 'Insufficient stock for sku001')],
    });
    const payment = downstream({});
    await assert.rejects(
      inInvocation(() => createOrder(request, { store, inventory, payment, abandonMarginMs: 1_000 })),
      (error: unknown) => error instanceof DomainError && error.status === 409,
    );
    assert.deepEqual(inventory.calls, ['POST /inventory/reserve']);
    const [record] = store.records.values();
    assert.equal(record?.status, 'FAILED');
    assert.equal(record?.failure_category, 'out_of_stock');
    assert.equal(record?.compensated, true, 'nothing was held');
  });

  it('compensates after an inventory timeout, retrying the release until it succeeds', async () => {
    const store = new MemoryStore();
    const flaky = new DomainError('downstream_failure', 'inventory-service failed');
    const inventory = downstream({
      'POST /inventory/reserve': [
        new DomainError('downstream_timeout', 'inventory-service did not answer in time'),
      ],
      'POST /inventory/release': [flaky, flaky, {}],
    });
    const payment = downstream({});
    await assert.rejects(
      inInvocation(() => createOrder(request, { store, inventory, payment, abandonMarginMs: 1_000 })),
      (error: unknown) => error instanceof DomainError && error.status === 504,
    );
    assert.deepEqual(inventory.calls, [
      'POST /inventory/reserve',
      'POST /inventory/release',
      'POST /inventory/release',
      'POST /inventory/release',
    ]);
    assert.deepEqual(payment.calls, [], 'no payment without a reservation');
    assert.equal([...store.records.values()][0]?.compensated, true);
  });

  it('answers not_found for an unknown order', async () => {
    await assert.rejects(findOrder('missing', new MemoryStore()), /Order missing not found/);
  });
});

describe('payment', () => {
  const rules = { limit: 5000, declinedCardSuffix: '0002' };
  const payment = { order_id: 'o', user_id: '1', amount_cents: 1000, payment_method: 'paypal' as const };

  it('authorizes when fraud finds the transaction legitimate', async () => {
    const fraud = downstream({ 'POST /fraud/check': [{ verdict: 'legitimate', reason: 'passed' }] });
    const result = await authorizePayment(payment, rules, fraud);
    assert.equal(result.status, 'authorized');
    assert.match(result.authorization_id, /^[\da-f-]{36}$/);
  });

  it('rejects with fraud_detected (403) when fraud flags it', async () => {
    const fraud = downstream({ 'POST /fraud/check': [{ verdict: 'fraudulent', reason: 'blocked_user' }] });
    await assert.rejects(
      authorizePayment(payment, rules, fraud),
      (error: unknown) =>
        error instanceof DomainError && error.category === 'fraud_detected' && error.status === 403,
    );
  });

  it('declines without asking fraud when a rule already declines', async () => {
    const fraud = downstream({});
    await assert.rejects(
      authorizePayment({ ...payment, amount_cents: 600_000 }, rules, fraud),
      /exceeds the limit/,
    );
    assert.deepEqual(fraud.calls, []);
  });
});
