import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { eventually } from '../../scripts/lib/eventually';
import { type Offline, startOffline } from '../../scripts/lib/offline';
import { freePort } from '../../scripts/lib/ports';

const FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'admission');
const REQUEST_ID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

/**
 * The server the fixture's held functions call: it keeps each request open until the test releases it, so
 * a test knows how many invocations are running without timing anything.
 */
async function holdServer() {
  const held: Array<{ path: string; response: ServerResponse }> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    held.push({ path: String(request.url), response });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Invocations holding now, and every one that ever called. */
    arrivals: () => held.length,
    releaseAll() {
      for (const { response } of held.splice(0)) if (!response.writableEnded) response.end('released');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startFixture(env: NodeJS.ProcessEnv): Promise<Offline> {
  return startOffline({
    cwd: FIXTURE,
    env: { HTTP_PORT: String(await freePort()), OFFLINE_LAMBDA_PORT: String(await freePort()), ...env },
  });
}

async function get(offline: Offline, route: string, method = 'GET') {
  const response = await fetch(`${offline.url}${route}`, { method });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
}

/** API Gateway's own answers have the functions' failure body, with its request id as the trace id. */
function assertGatewayBody(answer: Awaited<ReturnType<typeof get>>, category: string) {
  assert.deepEqual(Object.keys(answer.body), ['status', 'message', 'category', 'trace_id'], answer.text);
  assert.equal(answer.body.status, 'failure');
  assert.equal(answer.body.category, category);
  assert.match(String(answer.body.trace_id), REQUEST_ID);
  assert.match(String(answer.headers.get('content-type')), /^application\/json/);
}

describe("offline admits by the deployed limits: a function's reserved concurrency, its routes' integration timeout", () => {
  let offline: Offline;
  let hold: Awaited<ReturnType<typeof holdServer>>;
  before(async () => {
    hold = await holdServer();
    offline = await startFixture({ HOLD_URL: hold.url, OFFLINE_MAX_INSTANCES: '1' });
  });
  after(async () => {
    hold?.releaseAll();
    await offline?.stop();
    await hold?.close();
  });

  it('throttles past a reserved concurrency of 2, counting the request that waits for the one local instance, and no earlier', async () => {
    const running = get(offline, '/held');
    await eventually(() => (hold.arrivals() === 1 ? true : undefined), { what: 'the first invocation' });
    // Two more: one waits for the only local instance, and deployed it would be running, so the other is one
    // past the limit, whichever of them arrives first.
    const [second, third] = [get(offline, '/held'), get(offline, '/held')];
    const throttled = await Promise.race([second, third]);
    assert.equal(throttled.status, 429, throttled.text);
    assert.equal(throttled.headers.get('retry-after'), '1');
    assertGatewayBody(throttled, 'throttled');
    hold.releaseAll();
    await eventually(() => (hold.arrivals() === 1 ? true : undefined), {
      what: 'the waiting request to run',
    });
    hold.releaseAll();
    assert.deepEqual(
      (await Promise.all([running, second, third])).map((answer) => answer.status).sort(),
      [200, 200, 429],
    );
    await eventually(
      () =>
        /held: 1 request\(s\) waited for one of its 1 local instances in the last second, the longest \d+ ms \(0 waiting now\): this machine's limit, not a deployed one/.test(
          offline.output(),
        ) || undefined,
      { what: 'the waiting line', seen: () => offline.output().slice(-2000) },
    );
    assert.match(
      offline.output(),
      /held: throttled 1 request\(s\) past its reserved concurrency of 2 in the last second, as deployed/,
    );
  });

  it('answers 504 with the body when a route outlives its 1 s integration timeout, running or waiting', async () => {
    const [running, waiting] = [get(offline, '/impatient'), get(offline, '/impatient')];
    const answers = await Promise.all([running, waiting]);
    for (const answer of answers) {
      assert.equal(answer.status, 504, answer.text);
      assertGatewayBody(answer, 'downstream_timeout');
    }
    assert.match(
      offline.output(),
      /impatient: waited \d+ ms for a local instance, past its integration timeout \(1000 ms\)/,
    );
    assert.match(
      offline.output(),
      /impatient: no answer within the integration timeout \(1000 ms\); answered 504/,
    );
    hold.releaseAll();
  });

  it('answers an unknown route or method with the mapped Gateway Response, naming no route', async () => {
    for (const [route, method] of [
      ['/nope', 'GET'],
      ['/fast', 'DELETE'],
    ] as const) {
      const answer = await get(offline, route, method);
      assert.equal(answer.status, 404, `${method} ${route}: ${answer.text}`);
      assertGatewayBody(answer, 'not_found');
      assert.doesNotMatch(answer.text, /held|impatient|fast|existingRoutes/);
    }
  });
});

describe("offline throttles past the stage's rate per method, as API Gateway does", () => {
  let offline: Offline;
  before(async () => {
    // Two requests at once per method, and a new one every 100 s: the third in a row is over the rate.
    offline = await startFixture({
      HOLD_URL: 'http://127.0.0.1:9',
      FIXTURE_RATE_LIMIT: '0.01',
      FIXTURE_BURST_LIMIT: '2',
    });
  });
  after(() => offline?.stop());

  it('serves the burst, then answers 429 with Retry-After and the body', async () => {
    const answers = [await get(offline, '/fast'), await get(offline, '/fast'), await get(offline, '/fast')];
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 429],
    );
    const [, , throttled] = answers;
    assert.equal(throttled?.headers.get('retry-after'), '1');
    if (throttled) assertGatewayBody(throttled, 'throttled');
    assert.match(String(throttled?.body.message), /over its rate limit/);
    await eventually(
      () =>
        /GET \/fast: throttled 1 request\(s\) past the stage's 0\.01\/s \(burst 2\)/.test(offline.output()) ||
        undefined,
      { what: "the stage throttle's line", seen: () => offline.output().slice(-2000) },
    );
  });
});
