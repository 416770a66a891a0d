import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { MANIFESTS } from '../../scripts/lib/manifests';

describe('npm run bench (smoke)', () => {
  it('runs all four modes, the telemetry-cost and deployed parts briefly, prints them, ends with a JSON summary', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist/scripts/bench/main.js'),
        '--quick',
        '--requests',
        '10',
        '--drift-orders',
        '50',
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 480_000 },
    );
    const lines = stdout.trim().split('\n');
    for (const mode of ['(a)', '(b)', '(c)', '(d)']) {
      assert.equal(lines.filter((line) => line.startsWith(`| ${mode}`)).length, 3, `${mode} at c = 1, 8, 32`);
    }
    const summary = JSON.parse(lines.at(-1) ?? '');
    // A ratio of two latencies: finite and positive (an empty sample's percentile is NaN, and NaN is a number).
    for (const ratio of ['b/a', 'c/b', 'd/b']) {
      for (const p of ['p50', 'p99']) {
        const value = summary.ratios[ratio][p];
        assert.ok(Number.isFinite(value) && value > 0, `${ratio} ${p}: ${value}`);
      }
    }
    assert.deepEqual(Object.keys(summary.ratios_by_concurrency), ['1', '8', '32']);
    assert.equal(Object.keys(summary.errors).length, 12);

    // The drift is a slope fitted over its samples, with an interval around it: every figure a number, and the
    // samples the ones it was fitted over.
    const drift = summary.memory_drift;
    assert.equal(drift.orders, 50);
    assert.ok(drift.samples >= 11, `${drift.samples} samples`);
    assert.equal(drift.rss_mb_samples.length, drift.samples);
    assert.ok(
      drift.rss_mb_samples.every((mb: number) => Number.isFinite(mb) && mb > 0),
      JSON.stringify(drift),
    );
    assert.ok(
      [drift.slope_pct_per_10k_orders, ...drift.slope_95ci].every(Number.isFinite),
      JSON.stringify(drift),
    );

    // Every order's spans arrived: SERVER, HTTP and DynamoDB CLIENT spans (BENCHMARKS.md counts 18).
    assert.ok(summary.spans_per_order >= 17, `${summary.spans_per_order} spans per order`);

    for (const piece of ['span', 'propagation', 'promises', 'http', 'dynamodb', 'log', 'json', 'protobuf']) {
      assert.ok(Number.isFinite(summary.per_span_cost.added_us[piece]), piece);
    }
    assert.ok(summary.per_span_cost.per_span_us > 0, String(summary.per_span_cost.per_span_us));

    const functions = ['apiGateway', 'order', 'inventory', 'warehouse', 'payment', 'fraud'];
    assert.deepEqual(Object.keys(summary.cold_start_ms).sort(), [...functions].sort());
    for (const fn of functions) {
      const { untraced, traced } = summary.cold_start_ms[fn];
      assert.ok(untraced > 0 && traced > 0, `${fn}: ${untraced} / ${traced} ms`);
      const own = summary.memory_per_instance_mb.floor_instance_own[fn];
      assert.ok(own.untraced > 0 && own.traced > 0, `${fn}: ${JSON.stringify(own)}`);
    }
    for (const mode of ['b', 'c', 'd']) {
      const memory = summary.memory_per_instance_mb[mode];
      assert.ok(memory.instances >= 6, `(${mode}): ${memory.instances} instances`);
      // `own` is heap committed + external: committed pages are not all resident (an instance's young
      // generation is reserved whole, touched as it fills), so it is no bound on RSS per instance either way.
      assert.ok(memory.rss_per_instance > 0 && memory.own > 0, `(${mode}): ${JSON.stringify(memory)}`);
    }
    // The deployed artifact: each function's zip, its cold start traced and untraced, the flush per order.
    const deployed = summary.deployed;
    assert.deepEqual(Object.keys(deployed.cold_start_ms).sort(), Object.keys(deployed.zip_kb).sort());
    assert.equal(Object.keys(deployed.zip_kb).length, MANIFESTS.length, 'one zip per function');
    for (const [service, cold] of Object.entries(deployed.cold_start_ms) as Array<
      [string, Record<string, number>]
    >) {
      assert.ok(Number(cold.untraced) > 0 && Number(cold.traced) > 0, `${service}: ${JSON.stringify(cold)}`);
    }
    for (const variant of ['untraced', 'traced', 'traced_far', 'traced_before', 'traced_before_far']) {
      const { order_ms, billed_ms } = deployed.flush;
      assert.ok(order_ms[variant] > 0, `${variant}: ${JSON.stringify(deployed.flush)}`);
      // An order's invocations are nested inside its latency at the client, except what runs after an answer.
      assert.ok(billed_ms[variant] >= order_ms[variant], `${variant}: ${JSON.stringify(deployed.flush)}`);
    }
    // Exporting before the answer puts the receiver's distance on the response path; after it, on the bill.
    assert.ok(deployed.flush.order_ms.traced_before_far > deployed.flush.order_ms.traced_far);
    assert.equal(deployed.flush.receiver_delay_ms, 50);
    assert.match(stdout, /^deployed cold start, process start to first answer/m);
    assert.match(stdout, /^cold start, new instance to first response/m);
    assert.match(stdout, /^per-span cost: /m);
  });
});
