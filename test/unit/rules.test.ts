import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessFraud } from '../../functions/fraud/rules';
import { declineReason } from '../../functions/payment/rules';
import { DomainError } from '../../functions/shared/contracts/errors';
import { allocate } from '../../functions/warehouse/service';

const ORDER_ID = '6f1d0c9e-2b1a-4c3d-9e8f-0a1b2c3d4e5f';
const request = {
  order_id: ORDER_ID,
  user_id: '123',
  amount_cents: 4999,
  payment_method: 'credit_card' as const,
};

describe('fraud rules', () => {
  const rules = (percentage: number, draw: number) => ({
    blockedUserIds: new Set(['666']),
    percentage,
    random: () => draw,
  });

  it('always flags a blocked user, whatever the random draw', () => {
    assert.deepEqual(assessFraud({ ...request, user_id: '666' }, rules(0, 0.99)), {
      verdict: 'fraudulent',
      reason: 'blocked_user',
    });
  });

  it('flags FRAUD_PERCENTAGE percent of the rest at random', () => {
    assert.equal(assessFraud(request, rules(5, 0.049)).verdict, 'fraudulent');
    assert.equal(assessFraud(request, rules(5, 0.05)).verdict, 'legitimate');
    assert.deepEqual(assessFraud(request, rules(0, 0)), { verdict: 'legitimate', reason: 'passed' });
  });
});

describe('payment rules', () => {
  const rules = { limit: 5000, declinedCardSuffix: '0002' };
  it('declines amounts over the limit', () => {
    assert.equal(
      declineReason({ ...request, amount_cents: 500_001 }, rules),
      'Payment declined: amount exceeds the limit of 5000',
    );
    assert.equal(declineReason({ ...request, amount_cents: 500_000 }, rules), undefined);
  });
  it('declines the test card ending in 0002 and nothing else', () => {
    assert.equal(
      declineReason({ ...request, card_last4: '0002' }, rules),
      'Payment declined by the card issuer',
    );
    assert.equal(declineReason({ ...request, card_last4: '4242' }, rules), undefined);
  });
});

describe('warehouse allocation', () => {
  const stock = [
    { item_id: 'sku001', location: 'Warehouse-B', available_quantity: 40 },
    { item_id: 'sku001', location: 'Warehouse-A', available_quantity: 3 },
    { item_id: 'sku002', location: 'Warehouse-A', available_quantity: 30 },
  ];
  it('takes each item from the first location, by name, that holds all of it', () => {
    const items = [
      { item_id: 'sku001', quantity: 2 },
      { item_id: 'sku002', quantity: 30 },
    ];
    assert.deepEqual(allocate({ order_id: ORDER_ID, items }, stock), [
      { item_id: 'sku001', location: 'Warehouse-A', quantity: 2 },
      { item_id: 'sku002', location: 'Warehouse-A', quantity: 30 },
    ]);
    assert.deepEqual(allocate({ order_id: ORDER_ID, items: [{ item_id: 'sku001', quantity: 10 }] }, stock), [
      { item_id: 'sku001', location: 'Warehouse-B', quantity: 10 },
    ]);
  });
  it('refuses with out_of_stock when no single location can supply an item', () => {
    assert.throws(
      () => allocate({ order_id: ORDER_ID, items: [{ item_id: 'sku001', quantity: 41 }] }, stock),
      (error: unknown) =>
        error instanceof DomainError && error.category === 'out_of_stock' && error.status === 409,
    );
  });
});
