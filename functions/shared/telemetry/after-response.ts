/**
 * Deployed, an invocation's spans and log records leave after its response, not before: the function registers
 * an internal Lambda extension, and Lambda does not freeze the sandbox until every extension has asked for its
 * next event. The caller already has the answer by then; only the billed duration includes the export.
 *
 * The lifecycle (AWS's Extensions API):
 * - init: `POST /2020-01-01/extension/register` for INVOKE (an internal extension may not ask for SHUTDOWN),
 *   then `GET /2020-01-01/extension/event/next`, which ends init on the extension's side;
 * - each invocation: that call answers the INVOKE event. The extension waits for the handler to settle and the
 *   runtime to post its answer, exports, and only then asks for the next event: the invocation ends there;
 * - the export is bounded (TELEMETRY_EXPORT_WAIT_MS, and the invocation's deadline): past it, one line says what
 *   is still pending, and the extension lets the sandbox freeze. What is pending goes on when it thaws;
 * - shutdown: with an extension registered, Lambda sends the runtime SIGTERM and allows it 500 ms before
 *   SIGKILL. Whatever is still pending is exported then, and one line says whether any of it was dropped.
 */
import http from 'node:http';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { LambdaHandler } from './handoff';

/** What each exporter still holds when an export is given up on: never delivered if the sandbox dies now. */
export interface PendingTelemetry {
  spans: number;
  logRecords: number;
}

/** Exports what the providers hold, waiting at most `budgetMs`; answers what is still pending after it. */
export type Drain = (budgetMs: number) => Promise<PendingTelemetry>;

/** The events the Extensions API hands an extension (its AgentInvokeEvent and AgentShutdownEvent). */
export interface ExtensionEvent {
  eventType: 'INVOKE' | 'SHUTDOWN';
  deadlineMs: number;
  requestId?: string;
}

/** The Extensions API's two calls, as an extension makes them. */
export interface ExtensionsApi {
  /** Registers `name` for `events`; answers the Lambda-Extension-Identifier. */
  register(name: string, events: Array<ExtensionEvent['eventType']>): Promise<string>;
  /** Long-polls the next event: asking for it is what tells Lambda this extension is done. */
  next(identifier: string): Promise<ExtensionEvent>;
}

/** The extension's name, as Lambda reports it. */
export const EXTENSION_NAME = 'orders-telemetry';
/** How long Lambda lets the runtime run after SIGTERM when only internal extensions are registered. */
export const SHUTDOWN_WINDOW_MS = 500;
/** Left of the window for writing the last line and exiting. */
const SHUTDOWN_MARGIN_MS = 50;
/** Left of the invocation's own deadline: Lambda's timeout covers the extension's work too. */
const DEADLINE_MARGIN_MS = 50;

/**
 * The Extensions API on AWS_LAMBDA_RUNTIME_API, over node:http with tracing suppressed (its own calls are no
 * part of any trace). One keep-alive connection: the long poll is pending whenever the sandbox is frozen.
 */
export function extensionsApiAt(runtimeApi: string): ExtensionsApi {
  const [host, port] = runtimeApi.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: 'GET' | 'POST', path: string, headers: Record<string, string>, body = '') =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      context.with(suppressTracing(context.active()), () => {
        const request = http.request(
          { host, port: Number(port), method, path: `/2020-01-01/extension/${path}`, headers, agent },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              text += chunk;
            });
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
            );
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    });
  const refused = (what: string, answer: { status: number; body: string }) =>
    new Error(`extension ${what} answered ${answer.status}: ${answer.body}`);
  return {
    async register(name, events) {
      const answer = await call(
        'POST',
        'register',
        { 'lambda-extension-name': name, 'content-type': 'application/json' },
        JSON.stringify({ events }),
      );
      const identifier = answer.headers['lambda-extension-identifier'];
      if (answer.status !== 200 || typeof identifier !== 'string') throw refused('register', answer);
      return identifier;
    },
    async next(identifier) {
      const headers = { 'lambda-extension-identifier': identifier };
      // A keep-alive connection the API closed while idle fails the request at once: asked again, once, on a new
      // one (the call changes nothing until it is answered).
      const answer = await call('GET', 'event/next', headers).catch(() => call('GET', 'event/next', headers));
      if (answer.status !== 200) throw refused('event/next', answer);
      return JSON.parse(answer.body) as ExtensionEvent;
    },
  };
}

/**
 * aws-lambda-ric 4.0.2 posts a handler's answer one setImmediate after the handler's promise settles
 * (LifecycleManager.succeed/fail), synchronously through its native client. Two turns of the check phase
 * after the handler settled, that post has been made: the export starts after the caller has its answer.
 */
const responsePosted = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

export interface AfterResponseOptions {
  api: ExtensionsApi;
  drain: Drain;
  /** TELEMETRY_EXPORT_WAIT_MS: the longest an invocation waits for its export after the response. */
  waitMs: number;
  /** One JSON line for the function's log (stderr by default). */
  write: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/** The internal extension: see the top of this file. */
export class AfterResponseExport {
  /** Set once registration succeeded: until then (or if it failed) each invocation flushes before it answers. */
  registered = false;
  private identifier = '';
  /** Invocations whose handler has settled, and the waiters of those that have not yet. */
  private readonly settledIds = new Set<string>();
  private readonly waiters = new Map<string, () => void>();
  private shuttingDown = false;

  constructor(private readonly options: AfterResponseOptions) {}

  /** Registers the extension and starts its loop; answers whether it registered. Never throws. */
  async start(): Promise<boolean> {
    try {
      this.identifier = await this.options.api.register(EXTENSION_NAME, ['INVOKE']);
    } catch (error) {
      this.options.write(
        'warn',
        `the telemetry extension could not register (${(error as Error).message}): each invocation exports its telemetry before it answers instead`,
      );
      return false;
    }
    this.registered = true;
    void this.loop();
    return true;
  }

  /** The handler, reporting when each invocation settles (by its request id). */
  track<H extends LambdaHandler>(handler: H): H {
    const settle = (requestId: string) => {
      // Unregistered, no INVOKE event comes to collect what settled.
      if (!this.registered) return;
      const waiter = this.waiters.get(requestId);
      if (waiter) {
        this.waiters.delete(requestId);
        waiter();
      } else this.settledIds.add(requestId);
    };
    return (async (event: unknown, lambdaContext: { awsRequestId: string }) => {
      try {
        return await handler(event, lambdaContext);
      } finally {
        settle(lambdaContext.awsRequestId);
      }
    }) as H;
  }

  /** Resolves once the invocation's handler has settled, or at its deadline. */
  private settled(requestId: string, deadlineMs: number): Promise<void> {
    if (this.settledIds.delete(requestId)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.waiters.delete(requestId);
          resolve();
        },
        Math.max(0, deadlineMs - Date.now()),
      );
      this.waiters.set(requestId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async loop(): Promise<void> {
    for (;;) {
      let event: ExtensionEvent;
      try {
        event = await this.options.api.next(this.identifier);
      } catch (error) {
        // The API is gone (the sandbox is being torn down) or refused us: nothing more to wait for.
        if (!this.shuttingDown)
          this.options.write('warn', `the telemetry extension stopped: ${(error as Error).message}`);
        return;
      }
      if (event.eventType !== 'INVOKE' || !event.requestId) continue;
      await this.settled(event.requestId, event.deadlineMs);
      await responsePosted();
      const budgetMs = Math.max(
        0,
        Math.min(this.options.waitMs, event.deadlineMs - Date.now() - DEADLINE_MARGIN_MS),
      );
      const pending = await this.options.drain(budgetMs);
      if (pending.spans > 0 || pending.logRecords > 0) {
        this.options.write(
          'warn',
          `telemetry export did not finish within ${budgetMs} ms of the response: ${pending.spans} spans and ${pending.logRecords} log records still pending go on when the sandbox thaws, or at shutdown`,
          {
            request_id: event.requestId,
            pending_spans: pending.spans,
            pending_log_records: pending.logRecords,
          },
        );
      }
    }
  }

  /**
   * Lambda's SIGTERM: exports what is pending within the shutdown window, says what it could not, and exits
   * (a SIGTERM handler replaces Node's default of exiting at once).
   */
  async shutdown(exit: (code: number) => void = process.exit): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const dropped = await this.options.drain(SHUTDOWN_WINDOW_MS - SHUTDOWN_MARGIN_MS);
    if (dropped.spans > 0 || dropped.logRecords > 0) {
      this.options.write(
        'warn',
        `shutdown: ${dropped.spans} spans and ${dropped.logRecords} log records were dropped: not delivered within the ${SHUTDOWN_WINDOW_MS} ms shutdown window`,
        { dropped_spans: dropped.spans, dropped_log_records: dropped.logRecords },
      );
    } else {
      this.options.write('info', 'shutdown: all pending telemetry was delivered');
    }
    exit(0);
  }
}
