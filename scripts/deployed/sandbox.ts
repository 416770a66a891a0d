import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { type LoopbackServer, listenOnLoopback, readBody } from '../lib/ports';
import { LAMBDA_TASK_ROOT, type PackagedFunction } from './package';

/**
 * One Lambda sandbox as AWS runs it: a fresh Node process on local-runtime/ric-bootstrap.mjs (the runtime's loop
 * and loader) with the template's environment and NODE_OPTIONS, fed through a Runtime API served from here.
 */

export const BOOTSTRAP = path.join(PROJECT_ROOT, 'local-runtime', 'ric-bootstrap.mjs');
/** The account every local ARN names (no real account is involved). */
export const DUMMY_ACCOUNT = '123456789012';

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
