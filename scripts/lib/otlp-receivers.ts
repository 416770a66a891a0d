import { setTimeout as pause } from 'node:timers/promises';
import {
  decodeAttributes,
  decodeOtlpSpans,
  decodeValue,
  type OtlpTraces,
  type OtlpValue,
  type ReceivedSpan,
} from './otlp';
import { type LoopbackServer, listenOnLoopback, readBody } from './ports';

export { decodeOtlpSpans, type OtlpTraces, type ReceivedSpan, SPAN_KIND } from './otlp';

/** An OTLP log record: what Loki stores as a line (the body) with structured metadata. */
export interface ReceivedLogRecord {
  serviceName: string;
  resource: Record<string, unknown>;
  severityText: string;
  body: unknown;
  attributes: Record<string, unknown>;
  traceId: string;
  spanId: string;
  /** performance.now() when it arrived. */
  receivedAt: number;
}

abstract class Receiver {
  private server?: LoopbackServer;
  port = 0;
  requests = 0;
  /** Headers of the last request, e.g. to check OTEL_EXPORTER_OTLP_HEADERS arrived. */
  lastHeaders: Record<string, string | string[] | undefined> = {};
  /** How long each export waits for its answer: a backend this far away (the flush bench sets 50 ms). */
  answerDelayMs = 0;
  /** Headers of the last request to each path ("/v1/traces", "/v1/logs"). */
  readonly lastHeadersByPath = new Map<string, Record<string, string | string[] | undefined>>();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected abstract accept(path: string, body: string, contentType: string): boolean;

  /** What has arrived so far (spans or lines); served on GET /count for processes that cannot see this one. */
  protected abstract count(): number;

  async start(port = 0): Promise<this> {
    this.server = await listenOnLoopback(async (request, response) => {
      if (request.method === 'GET' && request.url === '/count') {
        response.writeHead(200).end(String(this.count()));
        return;
      }
      const body = await readBody(request);
      this.requests++;
      this.lastHeaders = request.headers;
      this.lastHeadersByPath.set(request.url ?? '', request.headers);
      const ok = this.accept(request.url ?? '', body, request.headers['content-type'] ?? '');
      if (this.answerDelayMs > 0) await pause(this.answerDelayMs);
      response.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' }).end('{}');
    }, port);
    this.port = this.server.port;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}

/** Receives OTLP/HTTP JSON trace exports, as Tempo's receiver on :4318 would. */
export class OtlpReceiver extends Receiver {
  readonly spans: ReceivedSpan[] = [];
  spanCount = 0;

  /** keepSpans: false only counts, for long runs such as the benchmark. */
  constructor(private readonly options: { keepSpans?: boolean } = {}) {
    super();
  }

  accept(path: string, body: string, contentType: string): boolean {
    if (path !== '/v1/traces' || !contentType.includes('json')) return false;
    const receivedAt = performance.now();
    const spans = decodeOtlpSpans(JSON.parse(body) as OtlpTraces).map((span) => ({ ...span, receivedAt }));
    this.spanCount += spans.length;
    if (this.options.keepSpans !== false) this.spans.push(...spans);
    return true;
  }

  protected count(): number {
    return this.spanCount;
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }
}

/** Receives OTLP/HTTP JSON log exports, as Loki's /otlp/v1/logs would. */
export class OtlpLogsReceiver extends Receiver {
  readonly records: ReceivedLogRecord[] = [];
  recordCount = 0;

  /** keepRecords: false only counts, for long runs such as the benchmark. */
  constructor(private readonly options: { keepRecords?: boolean } = {}) {
    super();
  }

  protected count(): number {
    return this.recordCount;
  }

  accept(path: string, body: string, contentType: string): boolean {
    if (!['/otlp/v1/logs', '/v1/logs'].includes(path) || !contentType.includes('json')) return false;
    const payload = JSON.parse(body) as {
      resourceLogs?: Array<{
        resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
        scopeLogs?: Array<{ logRecords?: Array<Record<string, unknown>> }>;
      }>;
    };
    const receivedAt = performance.now();
    for (const resourceLogs of payload.resourceLogs ?? []) {
      const resource = decodeAttributes(resourceLogs.resource?.attributes);
      for (const scope of resourceLogs.scopeLogs ?? []) {
        for (const record of scope.logRecords ?? []) {
          this.recordCount++;
          if (this.options.keepRecords === false) continue;
          this.records.push({
            serviceName: String(resource['service.name']),
            resource,
            severityText: String(record.severityText ?? ''),
            body: decodeValue((record.body ?? {}) as OtlpValue),
            attributes: decodeAttributes(record.attributes as Array<{ key: string; value: OtlpValue }>),
            traceId: String(record.traceId ?? ''),
            spanId: String(record.spanId ?? ''),
            receivedAt,
          });
        }
      }
    }
    return true;
  }

  /** The records of one trace. */
  trace(traceId: string): ReceivedLogRecord[] {
    return this.records.filter((record) => record.traceId === traceId);
  }
}

/** One OTLP/HTTP endpoint for traces and logs, as a collector or a hosted OTLP gateway is. */
export class OtlpEndpoint extends Receiver {
  readonly traces = new OtlpReceiver();
  readonly logs = new OtlpLogsReceiver();

  /**
   * acknowledgeOnly: answer every export without decoding it. A benchmark's receiver shares its event loop
   * with the API in front of the sandboxes, whose every hop is on an order's path; a real backend decodes
   * elsewhere.
   */
  constructor(private readonly options: { acknowledgeOnly?: boolean } = {}) {
    super();
  }

  accept(path: string, body: string, contentType: string): boolean {
    if (this.options.acknowledgeOnly) return true;
    return path === '/v1/traces'
      ? this.traces.accept(path, body, contentType)
      : this.logs.accept(path, body, contentType);
  }

  protected count(): number {
    return this.traces.spanCount + this.logs.recordCount;
  }
}
