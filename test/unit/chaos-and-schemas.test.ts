import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCents, orderRequest } from '../../functions/shared/contracts/schemas';
import { ChaosMonkey, parseChaos } from '../../functions/shared/faults/chaos';
import { randomSource } from '../../functions/shared/runtime/random';

describe('chaos settings', () => {
  it('reads the entry for its own function and ignores the others', () => {
    const spec = 'inventory:failure=0.2,latency=10-50,point=after; fraud:latency=3000';
    const calm = { crashRate: 0, crashPoints: [] };
    assert.deepEqual(parseChaos(spec, 'inventory'), {
      failureRate: 0.2,
      latencyMs: [10, 50],
      point: 'after',
      ...calm,
    });
    assert.deepEqual(parseChaos(spec, 'fraud'), {
      failureRate: 0,
      latencyMs: [3000, 3000],
      point: 'either',
      ...calm,
    });
    assert.deepEqual(parseChaos(spec, 'payment'), {
      failureRate: 0,
      latencyMs: [0, 0],
      point: 'either',
      ...calm,
    });
  });

  it('rejects a malformed entry with its function name', () => {
    assert.throws(() => parseChaos('payment:failure=2', 'payment'), /Invalid CHAOS entry for payment/);
    assert.throws(() => parseChaos('payment:latency=soon', 'payment'), /Invalid CHAOS entry for payment/);
  });

  it('draws the same sequence for the same seed', () => {
    const plans = (seed: number) => {
      const monkey = new ChaosMonkey(parseChaos('x:failure=0.5,latency=0-100', 'x'), randomSource(seed));
      return Array.from({ length: 20 }, () => monkey.plan());
    };
    assert.deepEqual(plans(42), plans(42));
    assert.notDeepEqual(plans(42), plans(43));
    const failures = plans(42).filter((plan) => plan.failAt).length;
    assert.ok(failures > 2 && failures < 18, `about half fail: ${failures}`);
  });

  it('reads crash points, and rejects a crash without a known point', () => {
    assert.deepEqual(parseChaos('order:crash=0.5,crash_at=reserved|authorized', 'order'), {
      failureRate: 0,
      latencyMs: [0, 0],
      point: 'either',
      crashRate: 0.5,
      crashPoints: ['reserved', 'authorized'],
    });
    assert.throws(() => parseChaos('order:crash=0.5', 'order'), /crash needs crash_at/);
    assert.throws(() => parseChaos('order:crash=1,crash_at=lunch', 'order'), /crash_at is one or more of/);
  });

  it('crashes at a configured point at crash=1, and crash draws leave the other draws as they were', () => {
    const crashing = ChaosMonkey.forFunction('order:crash=1,crash_at=authorized,failure=0.5', 'order', 3);
    const calm = ChaosMonkey.forFunction('order:failure=0.5', 'order', 3);
    const plans = Array.from({ length: 20 }, () => [crashing.plan(), calm.plan()] as const);
    for (const [withCrash, without] of plans) {
      assert.equal(withCrash.crashAt, 'authorized');
      assert.deepEqual({ ...withCrash, crashAt: undefined }, { ...without, crashAt: undefined });
    }
  });

  it('fails every invocation at failure=1 and none at 0', () => {
    const always = new ChaosMonkey(parseChaos('x:failure=1,point=before', 'x'), randomSource(1));
    assert.equal(always.plan().failAt, 'before');
    const never = new ChaosMonkey(parseChaos('', 'x'), randomSource(1));
    assert.equal(never.enabled, false);
    assert.equal(never.plan().failAt, undefined);
  });
});

describe('order request schema', () => {
  const seed = {
    user_id: '123',
    items: [{ item_id: 'sku001', quantity: 1 }],
    amount: '49.99',
    payment_method: 'credit_card',
    shipping_address: '10 Main Street, CA',
  };

  it("accepts the seed's payload, with its string amount, as exact cents", () => {
    const parsed = orderRequest.parse(seed);
    assert.equal(parsed.amount, 4999);
    assert.equal(parsed.user_id, '123');
    assert.equal(orderRequest.parse({ ...seed, user_id: 123, amount: 10 }).user_id, '123');
    assert.equal(orderRequest.parse({ ...seed, amount: 0.1 }).amount, 10);
    assert.equal(orderRequest.parse({ ...seed, amount: '1000000.00' }).amount, 100_000_000);
    const { amount: _expected, ...withoutAmount } = seed;
    assert.equal(orderRequest.parse(withoutAmount).amount, undefined, 'the amount is only a check');
  });

  it('formats cents back to the decimal string, exactly', () => {
    assert.deepEqual([4999, 5, 100, 0].map(formatCents), ['49.99', '0.05', '1.00', '0.00']);
  });

  // The same two-decimal rule for numbers and strings: 0.30000000000000004 is refused, not rounded.
  for (const amount of ['-1', '0', 'abc', '1.234', 1e9, Number.NaN, '', 0.30000000000000004, 1.005, '1e3']) {
    it(`rejects amount ${JSON.stringify(amount)}`, () => {
      assert.equal(orderRequest.safeParse({ ...seed, amount }).success, false);
    });
  }
});
