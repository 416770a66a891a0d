import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import {
  COMMON_SETTINGS,
  defaultOf,
  VARIABLES,
  type VariableName,
} from '../../functions/shared/config/settings';
import {
  configurationTables,
  LOCAL_VARIABLES,
  templateDefaults,
  withTables,
} from '../../scripts/lib/configuration';

const PAGES = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
];

const read = (page: string) => readFileSync(path.join(PROJECT_ROOT, page), 'utf8');

/** The page's text outside fenced code blocks, where a `#` line is a heading and `[x](y)` a link. */
function prose(page: string): string {
  return read(page).replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(page: string): Set<string> {
  return new Set(
    [...prose(page).matchAll(/^#{1,6}\s+(.+)$/gm)].map(([, heading]) => anchor(String(heading))),
  );
}

/** Where a relative link (`docs/x.md#y`, `#y`) written in `from` leads: the page and the anchor. */
function target(from: string, link: string): { page: string; anchor?: string } {
  const [file, hash] = link.split('#');
  const page = file ? path.posix.normalize(path.posix.join(path.posix.dirname(from), file)) : from;
  return { page, anchor: hash };
}

function brokenLink(from: string, link: string): string | undefined {
  const { page, anchor: wanted } = target(from, link);
  if (!existsSync(path.join(PROJECT_ROOT, page))) return `${from}: ${link} (no file ${page})`;
  if (wanted && (!page.endsWith('.md') || !anchorsOf(page).has(wanted))) {
    return `${from}: ${link} (no heading #${wanted} in ${page})`;
  }
  return undefined;
}

describe('the documentation (README.md, docs/)', () => {
  it('links only to files and headings that exist', () => {
    const broken = PAGES.flatMap((page) =>
      [...prose(page).matchAll(/\]\(([^)\s]+)\)/g)]
        .map(([, link]) => String(link))
        .filter((link) => !/^[a-z]+:/.test(link))
        .map((link) => brokenLink(page, link))
        .filter((problem) => problem !== undefined),
    );
    assert.deepEqual(broken, []);
  });

  it('has a README that is a front door: short, and linking every page of docs/', () => {
    const readme = read('README.md');
    assert.ok(readme.split('\n').length <= 150, `README.md has ${readme.split('\n').length} lines`);
    const unlinked = PAGES.filter((page) => page.startsWith('docs/') && !readme.includes(`](${page})`));
    assert.deepEqual(unlinked, [], 'pages of docs/ the README does not link');
  });

  it("leads each alert's runbook link to its heading", () => {
    const rules = parse(read('observability/prometheus/rules/orders-api-slos.yml')) as {
      groups: { rules: { alert?: string; annotations?: { runbook?: string } }[] }[];
    };
    const runbooks = rules.groups.flatMap((group) =>
      group.rules.flatMap((rule) => (rule.alert ? [String(rule.annotations?.runbook)] : [])),
    );
    assert.ok(runbooks.length > 0, 'the rules have alerts');
    const broken = runbooks.map((link) => brokenLink('', link)).filter((problem) => problem !== undefined);
    assert.deepEqual(broken, []);
  });
});

/** Variables read by code but set by Lambda, Node or the shell itself: not this project's settings. */
const NOT_OURS =
  /^(PATH|HOME|NO_COLOR|_HANDLER|LAMBDA_TASK_ROOT|AWS_EXECUTION_ENV|AWS_LAMBDA_\w+|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)$/;

function sourcesUnder(folder: string): string[] {
  return readdirSync(path.join(PROJECT_ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ts|cjs|mjs|yml)$/.test(file))
    .map((file) => path.join(folder, file));
}

/** Every environment variable the product and its tools read: `process.env.X`, an `env.X`, a `${env:X}`. */
function variablesRead(): Map<string, string> {
  const read = new Map<string, string>();
  const files = [
    'serverless.yml',
    ...['functions', 'local-runtime', 'scripts/dev', 'scripts/lib', 'scripts/load'].flatMap(sourcesUnder),
  ];
  for (const file of files) {
    const source = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    for (const [, name] of source.matchAll(/(?:process\.env|\benv)\.([A-Z_][A-Z0-9_]*)\b/g)) {
      read.set(String(name), file);
    }
    if (!file.endsWith('.yml')) continue;
    for (const [, name] of source.matchAll(/\$\{env:([A-Z_][A-Z0-9_]*)/g)) read.set(String(name), file);
  }
  return read;
}

describe('docs/configuration.md, against the code', () => {
  it('is what `npm run generate:docs` writes from the settings registries', () => {
    const page = read('docs/configuration.md');
    assert.equal(page, withTables(page, configurationTables()), 'run `npm run generate:docs`');
  });

  it('documents every variable the functions, the local runtime and the tools read', () => {
    const documented = new Set([...Object.keys(VARIABLES), ...Object.keys(LOCAL_VARIABLES)]);
    const read = variablesRead();
    assert.ok(read.size > 30, `the scan finds the variables (${read.size})`);
    const undocumented = [...read]
      .filter(([name]) => !documented.has(name) && !NOT_OURS.test(name))
      .map(([name, file]) => `${name} (${file})`);
    assert.deepEqual(undocumented, []);
    const unread = Object.keys(LOCAL_VARIABLES).filter((name) => !read.has(name));
    assert.deepEqual(unread, [], 'documented, but nothing reads them');
    // The functions' variables are read by name through readSettings; the preload reads all of tracing's.
    const functionCode = sourcesUnder('functions')
      .filter((file) => !file.endsWith(path.join('config', 'settings.ts')))
      .map((file) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8'))
      .join('\n');
    const unasked = (Object.keys(VARIABLES) as VariableName[]).filter(
      (name) =>
        VARIABLES[name].readBy !== 'tracing' &&
        !(COMMON_SETTINGS as readonly string[]).includes(name) &&
        !functionCode.includes(`'${name}'`),
    );
    assert.deepEqual(unasked, [], 'in the registry, but no function reads them');
  });

  it("gives a function's variable one default: where the template passes one on, it is the schema's", () => {
    const disagreeing = [...templateDefaults()]
      .filter(([name, given]) => given !== '' && name in VARIABLES)
      .map(([name, given]) => [name, given, defaultOf(name as VariableName)])
      .filter(([, given, schema]) => schema !== undefined && given !== schema);
    assert.deepEqual(disagreeing, []);
  });
});
