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

const ARCHITECTURE = readFileSync(path.join(PROJECT_ROOT, 'docs', 'architecture.md'), 'utf8');

/** The part of docs/architecture.md from the heading that starts with `heading` to the next of its level or above. */
function section(heading: string): string {
  const start = ARCHITECTURE.indexOf(`\n${heading}`);
  assert.ok(start >= 0, `docs/architecture.md has a section "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rest = ARCHITECTURE.slice(start + heading.length + 1);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The backticked names in a markdown table's first column. */
function firstColumn(markdown: string): string[][] {
  return [...markdown.matchAll(/^\| ([^|]+) \|/gm)].map(([, cell]) =>
    [...String(cell).matchAll(/`([^`]+)`/g)].map(([, name]) => String(name)),
  );
}

/** Where local-runtime/ reaches into functions/, read from its code: `what` → the modules that do. */
function reachesIntoFunctions(): Map<string, Set<string>> {
  const reaches = new Map<string, Set<string>>();
  const add = (what: string, by: string) => reaches.set(what, (reaches.get(what) ?? new Set()).add(by));
  const folder = path.join(PROJECT_ROOT, 'local-runtime');
  for (const file of readdirSync(folder)) {
    const source = readFileSync(path.join(folder, file), 'utf8');
    for (const [, target] of source.matchAll(/require\('\.\.\/(functions\/[^']+)'\)/g))
      add(String(target), file);
    for (const [, parts] of source.matchAll(/path\.join\(FUNCTIONS_BUILD, ([^)]+)\)/g)) {
      const joined = [...String(parts).matchAll(/'([^']+)'/g)].map(([, part]) => part).join('/');
      add(`functions/${joined.replace(/\.js$/, '.ts')} (compiled)`, file);
    }
    if (/'function\.yml'/.test(source)) add('functions/*/function.yml', file);
  }
  return reaches;
}

describe('docs/architecture.md, against the code', () => {
  it('names every module of local-runtime/ in its table', () => {
    const named = new Set(firstColumn(section('### `local-runtime/`')).flat());
    const unnamed = readdirSync(path.join(PROJECT_ROOT, 'local-runtime')).filter((file) => !named.has(file));
    assert.deepEqual(unnamed, []);
  });

  it('lists every reach from local-runtime/ into functions/, and only those', () => {
    const table = section('#### What `local-runtime/` takes from `functions/`');
    const documented = new Map(
      [...table.matchAll(/^\| `([^`]+)`( \(compiled\))? \| ([^|]+) \|/gm)].map(([, what, compiled, by]) => [
        `${what}${compiled ?? ''}`,
        new Set([...String(by).matchAll(/`([^`]+)`/g)].map(([, name]) => String(name))),
      ]),
    );
    const found = reachesIntoFunctions();
    assert.ok(found.size > 0, 'the scan finds the reaches');
    assert.deepEqual(
      [...documented].map(([what, by]) => [what, [...by].sort()]).sort(),
      [...found].map(([what, by]) => [what, [...by].sort()]).sort(),
    );
  });

  it("lists functions/shared's layers as the dependency rules rank them", () => {
    const rules = readFileSync(CONFIG, 'utf8');
    const declared = /const LAYERS = (\[[\s\S]*?\n\]);/.exec(rules)?.[1];
    assert.ok(declared, '.dependency-cruiser.cjs declares LAYERS');
    const ranks = JSON.parse(declared.replace(/'/g, '"').replace(/,(\s*[\]])/g, '$1')) as string[][];
    const line = /\(layers: ([^)]+)\)/.exec(ARCHITECTURE)?.[1];
    assert.ok(line, 'the diagram lists the layers');
    const documented = line.split(' ▶ ').map((rank) => rank.split(', '));
    assert.deepEqual(documented, [...ranks].reverse());
    const tabled = firstColumn(section('### `functions/shared/`')).flatMap((names) =>
      names.filter((name) => name.endsWith('/')).map((name) => name.slice(0, -1)),
    );
    assert.deepEqual(tabled.sort(), ranks.flat().sort(), 'the layers table has a row per layer');
  });
});
