import type { TracerProvider } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Drain } from './after-response';
import { type Flushable, flushTracesAndLogs } from './flush';

/** What a span exporter and a log record exporter have in common. */
interface Exporter<Item> {
  export(items: Item[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** One JSON line about telemetry itself, in the shape of the function's own log lines. */
export function telemetryLine(
  serviceName: string,
  level: 'info' | 'warn',
  msg: string,
  fields: Record<string, unknown> = {},
): string {
  return JSON.stringify({ level, time: new Date().toISOString(), service_name: serviceName, msg, ...fields });
}

/**
 * Wraps an OTLP exporter so that a backend that is down produces one warning, and one line when it is back,
 * instead of silence (the SDK's default) or a line per batch. `signal` names what is exported: "trace", "log".
 * It also counts what it has been handed and not yet seen answered (`pending`), and answers when nothing is
 * (`idle`): what an export after the response, or at shutdown, still waits for.
 */
export class WarnOnceExporter<Item> implements Exporter<Item> {
  private failing = false;
  /** Items handed to the inner exporter whose export has not called back yet. */
  pending = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly inner: Exporter<Item>,
    private readonly endpoint: string,
    private readonly options: {
      serviceName: string;
      signal?: 'trace' | 'log';
      write?: (line: string) => void;
    },
  ) {}

  private get signal(): 'trace' | 'log' {
    return this.options.signal ?? 'trace';
  }

  private write(line: string): void {
    if (this.options.write) this.options.write(line);
    else process.stderr.write(`${line}\n`);
  }

  /** Resolves once every export handed over so far has called back. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  export(items: Item[], resultCallback: (result: ExportResult) => void): void {
    this.pending += items.length;
    this.inner.export(items, (result) => {
      this.pending -= items.length;
      const ok = result.code === ExportResultCode.SUCCESS;
      if (ok === this.failing) {
        this.failing = !ok;
        const what = `${this.signal} export to ${this.endpoint}`;
        this.write(
          telemetryLine(
            this.options.serviceName,
            ok ? 'info' : 'warn',
            ok ? `${what} recovered` : `${what} is failing; ${this.signal}s are dropped until it recovers`,
          ),
        );
      }
      resultCallback(result);
      if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Where log records go, if anywhere: Loki's own OTLP endpoint when LOKI_URL names a Loki; deployed otherwise,
 * the OTLP endpoint that takes the traces (one endpoint and one credential for a hosted stack). Offline with no
 * Loki, nowhere: the JSON lines on stdout are the logs.
 */
export function logsEndpoint(
  settings: {
    OTEL_LOGS_EXPORTER?: string;
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT?: string | undefined;
    LOKI_URL?: string | undefined;
    IS_OFFLINE?: boolean;
  },
  otlpBase: string,
): string | undefined {
  if (settings.OTEL_LOGS_EXPORTER === 'none') return undefined;
  if (settings.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) return settings.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
  if (settings.LOKI_URL) return `${settings.LOKI_URL.replace(/\/$/, '')}/otlp/v1/logs`;
  return settings.IS_OFFLINE ? undefined : `${otlpBase}/v1/logs`;
}

/**
 * The Lambda instrumentation flushes the tracer provider it is given before the handler returns, and nothing
 * else. Given this one, it flushes the log records too, unless `exportedAfterResponse()` says an extension
 * exports them after the response instead (after-response.ts).
 */
export function flushingLogsToo(
  tracerProvider: TracerProvider,
  loggerProvider: Flushable,
  exportedAfterResponse: () => boolean = () => false,
): TracerProvider {
  // A plain object: given a getDelegate, the instrumentation would flush the delegate and skip this forceFlush.
  return {
    getTracer: tracerProvider.getTracer.bind(tracerProvider),
    forceFlush: () =>
      exportedAfterResponse()
        ? Promise.resolve()
        : flushTracesAndLogs(tracerProvider as Flushable, loggerProvider),
  } as TracerProvider;
}

/**
 * Exports what both providers hold and waits for every export under way, at most `budgetMs`; answers what the
 * exporters still had not delivered then. The processors hand their whole queue to the exporter when flushed,
 * so the exporters' count is all that is pending.
 */
export function drainExports(
  providers: { tracerProvider: Flushable; loggerProvider: Flushable },
  exporters: { spans: WarnOnceExporter<unknown>; logRecords?: WarnOnceExporter<unknown> | undefined },
): Drain {
  return async (budgetMs) => {
    const delivered = flushTracesAndLogs(providers.tracerProvider, providers.loggerProvider)
      .then(() => Promise.all([exporters.spans.idle(), exporters.logRecords?.idle()]))
      .catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([delivered, new Promise((resolve) => (timer = setTimeout(resolve, budgetMs)))]);
    clearTimeout(timer);
    return { spans: exporters.spans.pending, logRecords: exporters.logRecords?.pending ?? 0 };
  };
}
