import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';

describe('npm run bench (smoke)', () => {
  it('runs all four modes briefly, prints the table, and ends with a JSON summary', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist/scripts/bench.js'),
        '--quick',
        '--requests',
        '10',
        '--drift-orders',
        '50',
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
    );
    const lines = stdout.trim().split('\n');
    for (const mode of ['(a)', '(b)', '(c)', '(d)']) {
      assert.equal(lines.filter((line) => line.startsWith(`| ${mode}`)).length, 3, `${mode} at c = 1, 8, 32`);
    }
    const summary = JSON.parse(lines.at(-1) ?? '');
    for (const ratio of ['b/a', 'c/b', 'd/b']) {
      assert.equal(typeof summary.ratios[ratio].p50, 'number', ratio);
      assert.equal(typeof summary.ratios[ratio].p99, 'number', ratio);
    }
    assert.deepEqual(Object.keys(summary.ratios_by_concurrency), ['1', '8', '32']);
    assert.equal(summary.memory_drift.orders, 50);
    assert.equal(typeof summary.memory_drift.pct, 'number');
    assert.equal(Object.keys(summary.errors).length, 12);
  });
});
