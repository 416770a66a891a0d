import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { lambdaNodeArgs } from '#local-runtime/runtimes.cjs';
import { type LoopbackServer, listenOnLoopback, readBody } from '../lib/ports';
import { LAMBDA_TASK_ROOT, type PackagedFunction } from './package';

/**
 * One Lambda sandbox as AWS runs it: a fresh Node process on local-runtime/ric-bootstrap.mjs (the runtime's loop
 * and loader), started with the flags and heap sizes Lambda's bootstrap gives Node, with the template's
 * environment and NODE_OPTIONS, fed through a Runtime API and an Extensions API
 * served from here, with Lambda's execution lifecycle:
 * - init ends when the runtime has asked for its first invocation and every registered extension for its first
 *   event; registration closes at the runtime's first /invocation/next;
 * - an invocation ends when the runtime has posted its answer and asked for the next one, and every extension
 *   has asked for its next event. The caller has the answer from the moment it is posted;
 * - between invocations the sandbox is frozen (SIGSTOP): whatever the process had under way waits, as it does
 *   deployed. It thaws (SIGCONT) when the next invocation is handed out;
 * - retiring it sends SIGTERM when an extension is registered and allows the shutdown window, then SIGKILL.
 */

export const BOOTSTRAP = path.join(PROJECT_ROOT, 'local-runtime', 'ric-bootstrap.mjs');
/** The account every local ARN names (no real account is involved). */
export const DUMMY_ACCOUNT = '123456789012';
/** The time between SIGTERM and SIGKILL at shutdown when only internal extensions are registered. */
export const SHUTDOWN_WINDOW_MS = 500;

export interface InvocationOutcome {
  requestId: string;
  result?: unknown;
  error?: { errorType: string; errorMessage: string };
  /** performance.now() when the invocation was handed out, when its answer arrived, and when it ended. */
  startedAt: number;
  answeredAt: number;
  /** Set when the invocation ends: the runtime and every extension have asked for what comes next. */
  endedAt?: number;
}

/** How a retired sandbox went: SIGTERM answered by exiting within the window, or SIGKILL. */
export interface Retirement {
  signals: Array<'SIGTERM' | 'SIGKILL'>;
  /** Whether the process exited by itself within the shutdown window. */
  exitedWithinWindow: boolean;
}

interface QueuedInvocation {
  requestId: string;
  event: unknown;
  deadlineMs: number;
  startedAt: number;
  outcome?: InvocationOutcome;
  resolve(outcome: InvocationOutcome): void;
  reject(error: Error): void;
}

/** A registered extension: what it subscribed to, and its pending /event/next, if it is waiting. */
interface Extension {
  name: string;
  events: Set<string>;
  waiting?: ServerResponse;
}

export interface SandboxOptions {
  fn: PackagedFunction;
  codeDir: string;
  /** The function's environment (functionEnvironment). */
  env: Record<string, string>;
  /** Called the moment an answer arrives, before anyone awaiting it resumes: to see what was exported by then. */
  onAnswer?: (outcome: InvocationOutcome) => void;
  /** Called when an invocation ends, just before the sandbox freezes: to see what was exported by then. */
  onEnd?: (outcome: InvocationOutcome) => void;
}

/** Where the Extensions API answers (its paths under the Runtime API's host). */
const EXTENSION_API = '/2020-01-01/extension/';

/**
 * One Lambda sandbox: a Node process on the runtime's loop, fed through the Runtime and Extensions APIs served
 * here. It starts with `start()` (the init phase runs at once, as on a cold start); each invoke waits its turn.
 */
export class LambdaSandbox {
  private readonly queue: QueuedInvocation[] = [];
  private current?: QueuedInvocation;
  private runtimeWaiting?: ServerResponse;
  private readonly extensions = new Map<string, Extension>();
  private registrationOpen = true;
  private frozen = false;
  private server?: LoopbackServer;
  private child?: ChildProcess;
  private failure?: Error;
  private output = '';
  /** When each chunk of output arrived (performance.now()), and where it ended in `output`. */
  private readonly outputTimes: Array<{ at: number; end: number }> = [];
  private readonly idleWaiters: Array<() => void> = [];
  /** performance.now() at spawn, and when init ended (the runtime and every extension asked for what is next). */
  spawnedAt = 0;
  initDoneAt?: number;
  /** Every invocation answered so far, in order. */
  readonly answers: InvocationOutcome[] = [];
  /** How the sandbox was retired, once it was. */
  retirement?: Retirement;
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

  /** Whether it is free for an invocation: nothing in progress or queued, and not failed or retired. */
  get available(): boolean {
    return !this.current && this.queue.length === 0 && !this.failure && !this.retirement;
  }

  /** Where its Runtime and Extensions APIs answer (AWS_LAMBDA_RUNTIME_API). */
  get runtimeApi(): string {
    return `127.0.0.1:${this.server?.port}`;
  }

  /** The names of the extensions registered with it. */
  get extensionNames(): string[] {
    return [...this.extensions.values()].map((extension) => extension.name);
  }

  /** Everything the function wrote on stdout and stderr: what CloudWatch Logs would hold. */
  logs(): string {
    return this.output;
  }

  /** The JSON lines among them. */
  logLines(): Array<Record<string, unknown>> {
    return this.timedLogLines().map(({ line }) => line);
  }

  /** The JSON lines, each with when it arrived here (performance.now()). */
  timedLogLines(): Array<{ at: number; line: Record<string, unknown> }> {
    const lines: Array<{ at: number; line: Record<string, unknown> }> = [];
    let start = 0;
    for (const text of this.output.split('\n')) {
      const end = start + text.length;
      if (text.startsWith('{')) {
        const at = this.outputTimes.find((chunk) => chunk.end >= end)?.at ?? Number.NaN;
        lines.push({ at, line: JSON.parse(text) as Record<string, unknown> });
      }
      start = end + 1;
    }
    return lines;
  }

  /** Resolves once the process has been spawned (start() was called and got that far). */
  get started(): Promise<this> {
    this.starting ??= this.spawn().catch((error: Error) => {
      this.fail(error);
      throw error;
    });
    return this.starting;
  }

  /** Spawns the process: its init runs at once. */
  start(): Promise<this> {
    return this.started;
  }

  private starting?: Promise<this>;

  private async spawn(): Promise<this> {
    this.server = await listenOnLoopback((request, response) => this.serve(request, response));
    const { port } = this.server;
    const { fn, codeDir, env } = this.options;
    const major = /^nodejs(\d+)\.x$/.exec(fn.runtime)?.[1];
    if (major !== process.versions.node.split('.')[0]) {
      throw new Error(`${fn.functionName} runs on ${fn.runtime}, but this is Node ${process.version}`);
    }
    this.spawnedAt = performance.now();
    // Node started as Lambda's bootstrap starts it: its flags decide, among other things, whether V8 accepts the
    // package's code cache.
    this.child = spawn(process.execPath, [...lambdaNodeArgs(fn.memoryMb), BOOTSTRAP], {
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
      this.outputTimes.push({ at: performance.now(), end: this.output.length });
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
      this.queue.push({ requestId: randomUUID(), event, deadlineMs: 0, startedAt: 0, resolve, reject });
      this.advance();
    });
  }

  /** Resolves once no invocation is in progress or queued: every one so far has ended. */
  idle(): Promise<void> {
    return this.available || this.failure
      ? Promise.resolve()
      : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Retires the sandbox as Lambda does: with an extension registered, it thaws it, sends SIGTERM and allows the
   * shutdown window before SIGKILL; with none, SIGKILL at once.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const signals: Retirement['signals'] = [];
      this.retirement = { signals, exitedWithinWindow: false };
      if (this.extensions.size > 0) {
        if (this.frozen) child.kill('SIGCONT');
        this.frozen = false;
        signals.push('SIGTERM');
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SHUTDOWN_WINDOW_MS))),
        ]);
        clearTimeout(timer);
        this.retirement.exitedWithinWindow = inTime;
      }
      if (child.exitCode === null && child.signalCode === null) {
        signals.push('SIGKILL');
        child.kill('SIGKILL');
      }
      await exited;
    }
    await this.server?.close();
    this.server = undefined;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.initFailed?.(this.failure);
    const current = this.current;
    this.current = undefined;
    for (const invocation of [...this.queue, ...(current && !current.outcome ? [current] : [])])
      invocation.reject(this.failure);
    this.queue.length = 0;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Whether the runtime and every extension are waiting for what comes next. */
  private get everyoneWaiting(): boolean {
    return this.runtimeWaiting !== undefined && [...this.extensions.values()].every((ext) => ext.waiting);
  }

  /** Moves the lifecycle on: ends init or the current invocation, hands out the next one, or freezes. */
  private advance(): void {
    if (this.failure || !this.everyoneWaiting) return;
    if (this.initDoneAt === undefined) {
      this.initDoneAt = performance.now();
      this.initDone?.();
    }
    const ended = this.current;
    if (ended?.outcome) {
      ended.outcome.endedAt = performance.now();
      this.current = undefined;
      this.options.onEnd?.(ended.outcome);
    }
    const next = this.queue.shift();
    if (next) {
      this.handOut(next);
      return;
    }
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (!this.frozen && this.child && this.child.exitCode === null) {
      this.frozen = true;
      this.child.kill('SIGSTOP');
    }
  }

  /** Gives an invocation to the waiting runtime, and its INVOKE event to every extension that asked for it. */
  private handOut(invocation: QueuedInvocation): void {
    if (this.frozen) {
      this.frozen = false;
      this.child?.kill('SIGCONT');
    }
    invocation.startedAt = performance.now();
    invocation.deadlineMs = Date.now() + this.fn.timeoutSeconds * 1000;
    this.current = invocation;
    const invokedFunctionArn = `arn:aws:lambda:us-east-1:${DUMMY_ACCOUNT}:function:${this.fn.functionName}`;
    sendJson(this.runtimeWaiting as ServerResponse, 200, invocation.event, {
      'lambda-runtime-aws-request-id': invocation.requestId,
      'lambda-runtime-deadline-ms': String(invocation.deadlineMs),
      'lambda-runtime-invoked-function-arn': invokedFunctionArn,
    });
    this.runtimeWaiting = undefined;
    for (const extension of this.extensions.values()) {
      if (!extension.events.has('INVOKE')) continue;
      sendJson(extension.waiting as ServerResponse, 200, {
        eventType: 'INVOKE',
        deadlineMs: invocation.deadlineMs,
        requestId: invocation.requestId,
        invokedFunctionArn,
      });
      extension.waiting = undefined;
    }
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '';
    if (url.startsWith(EXTENSION_API)) {
      this.serveExtension(url.slice(EXTENSION_API.length), request, response, await readBody(request));
      return;
    }
    if (request.method === 'GET' && url.endsWith('/runtime/invocation/next')) {
      // Registration closes when the runtime is ready (the emulator's registrationService.TurnOff()).
      this.registrationOpen = false;
      this.runtimeWaiting = response;
      this.advance();
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
    const invocation = this.current;
    if (!answer || !invocation || invocation.requestId !== answer[1] || invocation.outcome) return;
    const outcome: InvocationOutcome = {
      requestId: invocation.requestId,
      startedAt: invocation.startedAt,
      answeredAt: performance.now(),
      ...(answer[2] === 'response'
        ? { result: JSON.parse(body) as unknown }
        : { error: JSON.parse(body) as { errorType: string; errorMessage: string } }),
    };
    invocation.outcome = outcome;
    this.answers.push(outcome);
    this.options.onAnswer?.(outcome);
    invocation.resolve(outcome);
  }

  /** The Extensions API: register (internal extensions: INVOKE only) and event/next. */
  private serveExtension(
    path: string,
    request: IncomingMessage,
    response: ServerResponse,
    body: string,
  ): void {
    const refusal =
      request.method === 'POST' && path === 'register'
        ? this.register(request.headers['lambda-extension-name'], body, response)
        : request.method === 'GET' && path === 'event/next'
          ? this.waitForEvent(request.headers['lambda-extension-identifier'], response)
          : { errorType: 'InvalidRequest', errorMessage: `no ${request.method} ${path}` };
    if (refusal) sendJson(response, 403, refusal);
  }

  /** Registers an internal extension, or answers why Lambda would refuse it (its errorType and message). */
  private register(name: unknown, body: string, response: ServerResponse): ExtensionRefusal | undefined {
    if (typeof name !== 'string' || name === '')
      return { errorType: 'Extension.InvalidExtensionName', errorMessage: 'Empty extension name' };
    const events = ((JSON.parse(body || '{}') as { events?: string[] }).events ?? []).map(String);
    const invalid = events.find((event) => event !== 'INVOKE');
    if (invalid) {
      const reason =
        invalid === 'SHUTDOWN' ? 'ShutdownEventNotSupportedForInternalExtension' : 'ErrorInvalidEventType';
      return { errorType: 'Extension.InvalidEventType', errorMessage: `${invalid}: ${reason}` };
    }
    // Checked after the events, as the emulator does: an internal extension asking for SHUTDOWN is refused for that.
    if (!this.registrationOpen)
      return {
        errorType: 'Extension.RegistrationClosed',
        errorMessage: 'Extension registration closed already',
      };
    if ([...this.extensions.values()].some((extension) => extension.name === name))
      return {
        errorType: 'Extension.InvalidExtensionState',
        errorMessage: 'Extension with this name already registered',
      };
    const identifier = randomUUID();
    this.extensions.set(identifier, { name, events: new Set(events) });
    sendJson(
      response,
      200,
      { functionName: this.fn.functionName, functionVersion: '$LATEST', handler: this.fn.handler },
      { 'lambda-extension-identifier': identifier },
    );
    return undefined;
  }

  /** Holds an extension's event/next until its next event, or answers why Lambda would refuse it. */
  private waitForEvent(identifier: unknown, response: ServerResponse): ExtensionRefusal | undefined {
    if (typeof identifier !== 'string')
      return {
        errorType: 'Extension.MissingExtensionIdentifier',
        errorMessage: 'Missing Lambda-Extension-Identifier header',
      };
    const extension = this.extensions.get(identifier);
    if (!extension)
      return { errorType: 'Extension.UnknownExtensionIdentifier', errorMessage: 'Unknown extension' };
    extension.waiting = response;
    this.advance();
    return undefined;
  }
}

/** The Extensions API's 403 body (the emulator's ErrorResponse). */
interface ExtensionRefusal {
  errorType: string;
  errorMessage: string;
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    .end(text);
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
