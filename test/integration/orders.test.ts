import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../scripts/lib/eventually';
import { assertJsonBody, getItem, SEED_PAYLOAD, type Stack, startStack } from '../support/offline-stack';

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

describe('orders through the six functions of the order path on serverless-offline', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.stop());

  it('creates the seed order, answers 201 with the trace id, and reads it back', async () => {
    const response = await stack.post('/api/order', SEED_PAYLOAD);
    assert.equal(response.status, 201);
    assert.match(String(response.headers.get('content-type')), /^application\/json/);
    const orderId = String(response.body.order_id);
    assert.match(orderId, UUID);
    const SEED_LINES = [{ item_id: 'sku001', quantity: 1, unit_price: '49.99', line_total: '49.99' }];
    assertJsonBody(response, {
      status: 'success',
      message: `Order ${orderId} created and payment authorized`,
      order_id: orderId,
      total: '49.99',
      lines: SEED_LINES,
    });
    assert.equal(response.headers.get('location'), `/api/order/${orderId}`);

    const read = await stack.get(`/api/order/${orderId}`);
    assert.equal(read.status, 200);
    const { trace_id: readTraceId, ...view } = read.body;
    assert.match(String(readTraceId), /^[\da-f]{32}$/, 'the read is a trace of its own');
    assert.deepEqual(view, {
      order_id: orderId,
      status: 'COMPLETED',
      items: [{ item_id: 'sku001', quantity: 1 }],
      total: '49.99',
      lines: SEED_LINES,
      created_at: view.created_at,
      updated_at: view.updated_at,
    });
    // Who ordered, how it was paid and its trace are not for anyone holding the id: the internal route has them.
    const internal = await stack.get(`/order/${orderId}`);
    assert.equal(internal.body.user_id, '123');
    assert.equal(typeof internal.body.authorization_id, 'string');
    assert.equal(internal.body.order_trace_id, response.body.trace_id, 'the trace that created it');
    assert.equal(internal.body.shipping_address, undefined, 'the address is never echoed back');

    const stock = await stack.stock();
    assert.equal(stock.inventory.sku001, 999);
    assert.equal(stock.warehouse['sku001@Warehouse-A'], 999);
    // Committed from the orders table's stream, after the answer (functions/committer).
    for (const table of ['inventoryReservations', 'warehouseReservations'] as const) {
      await eventually(
        async () =>
          (await getItem(stack.db, table, { order_id: orderId }))?.status === 'COMMITTED' ? true : undefined,
        { what: `${table}: the completed order's stock is sold` },
      );
    }
  });

  it('refuses to release the stock of a completed order: 409 committed, and nothing changes', async () => {
    const created = await stack.post('/api/order', SEED_PAYLOAD);
    assert.equal(created.status, 201);
    // The stream's consumer commits it (functions/committer).
    await eventually(
      async () =>
        (await getItem(stack.db, 'orders', { order_id: created.body.order_id }))?.committed_at
          ? true
          : undefined,
      { what: `order ${created.body.order_id} committed` },
    );
    const before = await stack.stock();
    const release = await stack.post('/inventory/release', { order_id: created.body.order_id });
    assert.equal(release.status, 409);
    assertJsonBody(release, {
      status: 'failure',
      message: `The inventory reservation of order ${created.body.order_id} is committed: its order completed, and sold stock is not released`,
      category: 'committed',
    });
    const direct = await stack.post('/warehouse/release', { order_id: created.body.order_id });
    assert.equal(direct.status, 409);
    assert.equal(direct.body.category, 'committed');
    assert.deepEqual(await stack.stock(), before);
  });

  it("prices an order from the catalog: the client's amount is only a check", async () => {
    await stack.setStock('priced', 10, { 'Warehouse-A': 10 }, 1234);
    const items = [{ item_id: 'priced', quantity: 3 }];
    const matching = await stack.post('/api/order', { ...SEED_PAYLOAD, items, amount: '37.02' });
    assert.equal(matching.status, 201, JSON.stringify(matching.body));
    assert.equal(matching.body.total, '37.02');
    assert.deepEqual(matching.body.lines, [
      { item_id: 'priced', quantity: 3, unit_price: '12.34', line_total: '37.02' },
    ]);
    const stored = (await stack.scan('orders')).find((order) => order.order_id === matching.body.order_id);
    assert.equal(stored?.total_cents, 3702, 'stored in exact cents');
    const spans = await stack.get(`/order/${matching.body.order_id}`);
    assert.equal(spans.body.total, '37.02');

    // The report: 500 units for one cent. Refused before anything is reserved, and nothing sold.
    const before = await stack.stock();
    const cheap = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      items: [{ item_id: 'sku001', quantity: 500 }],
      amount: '0.01',
    });
    assert.equal(cheap.status, 422, JSON.stringify(cheap.body));
    assertJsonBody(cheap, {
      status: 'failure',
      message: 'The order totals 24995.00 at catalog prices, not 0.01',
      category: 'amount_mismatch',
    });
    assert.deepEqual(await stack.stock(), before);
  });

  it('answers 404 for an unknown sku and writes no stock', async () => {
    const before = await stack.stock();
    const response = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      items: [{ item_id: 'sku404', quantity: 1 }],
    });
    assert.equal(response.status, 404);
    assertJsonBody(response, {
      status: 'failure',
      message: 'Unknown item sku404',
      category: 'not_found',
    });
    assert.deepEqual(await stack.stock(), before);
  });

  it('answers 409 for insufficient stock and reserves nothing of a multi-item order', async () => {
    const before = await stack.stock();
    const response = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      items: [
        { item_id: 'sku001', quantity: 2 },
        { item_id: 'sku002', quantity: 31 },
      ],
    });
    assert.equal(response.status, 409);
    assert.equal(response.body.category, 'out_of_stock');
    assert.equal(response.body.message, 'Insufficient stock for sku002: 30 available, 31 requested');
    assert.deepEqual(await stack.stock(), before);
  });

  it('answers 409 when the warehouse cannot supply what inventory reserved, and gives inventory back', async () => {
    await stack.setStock('sku003', 10, { 'Warehouse-A': 2 });
    const response = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      items: [{ item_id: 'sku003', quantity: 5 }],
    });
    assert.equal(response.status, 409);
    assert.equal(response.body.category, 'out_of_stock');
    assert.match(String(response.body.message), /warehouse stock for sku003/);
    const stock = await stack.stock();
    assert.equal(stock.inventory.sku003, 10);
    assert.equal(stock.warehouse['sku003@Warehouse-A'], 2);
  });

  it('answers 403 for fraud, records the order as FAILED, and releases its stock', async () => {
    const before = await stack.stock();
    const response = await stack.post('/api/order', { ...SEED_PAYLOAD, user_id: '666' });
    assert.equal(response.status, 403);
    assert.equal(response.body.category, 'fraud_detected');
    assert.equal(response.body.message, 'Payment rejected: the transaction was flagged as fraudulent');
    assert.deepEqual(await stack.stock(), before);
    const orders = await stack.scan('orders');
    const failed = orders.find((order) => order.user_id === '666');
    assert.equal(failed?.status, 'FAILED');
    assert.equal(failed?.failure_category, 'fraud_detected');
    assert.equal(failed?.compensated, true);
  });

  it('answers 402 for a declined payment (over the limit, or a declined card) and releases its stock', async () => {
    const before = await stack.stock();
    // 101 × 49.99 = 5048.99 at the catalog price: over the limit, whatever the client would have said.
    const overLimit = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      items: [{ item_id: 'sku001', quantity: 101 }],
    });
    assert.equal(overLimit.status, 402);
    assert.equal(overLimit.body.category, 'payment_declined');
    assert.equal(overLimit.body.message, 'Payment declined: amount exceeds the limit of 5000');
    const declinedCard = await stack.post('/api/order', {
      ...SEED_PAYLOAD,
      card: { number: '4000000000000002', expiry: '12/30' },
    });
    assert.equal(declinedCard.status, 402);
    assert.equal(declinedCard.body.message, 'Payment declined by the card issuer');
    assert.deepEqual(await stack.stock(), before);
  });

  it('answers 404 for an order that does not exist', async () => {
    const response = await stack.get('/api/order/00000000-0000-4000-8000-000000000000');
    assert.equal(response.status, 404);
    assertJsonBody(response, {
      status: 'failure',
      message: 'Order 00000000-0000-4000-8000-000000000000 not found',
      category: 'not_found',
    });
  });
});
