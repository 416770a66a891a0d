import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { ensureTables } from '#local-runtime/tables.cjs';

/**
 * The prod package as `serverless package` makes it for a stage, unzipped and read: its template, its functions
 * with their environment resolved, its tables created in a DynamoDB Local.
 */

const SERVERLESS_CLI = path.join(PROJECT_ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
/** Where every function's code lives deployed; NODE_OPTIONS names the preload under it. */
export const LAMBDA_TASK_ROOT = '/var/task';

type CfnValue = string | number | boolean | Record<string, unknown> | unknown[];
interface CfnResource {
  Type: string;
  Properties: Record<string, CfnValue>;
}
export interface Template {
  Resources: Record<string, CfnResource>;
}

export interface PackagedFunction {
  /** Its CloudFormation logical id: "FraudLambdaFunction". */
  logicalId: string;
  functionName: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Environment.Variables as the template has them: strings, or CloudFormation expressions. */
  variables: Record<string, CfnValue>;
  /** Its zip, and its size in bytes. */
  artifact: string;
  zipBytes: number;
}

export interface Packaged {
  dir: string;
  template: Template;
  functions: PackagedFunction[];
}

/**
 * Runs `serverless package --stage <stage>` into a fresh folder, with nothing from this shell but PATH and
 * HOME (what a CI deploy would have) and no AWS credentials or config files at all, plus `env`. Answers the
 * template and each function's artifact.
 */
/** The stage's own telemetry endpoint: packaging refuses an empty or loopback one (deploy-settings.cjs). */
export const PACKAGED_OTLP_ENDPOINT = 'https://otlp.orders.example';

export async function packageStage(
  stage: string,
  env: NodeJS.ProcessEnv = {},
  params: Record<string, string> = { otlpEndpoint: PACKAGED_OTLP_ENDPOINT },
  /** The project to package: this one, or a worktree of an earlier build (a bench's `--before`). */
  root = PROJECT_ROOT,
): Promise<Packaged> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `orders-${stage}-package-`));
  // Run here, the package reads a code cache built for this machine's architecture as well as the deployed one's.
  const paramArgs = Object.entries({ ...params, codeCacheForThisMachine: 'true' }).flatMap(
    ([name, value]) => ['--param', `${name}=${value}`],
  );
  await onePackagingAtATime(() =>
    promisify(execFile)(
      process.execPath,
      [SERVERLESS_CLI, 'package', '--stage', stage, '--package', dir, ...paramArgs],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_CONFIG_FILE: '/nonexistent',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
          ...env,
        },
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: Error & { stdout?: string }) => {
      // The Framework prints why it refused on stdout (the message has only stderr, its banner).
      error.message = `${error.message}${error.stdout ?? ''}`;
      throw error;
    }),
  );
  const template = JSON.parse(
    readFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
  const functions = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, { Properties: p }]) => {
      const code = p.Code as { S3Key: string };
      const artifact = path.join(dir, path.basename(code.S3Key));
      return {
        logicalId,
        functionName: String(p.FunctionName),
        handler: String(p.Handler),
        runtime: String(p.Runtime),
        timeoutSeconds: Number(p.Timeout),
        memoryMb: Number(p.MemorySize),
        variables: ((p.Environment as { Variables?: Record<string, CfnValue> })?.Variables ?? {}) as Record<
          string,
          CfnValue
        >,
        artifact,
        zipBytes: statSync(artifact).size,
      };
    });
  return { dir, template, functions };
}

/**
 * The Framework builds every package in the project's own .serverless/ (and tsc writes dist/), so two
 * packagings of one project at once break each other (a bench beside a test run, say): they take turns, through
 * a lock directory that names its holder, taken over when the holder has died.
 */
async function onePackagingAtATime<T>(run: () => Promise<T>): Promise<T> {
  const lock = path.join(PROJECT_ROOT, '.serverless.lock');
  const holder = path.join(lock, 'pid');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(holder, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!isAlive(holder)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`${lock} has been held for 5 minutes by ${readFileSync(holder, 'utf8')}`);
      await sleep(200);
    }
  }
  try {
    return await run();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Whether the process named in a lock's pid file runs. A lock whose file is not written yet counts as held for
 * ten seconds (its holder is between the two steps), and as abandoned after.
 */
function isAlive(pidFile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    try {
      return Date.now() - statSync(path.dirname(pidFile)).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Unzips an artifact into a fresh folder: the function's /var/task. */
export async function unzipArtifact(artifact: string): Promise<string> {
  const codeDir = mkdtempSync(path.join(os.tmpdir(), `${path.basename(artifact, '.zip')}-task-`));
  const zip = await JSZip.loadAsync(readFileSync(artifact));
  for (const entry of Object.values(zip.files)) {
    const target = path.join(codeDir, entry.name);
    if (entry.dir) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, await entry.async('nodebuffer'));
    chmodSync(target, 0o644);
  }
  return codeDir;
}

/**
 * A function's environment, as Lambda would hand it over: the template's variables with each CloudFormation
 * expression replaced by `resolved[name]` (an expression left unresolved is a mistake, named), then `overrides`.
 */
export function functionEnvironment(
  fn: PackagedFunction,
  resolved: Record<string, string>,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.variables)) {
    if (typeof value === 'string') env[name] = value;
    else if (resolved[name] !== undefined) env[name] = resolved[name];
    else throw new Error(`${fn.functionName}: ${name} is ${JSON.stringify(value)}; give it a local value`);
  }
  return { ...env, ...overrides };
}

/** Removes what packageStage and unzipArtifact left in the temporary folder. */
export function removeDirs(...dirs: string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * Creates the template's DynamoDB tables in a DynamoDB Local and seeds them from serverless.yml's custom.seed,
 * as the local runtime plugin does for stage local.
 */
export async function createStageTables(packaged: Packaged, endpoint: string): Promise<void> {
  const tables = Object.fromEntries(
    Object.entries(packaged.template.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::DynamoDB::Table',
    ),
  );
  const config = parse(readFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), 'utf8')) as {
    custom: { seed: Record<string, Array<Record<string, unknown>>> };
  };
  await ensureTables({
    endpoint,
    region: 'us-east-1',
    resources: { Resources: tables },
    seed: config.custom.seed,
    log: () => {},
  });
}
