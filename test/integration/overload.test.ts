import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { instanceCapsOf } from '#local-runtime/plugin.cjs';
import { flashSale } from '../../scripts/bench/hot-item';
import { memoryReportOf } from '../../scripts/bench/memory';
import { eventually } from '../../scripts/lib/eventually';
import { derive, MANIFESTS } from '../../scripts/lib/manifests';
import { SEED_PAYLOAD, type Stack, startStack } from '../support/offline-stack';

const REQUEST_ID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

/**
 * An api-gateway that takes longer than its 12 s timeout (CHAOS latency): its answer is what the deployed API's
 * Gateway Response says, and nothing is written.
 */
describe('overload: a function that times out answers as the deployed API does', () => {
  let stack: Stack;
  let answer: Awaited<ReturnType<Stack['post']>>;
  before(async () => {
    stack = await startStack({
      env: { OFFLINE_PREWARM: 'true', CHAOS: 'api-gateway:latency=13000', CHAOS_SEED: '1' },
    });
    answer = await stack.post('/api/order', SEED_PAYLOAD);
  });
  after(() => stack?.stop());

  it('prints "Server ready" only once every function is prewarmed', () => {
    const output = stack.offline.output();
    const prewarmed = output.search(
      new RegExp(`prewarm: ${MANIFESTS.length} of ${MANIFESTS.length} functions prewarmed`),
    );
    assert.ok(prewarmed >= 0, `every function prewarmed:\n${output}`);
    assert.ok(output.indexOf('Server ready') > prewarmed, `"Server ready" after prewarm:\n${output}`);
  });

  it('answers the timed-out request with a 5xx that has the JSON body and an id, in one terminal line', async () => {
    assert.equal(answer.status, 502, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body), ['status', 'message', 'category', 'trace_id']);
    assert.equal(answer.body.category, 'downstream_failure');
    assert.match(String(answer.body.message), /failed or timed out/);
    assert.match(String(answer.body.trace_id), REQUEST_ID);
    const output = stack.offline.output();
    assert.match(output, /apiGateway: \[504\] - Lambda timeout\.; answered 502 \(request [\da-f-]{36}\)/);
    assert.doesNotMatch(output, /Unhandled exception|Runtime\.ExitError|at .*\.js:\d+/);
    // Nothing was written: the order never got past its gateway.
    assert.deepEqual(await stack.scan('orders'), []);
  });
});

describe('a flash sale: 200 orders from 32 clients for 30 units', () => {
  let stack: Stack;
  const memoryReportFile = path.join(mkdtempSync(path.join(tmpdir(), 'memory-report-')), 'memory.json');
  before(async () => {
    // No scheduled reaper, which runs every second in tests: the stack goes quiet after its start, as npm start
    // does between the reaper's runs. The sale needs no reaper.
    stack = await startStack({
      env: { OFFLINE_MEMORY_REPORT: memoryReportFile, REAPER_INTERVAL_SECONDS: '0' },
    });
  });
  after(async () => {
    await stack?.stop();
    rmSync(path.dirname(memoryReportFile), { recursive: true, force: true });
  });

  it("holds no baseline machine code for the Framework's one-off configuration validator", async () => {
    // With Sparkplug on during the Framework's start, the validator alone kept 16 MB of machine code here, as
    // long as the process lived (BENCHMARKS.md, "Footprint").
    const report = await memoryReportOf(stack.offline.process.pid ?? 0, memoryReportFile);
    const largeCodeMb = (report.main.heapSpaces.code_large_object_space ?? 0) / 2 ** 20;
    assert.ok(largeCodeMb < 4, `the main thread's large code objects: ${largeCodeMb.toFixed(1)} MB`);
  });

  it('gives back, once quiet, what the main thread grew into during the start: its young generation and pooled pages', async () => {
    // V8 keeps both resident after a regular collection; the start left tens of MB of them here (BENCHMARKS.md,
    // "Footprint"). The start is followed by quiet, so the first release is the start's.
    const report = await eventually(
      async () => {
        const candidate = await memoryReportOf(stack.offline.process.pid ?? 0, memoryReportFile);
        return (candidate.releasedWhenQuiet?.count ?? 0) >= 1 ? candidate : undefined;
      },
      { what: 'the main thread to release memory once quiet', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const { lastRssBeforeMb = 0, lastRssAfterMb = 0 } = report.releasedWhenQuiet ?? {};
    assert.ok(lastRssBeforeMb - lastRssAfterMb >= 20, `RSS ${lastRssBeforeMb} -> ${lastRssAfterMb} MB`);
    const youngMb = (report.main.heapSpacesCommitted.new_space ?? 0) / 2 ** 20;
    assert.ok(youngMb <= 4, `the main thread's young generation holds ${youngMb.toFixed(1)} MB`);
  });

  it('sells exactly 30 with no client retries; every other order is refused 409 with its JSON body; none is throttled, none gets a 5xx', async () => {
    const sale = await flashSale({
      url: stack.url,
      db: stack.db,
      itemId: 'flash',
      stock: 30,
      orders: 200,
      clients: 32,
    });
    const detail = JSON.stringify(sale);
    assert.equal(sale.left, 0, detail);
    assert.equal(sale.finalStatuses[201], 30, detail);
    // Deployed, 32 in flight are under every limit: offline they wait for an instance, never get a 429.
    assert.deepEqual(sale.finalStatuses, { 201: 30, 409: 170 }, detail);
    assert.deepEqual(sale.malformed, [], 'every answer has its JSON body and trace id');
    const orders = (await stack.scan('orders')).filter((order) =>
      JSON.stringify(order.items).includes('"flash"'),
    );
    assert.equal(orders.filter((order) => order.status === 'COMPLETED').length, 30, 'the 201s are the sales');
    assert.equal(stack.offline.output().match(/Unhandled exception/g), null);
    // 32 clients against api-gateway's 2 local instances wait, and say so. On the default (`by-calls`), a
    // function whose calls reach two hops down has 2 instances, the others 1.
    const waited = [
      ...stack.offline.output().matchAll(/(\w+): \d+ request\(s\) waited for one of its (\d+) local/g),
    ];
    assert.ok(
      waited.some(([, functionKey]) => functionKey === 'apiGateway'),
      detail,
    );
    const instancesOf = instanceCapsOf('by-calls', derive().callDepths);
    for (const [line, functionKey, instances] of waited) {
      assert.equal(Number(instances), instancesOf(String(functionKey)), line);
    }
  });
});
