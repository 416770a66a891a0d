/**
 * docs/configuration.md's tables, generated: the functions' variables from their one registry
 * (functions/shared/config/settings.ts), the local runtime's and the tools' from the one below, and each
 * variable's offline default from where it is written (serverless.yml or a manifest's `${env:NAME, default}`,
 * else the schema, else the code that reads it). `npm run generate:docs` writes it; the static tier checks it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import {
  defaultOf,
  type Reader,
  type Setter,
  VARIABLES,
  type VariableName,
} from '../../functions/shared/config/settings';
import { DYNAMODB_DATA_DIR } from './dynamodb-local';
import { dynamodbEndpoint, grafanaUrl, orderApiUrl, tempoUrl } from './endpoints';
import { MALLOC_ARENAS } from './offline';

interface LocalVariable {
  readBy: 'npm start and serverless offline' | 'the tools';
  doc: string;
  /** Its default, where no `${env:NAME, default}` in serverless.yml or a manifest gives it. */
  default?: string;
}

/** Every variable the local runtime and the developer tools read, besides the functions' own. */
export const LOCAL_VARIABLES: Record<string, LocalVariable> = {
  HTTP_PORT: {
    readBy: 'npm start and serverless offline',
    doc: 'the API’s port; also the base URL the functions call each other on',
  },
  HTTP_HOST: { readBy: 'npm start and serverless offline', doc: 'the address serverless-offline listens on' },
  OFFLINE_LAMBDA_PORT: {
    readBy: 'npm start and serverless offline',
    doc: 'serverless-offline’s Lambda invoke endpoint (the reaper’s schedule and the stream poller use it)',
  },
  AWS_ENDPOINT_URL_DYNAMODB: {
    readBy: 'npm start and serverless offline',
    doc: 'the DynamoDB endpoint (the AWS SDK’s own variable); `npm start` starts DynamoDB Local there unless one answers',
    default: dynamodbEndpoint({}),
  },
  DYNAMODB_LOCAL_DATA_DIR: {
    readBy: 'npm start and serverless offline',
    doc: 'where `npm start`’s DynamoDB Local keeps its data between runs',
    default: DYNAMODB_DATA_DIR,
  },
  OFFLINE_MAX_INSTANCES: {
    readBy: 'npm start and serverless offline',
    doc: 'local instances (worker threads) per function at most: this machine’s resource, not a limit a client meets; beyond them a request waits (docs/local-runtime.md, "Local limits"). `by-calls`: 2 for a function whose calls reach two hops down, since each invocation holds its instance while they run, and 1 for the others; a number gives every function that many',
  },
  OFFLINE_YOUNG_GENERATION: {
    readBy: 'npm start and serverless offline',
    doc: 'the most each instance’s young generation holds, in MB (Lambda allows 36 at 256 MB): smaller holds less memory for a few more scavenges; `lambda` is Lambda’s size, `full` starts it at that size (the soak)',
  },
  OFFLINE_RETIRE_IDLE_SECONDS: {
    readBy: 'npm start and serverless offline',
    doc: 'an instance idle this long is retired, as Lambda retires idle sandboxes (each function keeps one); `0` keeps them',
  },
  OFFLINE_FAILED_RECORDS_DIR: {
    readBy: 'npm start and serverless offline',
    doc: 'where offline sets aside the stream records a consumer gave up on (`<function>-failed-records.jsonl`; deployed: its SQS failure queue)',
  },
  OFFLINE_PREWARM: {
    readBy: 'npm start and serverless offline',
    doc: 'load one instance of each function before the API says "Server ready", as provisioned concurrency would: a fast first order for about 35 MB per function held idle. Off by default, as deployed, where no provisioned concurrency is reserved and the first order starts each function cold (`faas.coldstart`)',
  },
  OFFLINE_RELOAD: {
    readBy: 'npm start and serverless offline',
    doc: 'retire every instance when `dist/functions` changes, so the next request runs the new build (`npm run dev` sets it)',
  },
  REAPER_INTERVAL_SECONDS: {
    readBy: 'npm start and serverless offline',
    doc: 'how often offline runs the reaper (deployed: every minute); `0` turns it off',
  },
  PUBLIC_TRACE_CONTEXT: {
    readBy: 'npm start and serverless offline',
    doc: 'what the public routes do with a caller’s `traceparent`: `link` it to a new trace, or `continue` it (a front end you run and trust; deployed: `--param publicTraceContext=continue`)',
  },
  MALLOC_ARENA_MAX: {
    readBy: 'npm start and serverless offline',
    doc: 'glibc’s malloc arenas for the offline process, whose instances are threads: each would otherwise keep an arena of what it freed (`npm start` sets it)',
    default: MALLOC_ARENAS,
  },
  OFFLINE_MEMORY_REPORT: {
    readBy: 'npm start and serverless offline',
    doc: 'a file: on SIGUSR2 the offline process writes its memory report there, per instance (the benchmarks set it)',
  },
  LOG_FORMAT: {
    readBy: 'the tools',
    doc: 'how `npm start` and `npm run dev` show the functions’ lines (`json` or `pretty`); the functions themselves always write JSON',
    default: 'pretty on a terminal, else json',
  },
  OFFLINE_VERBOSE: {
    readBy: 'the tools',
    doc: 'show serverless-offline’s route table and per-invocation banners (also `npm start -- --verbose`)',
    default: 'false',
  },
  ORDER_API_URL: {
    readBy: 'the tools',
    doc: 'the API `npm run order` and `npm run load` call',
    default: orderApiUrl({}),
  },
  GRAFANA_URL: { readBy: 'the tools', doc: 'the Grafana the trace links open', default: grafanaUrl({}) },
  TEMPO_URL: {
    readBy: 'the tools',
    doc: 'the Tempo `npm run order` reads the trace from',
    default: tempoUrl({}),
  },
};

/** The files that pass the shell's variables on: serverless.yml and every function's manifest. */
function templateSources(root: string): string[] {
  const functions = path.join(root, 'functions');
  return [
    path.join(root, 'serverless.yml'),
    ...readdirSync(functions)
      .map((name) => path.join(functions, name, 'function.yml'))
      .filter((file) => existsSync(file)),
  ];
}

/** Every `${env:NAME, default}` in serverless.yml and the manifests: NAME → its default ('' when none). */
export function templateDefaults(root = PROJECT_ROOT): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of templateSources(root)) {
    for (const [, name, given] of readFileSync(file, 'utf8').matchAll(
      /\$\{env:([A-Z_][A-Z0-9_]*)(?:, *([^}]*))?\}/g,
    )) {
      const raw = String(given ?? '').trim();
      const unquoted = raw.replace(/^'(.*)'$/, '$1');
      const localDefault = /^self:custom\.localDefaults\.(\w+)$/.exec(raw)?.[1];
      found.set(
        String(name),
        localDefault ? String(LOCAL_DEFAULTS[localDefault as keyof typeof LOCAL_DEFAULTS]) : unquoted,
      );
    }
  }
  return found;
}

/** Whether the template passes a variable of the shell on (`${env:…}`), sets it itself, or Lambda does. */
function setFrom(name: VariableName, passed: Map<string, string>, template: string): string {
  if (passed.has(name)) return 'your shell';
  const setter: Setter = VARIABLES[name].setBy;
  if (setter === 'Lambda' || setter === 'serverless-offline') return setter;
  if (new RegExp(`^\\s+${name}:`, 'm').test(template)) return 'the template';
  return setter === 'the template' ? 'the template' : 'its default (the template does not pass it)';
}

const cell = (text: string | undefined) => (text === undefined || text === '' ? '–' : `\`${text}\``);
/** A table cell's text: a bar would end the cell. */
const prose = (text: string) => text.replaceAll('|', '\\|');

/** docs/configuration.md's generated part. */
export function configurationTables(root = PROJECT_ROOT): string {
  const passed = templateDefaults(root);
  const template = templateSources(root)
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
  const lines: string[] = [];
  const localGroups = ['npm start and serverless offline', 'the tools'] as const;
  for (const group of localGroups) {
    lines.push(`### Read by ${group}`, '', '| variable | default | what |', '|---|---|---|');
    for (const [name, variable] of Object.entries(LOCAL_VARIABLES)) {
      if (variable.readBy !== group) continue;
      lines.push(`| \`${name}\` | ${cell(variable.default ?? passed.get(name))} | ${prose(variable.doc)} |`);
    }
    lines.push('');
  }
  const readers: Reader[] = [
    'every function',
    'calls between functions',
    'fault injection',
    'one function',
    'tracing',
  ];
  for (const reader of readers) {
    const heading = reader === 'tracing' ? 'the tracing preload' : reader;
    lines.push(
      `### The functions: ${heading}`,
      '',
      '| variable | default | set from | what |',
      '|---|---|---|---|',
    );
    for (const name of Object.keys(VARIABLES) as VariableName[]) {
      if (VARIABLES[name].readBy !== reader) continue;
      const offline = passed.get(name) || defaultOf(name);
      lines.push(
        `| \`${name}\` | ${cell(offline)} | ${setFrom(name, passed, template)} | ${prose(VARIABLES[name].doc)} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const GENERATED_START =
  '<!-- generated by `npm run generate:docs` from the settings registries: do not edit -->';
export const GENERATED_END = '<!-- end of the generated part -->';

/** The configuration page with its generated part replaced by `tables`. */
export function withTables(page: string, tables: string): string {
  const start = page.indexOf(GENERATED_START);
  const end = page.indexOf(GENERATED_END);
  if (start < 0 || end < start) throw new Error('docs/configuration.md has lost its generated-part markers');
  return `${page.slice(0, start + GENERATED_START.length)}\n\n${tables}\n${page.slice(end)}`;
}
