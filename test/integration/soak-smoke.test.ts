import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

describe('npm run bench:soak (smoke)', () => {
  it('warms up, samples the memory report after each interval, fits a slope with its interval to each series', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist/scripts/bench/soak.js'),
        ...['--orders', '300', '--samples', '3', '--concurrency', '4'],
        ...['--warm-up-orders', '60', '--warm-up-rounds', '1', '--settle', '30'],
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
    );
    const lines = stdout.trim().split('\n');
    const summary = JSON.parse(lines.at(-1) ?? '');
    assert.equal(summary.orders, 300);
    assert.equal(summary.samples, 4, 'a sample before the first interval and after each of three');
    assert.equal(summary.errors, 0);
    const { settled, ...warmUp } = summary.warm_up;
    assert.deepEqual(warmUp, { rounds: 1, orders: 60, settle_orders: 30 });
    assert.equal(typeof settled, 'boolean');
    for (const series of ['rss', 'heap_used', 'heap_committed', 'code_space', 'instances_young_committed']) {
      const slope = summary[series];
      assert.ok(Number.isFinite(slope.mb_per_10k_orders), `${series}: ${JSON.stringify(slope)}`);
      assert.equal(typeof slope.within_goal, 'boolean', series);
    }
    // Series that never start near zero: a share of their start, and an interval, that are numbers and agree
    // with the growth in MB to their rounding (two decimals each).
    for (const series of ['rss', 'heap_used', 'heap_committed']) {
      const slope = summary[series];
      const figures = [slope.pct_per_10k_orders, slope.start_mb, ...slope.pct_95ci];
      assert.ok(figures.every(Number.isFinite) && slope.start_mb > 0, `${series}: ${JSON.stringify(slope)}`);
      const share = (slope.mb_per_10k_orders / slope.start_mb) * 100;
      const rounding = 0.005 + ((0.005 + Math.abs(slope.pct_per_10k_orders) * 0.005) / slope.start_mb) * 100;
      assert.ok(
        Math.abs(share - slope.pct_per_10k_orders) <= rounding,
        `${series}: ${share} vs ${JSON.stringify(slope)}`,
      );
    }
    assert.equal(summary.rss_mb_samples.length, 4);
    // The fitted start of RSS lies among what was sampled (a line through four samples starts near them).
    const [fewest, most] = [Math.min(...summary.rss_mb_samples), Math.max(...summary.rss_mb_samples)];
    const spread = most - fewest + 1;
    assert.ok(
      summary.rss.start_mb >= fewest - spread && summary.rss.start_mb <= most + spread,
      `${JSON.stringify(summary.rss)} from ${summary.rss_mb_samples}`,
    );
    // Every order-path function served orders, so each has an instance whose heap the report gives.
    assert.ok(summary.per_instance_heap_mb.instances >= 6, JSON.stringify(summary.per_instance_heap_mb));
    assert.match(stdout, /^\| orders \| RSS MB \| main heap MB \|/m);
  });
});
