import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import {
  AfterResponseExport,
  EXTENSION_NAME,
  extensionsApiAt,
  type PendingTelemetry,
  SHUTDOWN_WINDOW_MS,
} from '../../functions/shared/telemetry/after-response';
import { type LoopbackServer, listenOnLoopback, readBody } from '../../scripts/lib/ports';

/**
 * The internal extension's protocol against a fake Extensions API: what it asks, in which order, and how long
 * it lets an export run. The fake records every call; a test hands out INVOKE events by answering the pending
 * event/next.
 */
class FakeExtensionsApi {
  readonly calls: string[] = [];
  registration?: { name: string | undefined; body: unknown };
  refuseRegistration = false;
  private pendingNext?: ServerResponse;
  private nextWaiters: Array<() => void> = [];
  private server?: LoopbackServer;

  async start(): Promise<string> {
    this.server = await listenOnLoopback(async (request, response) => {
      const body = await readBody(request);
      if (request.url === '/2020-01-01/extension/register') {
        this.calls.push('register');
        this.registration = {
          name: request.headers['lambda-extension-name'] as string | undefined,
          body: JSON.parse(body),
        };
        if (this.refuseRegistration) {
          response.writeHead(403).end('{"errorType":"Extension.RegistrationClosed"}');
          return;
        }
        response.writeHead(200, { 'lambda-extension-identifier': 'ext-1' }).end('{}');
        return;
      }
      this.calls.push(`next ${request.headers['lambda-extension-identifier']}`);
      this.pendingNext = response;
      for (const resolve of this.nextWaiters.splice(0)) resolve();
    });
    return `127.0.0.1:${this.server.port}`;
  }

  /** Resolves once the extension has a pending event/next (it has asked for its next event). */
  async asked(): Promise<void> {
    if (!this.pendingNext) await new Promise<void>((resolve) => this.nextWaiters.push(resolve));
  }

  /** Answers the pending event/next with an INVOKE event. */
  async invoke(requestId: string, deadlineMs: number): Promise<void> {
    await this.asked();
    const response = this.pendingNext as ServerResponse;
    this.pendingNext = undefined;
    this.calls.push(`INVOKE ${requestId}`);
    response.writeHead(200).end(JSON.stringify({ eventType: 'INVOKE', deadlineMs, requestId }));
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}

type Handler = (event: unknown, context: { awsRequestId: string }) => Promise<string>;
const answering =
  (value: string): Handler =>
  async () =>
    value;

describe('the after-response extension', () => {
  let api: FakeExtensionsApi;
  let lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
  let drains: number[];
  let drainResult: PendingTelemetry;
  let drained: () => void;

  /** A fresh fake API and an extension on it; the previous test's extension stops with its API. */
  const setup = async (waitMs = 1000) => {
    await api?.stop();
    api = new FakeExtensionsApi();
    const runtimeApi = await api.start();
    const written: typeof lines = [];
    lines = written;
    drains = [];
    drainResult = { spans: 0, logRecords: 0 };
    drained = () => {};
    return new AfterResponseExport({
      api: extensionsApiAt(runtimeApi),
      waitMs,
      drain: async (budgetMs) => {
        api.calls.push(`drain ${budgetMs}`);
        drains.push(budgetMs);
        drained();
        return drainResult;
      },
      write: (level, msg, fields) => written.push({ level, msg, ...(fields ? { fields } : {}) }),
    });
  };
  after(() => api?.stop());

  const nextDrain = () => new Promise<void>((resolve) => (drained = resolve));

  it('registers for INVOKE only, under its name, then asks for its first event', async () => {
    const ext = await setup();
    assert.equal(await ext.start(), true);
    await api.asked();
    assert.deepEqual(api.registration, { name: EXTENSION_NAME, body: { events: ['INVOKE'] } });
    assert.deepEqual(api.calls, ['register', 'next ext-1']);
  });

  it('asks for the next event only after the handler settled and the export ran', async () => {
    const ext = await setup();
    await ext.start();
    let finish: (value: string) => void = () => {};
    const handler = ext.track<Handler>(async () => new Promise<string>((resolve) => (finish = resolve)));
    const answer = handler({}, { awsRequestId: 'r1' });
    await api.invoke('r1', Date.now() + 60_000);
    // The handler has not settled: the extension waits, neither exporting nor asking for more.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(api.calls, ['register', 'next ext-1', 'INVOKE r1']);
    const exported = nextDrain();
    finish('done');
    assert.equal(await answer, 'done');
    await exported;
    await api.asked();
    assert.deepEqual(api.calls, ['register', 'next ext-1', 'INVOKE r1', 'drain 1000', 'next ext-1']);
  });

  it('handles an INVOKE that arrives after its handler already settled', async () => {
    const ext = await setup();
    await ext.start();
    await ext.track(answering('fast'))({}, { awsRequestId: 'r2' });
    const exported = nextDrain();
    await api.invoke('r2', Date.now() + 60_000);
    await exported;
    await api.asked();
    assert.deepEqual(api.calls.slice(-3), ['INVOKE r2', 'drain 1000', 'next ext-1']);
  });

  it('bounds the export by its wait and by the invocation’s deadline, and says what was left pending', async () => {
    const ext = await setup(300);
    await ext.start();
    drainResult = { spans: 3, logRecords: 5 };
    const handler = ext.track(answering('ok'));
    await handler({}, { awsRequestId: 'r3' });
    let exported = nextDrain();
    await api.invoke('r3', Date.now() + 60_000);
    await exported;
    assert.equal(drains[0], 300, 'the wait bounds it when the deadline is far');
    await handler({}, { awsRequestId: 'r4' });
    exported = nextDrain();
    await api.invoke('r4', Date.now() + 120);
    await exported;
    assert.ok((drains[1] ?? Number.NaN) < 120, `the deadline bounds it when near: ${drains[1]}`);
    await api.asked();
    const pending = lines.filter((line) => /did not finish/.test(line.msg));
    assert.equal(pending.length, 2);
    assert.deepEqual(pending[0]?.fields, { request_id: 'r3', pending_spans: 3, pending_log_records: 5 });
  });

  it('falls back to exporting before the answer when registration is refused, and says so', async () => {
    const ext = await setup();
    api.refuseRegistration = true;
    assert.equal(await ext.start(), false);
    assert.equal(ext.registered, false);
    assert.match(lines[0]?.msg ?? '', /could not register .*RegistrationClosed.*before it answers/);
  });

  it('at shutdown, drains within the window and says what it dropped, then exits', async () => {
    const ext = await setup();
    drainResult = { spans: 2, logRecords: 0 };
    let exitCode: number | undefined;
    await ext.shutdown((code) => {
      exitCode = code;
    });
    assert.equal(exitCode, 0);
    assert.ok((drains[0] ?? Number.POSITIVE_INFINITY) < SHUTDOWN_WINDOW_MS, 'drained within the window');
    assert.deepEqual(lines.at(-1)?.fields, { dropped_spans: 2, dropped_log_records: 0 });
  });
});
