import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flashSale } from '../../scripts/bench/hot-item';
import { SEED_PAYLOAD, type Stack, startStack } from '../support/stack';

const REQUEST_ID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

/**
 * One api-gateway instance (OFFLINE_MAX_INSTANCES=1) that takes longer than its 12 s timeout (CHAOS latency):
 * the first of six concurrent orders occupies it until it times out, and the other five find no instance
 * free within the 100 ms wait. Every answer is what the deployed API's Gateway Responses say.
 */
describe('overload: a function at its limit throttles, a timeout answers, as the deployed API does', () => {
  let stack: Stack;
  let answers: Awaited<ReturnType<Stack['post']>>[] = [];
  before(async () => {
    stack = await startStack({
      env: {
        OFFLINE_MAX_INSTANCES: '1',
        OFFLINE_THROTTLE_AFTER_MS: '100',
        OFFLINE_PREWARM: 'true',
        CHAOS: 'api-gateway:latency=13000',
        CHAOS_SEED: '1',
      },
    });
    answers = await Promise.all(Array.from({ length: 6 }, () => stack.post('/api/order', SEED_PAYLOAD)));
  });
  after(() => stack?.stop());

  it('prints "Server ready" only once every function is prewarmed', () => {
    const output = stack.offline.output();
    const prewarmed = output.search(/prewarm: 7 of 7 functions prewarmed/);
    assert.ok(prewarmed >= 0, `every function prewarmed:\n${output}`);
    assert.ok(output.indexOf('Server ready') > prewarmed, `"Server ready" after prewarm:\n${output}`);
  });

  it('throttles the requests beyond the limit at once: 429, Retry-After and the JSON body', () => {
    const throttled = answers.filter((answer) => answer.status === 429);
    assert.equal(throttled.length, 5, JSON.stringify(answers.map((answer) => answer.status)));
    for (const answer of throttled) {
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.match(String(answer.headers.get('content-type')), /^application\/json/);
      assert.deepEqual(Object.keys(answer.body), ['status', 'message', 'category', 'trace_id']);
      assert.equal(answer.body.status, 'failure');
      assert.equal(answer.body.category, 'throttled');
      assert.match(String(answer.body.trace_id), REQUEST_ID);
    }
  });

  it('answers the timed-out request with a 5xx that has the JSON body and an id, in one terminal line', async () => {
    const [timedOut] = answers.filter((answer) => answer.status !== 429);
    assert.equal(timedOut?.status, 502, JSON.stringify(timedOut?.body));
    assert.equal(timedOut?.body.category, 'downstream_failure');
    assert.match(String(timedOut?.body.message), /failed or timed out/);
    assert.match(String(timedOut?.body.trace_id), REQUEST_ID);
    const output = stack.offline.output();
    assert.match(output, /apiGateway: \[504\] - Lambda timeout\.; answered 502 \(request [\da-f-]{36}\)/);
    assert.match(output, /apiGateway: throttled 5 request\(s\) at its limit of 1 instances/);
    assert.doesNotMatch(output, /Unhandled exception|Runtime\.ExitError|at .*\.js:\d+/);
    // Nothing was written for any of them: the one order that ran never got past its gateway.
    assert.deepEqual(await stack.scan('orders'), []);
  });
});

describe('a flash sale: 200 orders from 32 clients for 30 units', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.stop());

  it('sells exactly 30; every other order is refused 409 (or throttled 429) with its JSON body; none gets a 5xx', async () => {
    const sale = await flashSale({
      url: stack.url,
      db: stack.db,
      itemId: 'flash',
      stock: 30,
      orders: 200,
      clients: 32,
      seed: 1,
    });
    const detail = JSON.stringify(sale);
    assert.equal(sale.left, 0, detail);
    assert.equal(sale.finalStatuses[201], 30, detail);
    for (const status of Object.keys(sale.answers).map(Number)) {
      assert.ok([201, 409, 429].includes(status), `answered ${status}: ${detail}`);
    }
    assert.deepEqual(sale.malformed, [], 'every answer has its JSON body and trace id');
    const orders = (await stack.scan('orders')).filter((order) =>
      JSON.stringify(order.items).includes('"flash"'),
    );
    assert.equal(orders.filter((order) => order.status === 'COMPLETED').length, 30, 'the 201s are the sales');
    assert.equal(stack.offline.output().match(/Unhandled exception/g), null);
  });
});
