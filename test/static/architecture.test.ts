import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

const DEPCRUISE = path.join(
  PROJECT_ROOT,
  'node_modules',
  'dependency-cruiser',
  'bin',
  'dependency-cruiser.mjs',
);
const CONFIG = path.join(PROJECT_ROOT, '.dependency-cruiser.cjs');
const VIOLATIONS = path.join(PROJECT_ROOT, 'test', 'fixtures', 'layout-violations');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The rules' violations in the tree at `cwd`, as dependency-cruiser reports them. */
function violations(cwd: string, roots: string[]): string[] {
  let output: string;
  try {
    output = execFileSync(
      process.execPath,
      [DEPCRUISE, ...roots, '--config', CONFIG, '--output-type', 'json'],
      {
        cwd,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (error) {
    // dependency-cruiser exits with the number of errors; its report is still on stdout.
    output = String((error as { stdout?: string }).stdout);
  }
  const report = JSON.parse(output) as { summary: { violations: Violation[] } };
  return report.summary.violations.map(({ rule, from, to }) => `${rule.name}: ${from} → ${to}`);
}

describe('the layout (docs/architecture.md)', () => {
  it('keeps every dependency rule: no cycles, functions apart, shared layers downward, no script on a test', () => {
    assert.deepEqual(violations(PROJECT_ROOT, ['functions', 'local-runtime', 'scripts', 'test']), []);
  });

  it('would catch each kind of break (a tree that breaks every rule once)', () => {
    assert.deepEqual(violations(VIOLATIONS, ['functions', 'scripts', 'test']).sort(), [
      'functions-stay-in-their-folder: functions/order/handler.cjs → functions/payment/handler.cjs',
      'no-circular: scripts/cycle-a.cjs → scripts/cycle-b.cjs',
      'nothing-imports-dist: scripts/uses-dist.cjs → dist/built.cjs',
      'scripts-never-import-tests: scripts/uses-test.cjs → test/support.cjs',
      'shared-runtime-imports-only-lower-layers: functions/shared/runtime/invocation.cjs → functions/shared/telemetry/logger.cjs',
    ]);
  });

  it('has tsc check every file of the local runtime', () => {
    const config = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { checkJs?: boolean; allowJs?: boolean; strict?: boolean };
      include: string[];
    };
    assert.equal(config.compilerOptions.allowJs, true);
    assert.equal(config.compilerOptions.checkJs, true);
    assert.equal(config.compilerOptions.strict, true);
    const unchecked = readdirSync(path.join(PROJECT_ROOT, 'local-runtime')).filter(
      (file) => !config.include.includes(`local-runtime/**/*${path.extname(file)}`),
    );
    assert.deepEqual(unchecked, [], 'every file in local-runtime/ is one tsc includes');
    for (const file of readdirSync(path.join(PROJECT_ROOT, 'local-runtime'))) {
      const source = readFileSync(path.join(PROJECT_ROOT, 'local-runtime', file), 'utf8');
      assert.doesNotMatch(source, /@ts-nocheck/, `${file} opts out of the check`);
    }
  });
});
