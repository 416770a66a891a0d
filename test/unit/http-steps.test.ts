import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { DomainError } from '../../functions/shared/contracts/errors';
import { API } from '../../functions/shared/contracts/schemas';
import { ChaosMonkey } from '../../functions/shared/faults/chaos';
import {
  correlateOrder,
  type Exchange,
  injectChaos,
  invocationContext,
  mapErrors,
  pipeline,
  type Step,
  validateInput,
} from '../../functions/shared/http/steps';
import { currentInvocation, runInvocation } from '../../functions/shared/runtime/invocation';

const ORDER = '00000000-0000-4000-8000-000000000007';

function exchange(overrides: Partial<Exchange> = {}): Exchange {
  return {
    event: {
      httpMethod: 'POST',
      path: '/inventory/release',
      body: JSON.stringify({ order_id: ORDER }),
      isBase64Encoded: false,
      pathParameters: null,
    } as APIGatewayProxyEvent,
    request: {
      headers: { 'content-type': 'application/json' },
      traceId: 'a'.repeat(32),
      context: { getRemainingTimeInMillis: () => 2_000 } as Context,
    },
    contract: API['POST /inventory/release'],
    input: {},
    ...overrides,
  };
}

const ok = async () => ({ statusCode: 200, body: {} });

describe('HTTP adapter steps, each alone', () => {
  it('pipeline runs the steps in order around the endpoint', async () => {
    const seen: string[] = [];
    const step =
      (name: string): Step =>
      async (_exchange, next) => {
        seen.push(`${name} before`);
        const result = await next();
        seen.push(`${name} after`);
        return result;
      };
    await pipeline([step('outer'), step('inner')], async () => {
      seen.push('endpoint');
      return { statusCode: 204, body: {} };
    })(exchange());
    assert.deepEqual(seen, ['outer before', 'inner before', 'endpoint', 'inner after', 'outer after']);
  });

  it('invocationContext gives the rest the trace id and a deadline from the remaining time', async () => {
    const before = Date.now();
    await invocationContext(exchange(), async () => {
      const invocation = currentInvocation();
      assert.equal(invocation?.traceId, 'a'.repeat(32));
      assert.ok((invocation?.deadline ?? 0) >= before + 2_000);
      return ok();
    });
  });

  it('mapErrors answers a domain error with its status and category', async () => {
    const result = await mapErrors(exchange(), async () => {
      throw new DomainError('out_of_stock', 'none left');
    });
    assert.deepEqual(result, {
      statusCode: 409,
      body: { status: 'failure', message: 'none left', category: 'out_of_stock' },
    });
  });

  it('mapErrors answers a throttle with 429 and Retry-After, as the API does', async () => {
    const result = await mapErrors(exchange(), async () => {
      throw new DomainError('throttled', 'inventory-service is at its concurrency limit');
    });
    assert.deepEqual(result, {
      statusCode: 429,
      body: {
        status: 'failure',
        message: 'inventory-service is at its concurrency limit',
        category: 'throttled',
      },
      headers: { 'retry-after': '1' },
    });
  });

  it('validateInput parses the body with the contract and refuses an unknown field', async () => {
    const valid = exchange();
    await validateInput(valid, ok);
    assert.deepEqual(valid.input, { body: { order_id: ORDER }, params: undefined });
    const invalid = exchange({
      event: { ...exchange().event, body: JSON.stringify({ order_id: ORDER, extra: 1 }) },
    });
    await assert.rejects(validateInput(invalid, ok), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.deepEqual(error.fieldErrors, [{ field: 'body', message: 'unknown field(s): extra' }]);
      return true;
    });
  });

  it("correlateOrder puts the body's order_id, or the {id} parameter, on the invocation", async () => {
    for (const input of [{ body: { order_id: ORDER } }, { params: { id: ORDER } }]) {
      await runInvocation({ traceId: 'b'.repeat(32), deadline: Date.now() + 1_000 }, () =>
        correlateOrder(exchange({ input }), async () => {
          assert.equal(currentInvocation()?.orderId, ORDER);
          return ok();
        }),
      );
    }
  });

  it('injectChaos fails before the work when its plan says so, and then the work never runs', async () => {
    const monkey = ChaosMonkey.forFunction('inventory:failure=1,point=before', 'inventory', 1);
    let ran = false;
    await assert.rejects(
      injectChaos(monkey)(exchange(), async () => {
        ran = true;
        return ok();
      }),
      (error: unknown) => error instanceof DomainError && error.status === 500,
    );
    assert.equal(ran, false);
  });
});
