import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Span } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { runInvocation } from '../../functions/shared/runtime/invocation';
import { flushingLogsToo } from '../../functions/shared/telemetry/flush';
import { recordHttpOutcome } from '../../functions/shared/telemetry/instrumentation-config';
import { createLogger } from '../../functions/shared/telemetry/logger';
import { parseHeaderList } from '../../functions/shared/telemetry/otlp-headers';
import { logsEndpoint } from '../../functions/shared/telemetry/settings';
import { WarnOnceExporter } from '../../functions/shared/telemetry/warn-once-exporter';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('writes JSON with a level name, ISO time, service name, trace and order ids', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({
      serviceName: 'order-service',
      level: 'info',
      destination,
    });
    await runInvocation(
      { traceId: 'c'.repeat(32), deadline: Date.now() + 1_000, orderId: 'order-1' },
      async () => {
        logger.info('inside an invocation');
      },
    );
    logger.warn('outside');
    assert.equal(lines.length, 2);
    const [inside, outside] = lines;
    assert.equal(inside?.level, 'info');
    assert.equal(new Date(String(inside?.time)).toISOString(), inside?.time);
    assert.equal(inside?.service_name, 'order-service');
    assert.equal(inside?.trace_id, 'c'.repeat(32));
    assert.equal(inside?.order_id, 'order-1');
    assert.equal(inside?.msg, 'inside an invocation');
    assert.equal(outside?.level, 'warn');
    assert.equal(outside?.trace_id, undefined);
    assert.equal('hostname' in (inside ?? {}), false, 'no host name: it would become a Loki label');
  });

  it('redacts card data, the address and secret-like fields wherever they are nested', () => {
    const { lines, destination } = capture();
    const logger = createLogger({
      serviceName: 's',
      level: 'info',
      destination,
    });
    logger.info({
      order: { card: { number: '4111111111111111' }, shipping_address: '1 Secret Lane', amount: 5 },
      headers: { authorization: 'Bearer abc.def' },
      token: 'tok_live_123',
    });
    const text = JSON.stringify(lines);
    for (const secret of ['4111111111111111', '1 Secret Lane', 'abc.def', 'tok_live_123']) {
      assert.ok(!text.includes(secret), `${secret} is redacted`);
    }
    assert.equal(
      (lines[0]?.order as Record<string, unknown> | undefined)?.amount,
      5,
      'the rest stays readable',
    );
  });
});

describe('trace export warnings', () => {
  it('warns once when export starts failing and once when it recovers', () => {
    const results = [
      ExportResultCode.FAILED,
      ExportResultCode.FAILED,
      ExportResultCode.FAILED,
      ExportResultCode.SUCCESS,
    ];
    const inner: SpanExporter = {
      export: (_spans, callback) => callback({ code: results.shift() ?? ExportResultCode.SUCCESS }),
      shutdown: async () => {},
    };
    const written: string[] = [];
    const exporter = new WarnOnceExporter(inner, 'http://tempo:4318/v1/traces', {
      serviceName: 'order-service',
      write: (line) => written.push(line),
    });
    const codes: number[] = [];
    for (let index = 0; index < 5; index++)
      exporter.export([] as ReadableSpan[], (result) => codes.push(result.code));
    assert.deepEqual(codes, [1, 1, 1, 0, 0], 'results pass through unchanged');
    assert.equal(written.length, 2);
    assert.equal(
      JSON.parse(written[0] ?? '{}').msg,
      'trace export to http://tempo:4318/v1/traces is failing; traces are dropped until it recovers',
    );
    assert.match(String(JSON.parse(written[1] ?? '{}').msg), /recovered/);
  });
});

describe('OTLP headers from SSM', () => {
  it('reads the OTEL_EXPORTER_OTLP_HEADERS format, URL-decoding values', () => {
    assert.deepEqual(
      parseHeaderList('Authorization=Basic%20dXNlcjp0b2tlbg==, X-Scope-OrgID=tenant-1,broken'),
      {
        Authorization: 'Basic dXNlcjp0b2tlbg==',
        'X-Scope-OrgID': 'tenant-1',
      },
    );
  });
});

describe('SERVER span status', () => {
  function fakeSpan() {
    const recorded: { attributes: Record<string, unknown>; status?: { code: number } } = { attributes: {} };
    const span = {
      setAttribute: (key: string, value: unknown) => {
        recorded.attributes[key] = value;
        return span;
      },
      setStatus: (status: { code: number }) => {
        recorded.status = status;
        return span;
      },
    };
    return { span: span as unknown as Span, recorded };
  }

  it('follows the HTTP conventions: a 5xx is an error, a 4xx is not', () => {
    for (const [statusCode, error] of [
      [201, false],
      [404, false],
      [409, false],
      [502, true],
      [504, true],
    ] as const) {
      const { span, recorded } = fakeSpan();
      recordHttpOutcome(span, { res: { statusCode } });
      assert.equal(recorded.attributes['http.response.status_code'], statusCode);
      assert.equal(recorded.status?.code === 2, error, String(statusCode));
    }
  });

  it('marks a thrown handler error as an error', () => {
    const { span, recorded } = fakeSpan();
    recordHttpOutcome(span, { err: new Error('boom') });
    assert.equal(recorded.status?.code, 2);
  });
});

describe('where log records go', () => {
  const base = 'https://otlp.example/otlp';
  it("offline: Loki's own OTLP endpoint when LOKI_URL is set, else nowhere", () => {
    assert.equal(
      logsEndpoint({ IS_OFFLINE: true, LOKI_URL: 'http://localhost:3100/' }, base),
      'http://localhost:3100/otlp/v1/logs',
    );
    assert.equal(logsEndpoint({ IS_OFFLINE: true, LOKI_URL: '' }, base), undefined);
  });

  it('deployed: the OTLP endpoint that takes the traces; an explicit endpoint or "none" wins', () => {
    assert.equal(logsEndpoint({}, base), `${base}/v1/logs`);
    assert.equal(logsEndpoint({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://x/logs' }, base), 'http://x/logs');
    assert.equal(logsEndpoint({ OTEL_LOGS_EXPORTER: 'none', LOKI_URL: 'http://l:3100' }, base), undefined);
  });

  it('the provider the Lambda instrumentation flushes flushes log records too, and still makes tracers', async () => {
    const flushed: string[] = [];
    const tracerProvider = {
      getTracer: () => ({ name: 'tracer' }),
      getDelegate: () => ({ forceFlush: async () => void flushed.push('spans') }),
    };
    const loggerProvider = { forceFlush: async () => void flushed.push('logs') };
    const provider = flushingLogsToo(tracerProvider as never, loggerProvider) as unknown as {
      getTracer(name: string): unknown;
      forceFlush(): Promise<void>;
      getDelegate?: unknown;
    };
    // The instrumentation would flush a getDelegate() instead of this provider's own forceFlush.
    assert.equal(provider.getDelegate, undefined);
    assert.deepEqual(provider.getTracer('x'), { name: 'tracer' });
    await provider.forceFlush();
    assert.deepEqual(flushed.sort(), ['logs', 'spans']);
  });
});
