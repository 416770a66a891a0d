import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { ensureTables } from '#local-runtime/tables.cjs';
import { type LoopbackServer, listenOnLoopback } from '../lib/ports';

/**
 * The prod package, run as AWS Lambda runs it: `serverless package` for a stage, each function's zip unzipped,
 * each function a fresh Node process started on local-runtime/ric-bootstrap.mjs (the runtime's loop and loader)
 * with the template's own environment and NODE_OPTIONS, behind a Runtime API served from here; and, in
 * front of them, the API Gateway the template declares (its resources, methods and IAM-authorized routes).
 * Used by the deployed-contract tier (test/deployed) and the deployed cold-start bench.
 */

const SERVERLESS_CLI = path.join(PROJECT_ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
export const BOOTSTRAP = path.join(PROJECT_ROOT, 'local-runtime', 'ric-bootstrap.mjs');
/** Where every function's code lives deployed; NODE_OPTIONS names the preload under it. */
const LAMBDA_TASK_ROOT = '/var/task';
const DUMMY_ACCOUNT = '123456789012';

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
export async function packageStage(stage: string, env: NodeJS.ProcessEnv = {}): Promise<Packaged> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `orders-${stage}-package-`));
  await onePackagingAtATime(() =>
    promisify(execFile)(process.execPath, [SERVERLESS_CLI, 'package', '--stage', stage, '--package', dir], {
      cwd: PROJECT_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_CONFIG_FILE: '/nonexistent',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
        ...env,
      },
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
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

export interface InvocationOutcome {
  requestId: string;
  result?: unknown;
  error?: { errorType: string; errorMessage: string };
  /** performance.now() when the invocation was handed out, and when its answer arrived. */
  startedAt: number;
  answeredAt: number;
}

interface QueuedInvocation {
  requestId: string;
  event: unknown;
  deadlineMs: number;
  startedAt: number;
  resolve(outcome: InvocationOutcome): void;
  reject(error: Error): void;
}

export interface SandboxOptions {
  fn: PackagedFunction;
  codeDir: string;
  /** The function's environment (functionEnvironment). */
  env: Record<string, string>;
  /** Called the moment an answer arrives, before anyone awaiting it resumes: to see what was exported by then. */
  onAnswer?: (outcome: InvocationOutcome) => void;
}

/**
 * One Lambda sandbox: a Node process on the runtime's loop, fed through a Runtime API served here. It starts
 * with `start()` (the init phase runs at once, as on a cold start); each invoke waits its turn.
 */
export class LambdaSandbox {
  private readonly queue: QueuedInvocation[] = [];
  private readonly inFlight = new Map<string, QueuedInvocation>();
  private readonly waitingForNext: ServerResponse[] = [];
  private server?: LoopbackServer;
  private child?: ChildProcess;
  private failure?: Error;
  private output = '';
  /** performance.now() at spawn, and when init ended (the runtime's first request for an invocation). */
  spawnedAt = 0;
  initDoneAt?: number;
  /** Every invocation answered so far, in order. */
  readonly answers: InvocationOutcome[] = [];
  private initDone?: () => void;
  private initFailed?: (error: Error) => void;
  /** Resolves when init has ended; rejects if it failed or the runtime exited first. */
  readonly initialized = new Promise<void>((resolve, reject) => {
    this.initDone = resolve;
    this.initFailed = reject;
  });

  constructor(private readonly options: SandboxOptions) {
    // A failure nobody waits for is reported by invoke(), not as an unhandled rejection.
    this.initialized.catch(() => {});
  }

  get fn(): PackagedFunction {
    return this.options.fn;
  }

  /** Everything the function wrote on stdout and stderr: what CloudWatch Logs would hold. */
  logs(): string {
    return this.output;
  }

  /** The JSON lines among them. */
  logLines(): Array<Record<string, unknown>> {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async start(): Promise<this> {
    this.server = await listenOnLoopback((request, response) => this.serve(request, response));
    const { port } = this.server;
    const { fn, codeDir, env } = this.options;
    const major = /^nodejs(\d+)\.x$/.exec(fn.runtime)?.[1];
    if (major !== process.versions.node.split('.')[0]) {
      throw new Error(`${fn.functionName} runs on ${fn.runtime}, but this is Node ${process.version}`);
    }
    this.spawnedAt = performance.now();
    this.child = spawn(process.execPath, [BOOTSTRAP], {
      cwd: codeDir,
      env: {
        ...env,
        // NODE_OPTIONS names the preload under /var/task; here the task root is the unzipped folder.
        NODE_OPTIONS: (env.NODE_OPTIONS ?? '').replaceAll(LAMBDA_TASK_ROOT, codeDir),
        ...lambdaRuntimeVariables(fn, codeDir),
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.child.on('exit', (code, signal) => {
      this.fail(
        new Error(`${fn.functionName}'s runtime exited (${code ?? signal}):\n${this.output.slice(-2000)}`),
      );
    });
    return this;
  }

  /** Invokes the function once; answers its result or its error as the runtime reported it. */
  invoke(event: unknown): Promise<InvocationOutcome> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const invocation: QueuedInvocation = {
        requestId: randomUUID(),
        event,
        deadlineMs: 0,
        startedAt: 0,
        resolve,
        reject,
      };
      this.queue.push(invocation);
      this.handOut();
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await this.server?.close();
    this.server = undefined;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.initFailed?.(this.failure);
    for (const invocation of [...this.queue, ...this.inFlight.values()]) invocation.reject(this.failure);
    this.queue.length = 0;
    this.inFlight.clear();
  }

  /** Gives the oldest queued invocation to a runtime waiting on /next, if both exist. */
  private handOut(): void {
    while (this.queue.length > 0 && this.waitingForNext.length > 0) {
      const invocation = this.queue.shift() as QueuedInvocation;
      const response = this.waitingForNext.shift() as ServerResponse;
      invocation.startedAt = performance.now();
      invocation.deadlineMs = Date.now() + this.fn.timeoutSeconds * 1000;
      this.inFlight.set(invocation.requestId, invocation);
      const body = JSON.stringify(invocation.event);
      response
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'lambda-runtime-aws-request-id': invocation.requestId,
          'lambda-runtime-deadline-ms': String(invocation.deadlineMs),
          'lambda-runtime-invoked-function-arn': `arn:aws:lambda:us-east-1:${DUMMY_ACCOUNT}:function:${this.fn.functionName}`,
        })
        .end(body);
    }
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '';
    if (request.method === 'GET' && url.endsWith('/runtime/invocation/next')) {
      if (this.initDoneAt === undefined) {
        this.initDoneAt = performance.now();
        this.initDone?.();
      }
      this.waitingForNext.push(response);
      this.handOut();
      return;
    }
    const body = await readBody(request);
    response.writeHead(202, { 'content-length': 0 }).end();
    if (url.endsWith('/runtime/init/error')) {
      const error = JSON.parse(body) as { errorType: string; errorMessage: string };
      this.fail(
        Object.assign(new Error(`${error.errorType}: ${error.errorMessage}`), { name: error.errorType }),
      );
      return;
    }
    const answer = /\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    const invocation = answer?.[1] ? this.inFlight.get(answer[1]) : undefined;
    if (!invocation || !answer) return;
    this.inFlight.delete(invocation.requestId);
    const outcome: InvocationOutcome = {
      requestId: invocation.requestId,
      startedAt: invocation.startedAt,
      answeredAt: performance.now(),
      ...(answer[2] === 'response'
        ? { result: JSON.parse(body) as unknown }
        : { error: JSON.parse(body) as { errorType: string; errorMessage: string } }),
    };
    this.answers.push(outcome);
    this.options.onAnswer?.(outcome);
    invocation.resolve(outcome);
  }
}

/** What the Lambda service sets in every sandbox of a function (besides the function's own variables). */
function lambdaRuntimeVariables(fn: PackagedFunction, codeDir: string): Record<string, string> {
  return {
    _HANDLER: fn.handler,
    LAMBDA_TASK_ROOT: codeDir,
    LAMBDA_RUNTIME_DIR: path.dirname(BOOTSTRAP),
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/02/[$LATEST]00000000000000000000000000000000',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    // The sandbox's role credentials; dummies here (DynamoDB Local and the SSM stand-in accept any).
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SESSION_TOKEN: 'local',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One route of the deployed REST API: its method, resource template, function and authorization. */
export interface ApiRoute {
  method: string;
  resource: string;
  functionLogicalId: string;
  authorization: string;
}

/** The REST API's routes, read from the template's AWS::ApiGateway::Resource and ::Method resources. */
export function apiRoutes(template: Template): ApiRoute[] {
  const resources = template.Resources;
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string })?.Ref;
    const resource = id ? resources[id] : undefined;
    if (!id || !resource) return '';
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  return Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::ApiGateway::Method' && resource.Properties.HttpMethod !== 'OPTIONS',
    )
    .map(({ Properties: p }) => {
      const uri = JSON.stringify((p.Integration as { Uri?: unknown })?.Uri ?? '');
      const functionLogicalId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1] ?? '';
      return {
        method: String(p.HttpMethod),
        resource: pathOf(p.ResourceId) || '/',
        functionLogicalId,
        authorization: String(p.AuthorizationType),
      };
    });
}

/**
 * The deployed API Gateway, in front of the sandboxes: a REST API's proxy integration for each route. A
 * request becomes an API Gateway proxy event; a function error becomes API Gateway's 502; an IAM-authorized
 * route refuses a request that is not SigV4-signed, as API Gateway does.
 */
export class DeployedApi {
  private server?: LoopbackServer;
  url = '';

  constructor(
    private readonly routes: ApiRoute[],
    private readonly sandboxOf: (functionLogicalId: string) => LambdaSandbox,
    private readonly stage = 'prod',
  ) {}

  async start(): Promise<this> {
    this.server = await listenOnLoopback((request, response) => {
      this.serve(request, response).catch((error: Error) => {
        response
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: error.message }));
      });
    });
    this.url = this.server.url;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const stagePrefix = `/${this.stage}`;
    const requestPath = url.pathname.startsWith(`${stagePrefix}/`)
      ? url.pathname.slice(stagePrefix.length)
      : url.pathname;
    const match = this.match(String(request.method), requestPath);
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!match) return json(403, { message: 'Missing Authentication Token' });
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(',') : String(value),
      ]),
    );
    if (
      match.route.authorization === 'AWS_IAM' &&
      !String(headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')
    ) {
      return json(403, { message: 'Missing Authentication Token' });
    }
    const body = await readBody(request);
    const outcome = await this.sandboxOf(match.route.functionLogicalId).invoke(
      proxyEvent({
        ...match,
        method: String(request.method),
        path: requestPath,
        headers,
        body,
        stage: this.stage,
      }),
    );
    const result = outcome.result as
      | { statusCode?: number; headers?: Record<string, string>; body?: string }
      | undefined;
    if (outcome.error || typeof result?.statusCode !== 'number') {
      return json(502, { message: 'Internal server error' });
    }
    response.writeHead(result.statusCode, result.headers ?? {}).end(result.body ?? '');
  }

  private match(method: string, requestPath: string) {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const names: string[] = [];
      const pattern = new RegExp(
        `^${route.resource.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
          names.push(name);
          return '([^/]+)';
        })}$`,
      );
      const found = pattern.exec(requestPath);
      if (!found) continue;
      const pathParameters = Object.fromEntries(
        names.map((name, index) => [name, decodeURIComponent(found[index + 1] ?? '')]),
      );
      return { route, pathParameters: names.length > 0 ? pathParameters : null };
    }
    return undefined;
  }
}

/** An API Gateway (REST, proxy integration) event, as the function receives it. */
export function proxyEvent(request: {
  route: ApiRoute;
  method: string;
  path: string;
  pathParameters: Record<string, string> | null;
  headers: Record<string, string>;
  body: string;
  stage: string;
}) {
  return {
    resource: request.route.resource,
    path: request.path,
    httpMethod: request.method,
    headers: request.headers,
    multiValueHeaders: Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, [value]]),
    ),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: request.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: DUMMY_ACCOUNT,
      apiId: 'local',
      resourcePath: request.route.resource,
      httpMethod: request.method,
      path: `/${request.stage}${request.path}`,
      stage: request.stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      identity: { sourceIp: '127.0.0.1', userAgent: request.headers['user-agent'] ?? '' },
    },
    body: request.body === '' ? null : request.body,
    isBase64Encoded: false,
  };
}

/** What EventBridge sends a function on a schedule. */
export function scheduleEvent(functionName: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: DUMMY_ACCOUNT,
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:${DUMMY_ACCOUNT}:rule/${functionName}`],
    detail: {},
  };
}

/**
 * A local stand-in for SSM Parameter Store's GetParameter (AWS_ENDPOINT_URL_SSM points the SDK at it): the
 * AWS JSON 1.1 protocol, answering the parameters it is given and ParameterNotFound for the rest.
 */
export class SsmStandIn {
  private server?: LoopbackServer;
  url = '';
  readonly requested: string[] = [];
  /** The Authorization header of each request: SigV4, as SSM requires. */
  readonly authorizations: string[] = [];

  constructor(private readonly parameters: Record<string, string>) {}

  async start(): Promise<this> {
    this.server = await listenOnLoopback(async (request, response) => {
      const body = JSON.parse((await readBody(request)) || '{}') as { Name?: string };
      const target = String(request.headers['x-amz-target'] ?? '');
      const json = (status: number, payload: unknown): void => {
        response
          .writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify(payload));
      };
      if (target !== 'AmazonSSM.GetParameter') return json(400, { __type: 'InvalidAction', message: target });
      this.requested.push(String(body.Name));
      this.authorizations.push(String(request.headers.authorization ?? ''));
      const value = body.Name ? this.parameters[body.Name] : undefined;
      if (value === undefined)
        return json(400, { __type: 'ParameterNotFound', message: `${body.Name} not found` });
      json(200, { Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 } });
    });
    this.url = this.server.url;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}

/** Removes what packageStage and unzipArtifact left in the temporary folder. */
export function removeDirs(...dirs: string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

export interface DeployedStackOptions {
  packaged: Packaged;
  /** Every function's telemetry goes here (traces at /v1/traces, logs at /v1/logs). */
  otlpEndpoint: string;
  dynamodbEndpoint: string;
  ssmEndpoint: string;
  /** Set in every function besides the template's own variables, e.g. OTEL_SDK_DISABLED=true. */
  overrides?: Record<string, string>;
  /** See SandboxOptions.onAnswer. */
  onAnswer?: (fn: PackagedFunction, outcome: InvocationOutcome) => void;
}

/**
 * The whole deployed service: the API in front, one sandbox per function behind it (started at once, each
 * cold until its first invocation), each function's environment the template's, pointed at the given
 * DynamoDB, SSM and OTLP endpoints and at this API for its calls.
 */
export class DeployedStack {
  readonly api: DeployedApi;
  private readonly sandboxes = new Map<string, LambdaSandbox>();
  private readonly codeDirs = new Map<string, string>();

  constructor(private readonly options: DeployedStackOptions) {
    this.api = new DeployedApi(apiRoutes(options.packaged.template), (logicalId) => this.sandbox(logicalId));
  }

  get functions(): PackagedFunction[] {
    return this.options.packaged.functions;
  }

  async start(): Promise<this> {
    await this.api.start();
    for (const fn of this.functions) this.codeDirs.set(fn.logicalId, await unzipArtifact(fn.artifact));
    await Promise.all(this.functions.map((fn) => this.replace(fn.logicalId)));
    return this;
  }

  sandbox(logicalId: string): LambdaSandbox {
    const sandbox = this.sandboxes.get(logicalId);
    if (!sandbox) throw new Error(`no function ${logicalId} in ${[...this.sandboxes.keys()]}`);
    return sandbox;
  }

  /** The sandbox of the function that runs `service` (its OTEL_SERVICE_NAME). */
  sandboxOf(service: string): LambdaSandbox {
    const fn = this.functions.find((candidate) => candidate.variables.OTEL_SERVICE_NAME === service);
    if (!fn) throw new Error(`no function runs ${service}`);
    return this.sandbox(fn.logicalId);
  }

  /** Replaces a function's sandbox with a fresh one, as a new cold instance; resolves once it has started. */
  async replace(logicalId: string): Promise<LambdaSandbox> {
    await this.sandboxes.get(logicalId)?.stop();
    const fn = this.functions.find((candidate) => candidate.logicalId === logicalId);
    const codeDir = this.codeDirs.get(logicalId);
    if (!fn || !codeDir) throw new Error(`no function ${logicalId}`);
    const { otlpEndpoint, dynamodbEndpoint, ssmEndpoint, overrides = {}, onAnswer } = this.options;
    const env = functionEnvironment(
      fn,
      // The one CloudFormation expression among the variables: the stage's own API URL.
      { SERVICES_BASE_URL: `${this.api.url}/prod` },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
        AWS_ENDPOINT_URL_SSM: ssmEndpoint,
        ...overrides,
      },
    );
    const sandbox = new LambdaSandbox({
      fn,
      codeDir,
      env,
      ...(onAnswer ? { onAnswer: (outcome: InvocationOutcome) => onAnswer(fn, outcome) } : {}),
    });
    this.sandboxes.set(logicalId, sandbox);
    return sandbox.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sandboxes.values()].map((sandbox) => sandbox.stop()));
    await this.api.stop();
    removeDirs(...this.codeDirs.values());
  }
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
