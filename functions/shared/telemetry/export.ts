import type { TracerProvider } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { type Flushable, flushTracesAndLogs } from './flush';

/** What a span exporter and a log record exporter have in common. */
interface Exporter<Item> {
  export(items: Item[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/**
 * Wraps an OTLP exporter so that a backend that is down produces one warning, and one line when it is back,
 * instead of silence (the SDK's default) or a line per batch. `signal` names what is exported: "trace", "log".
 */
export class WarnOnceExporter<Item> implements Exporter<Item> {
  private failing = false;

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

  export(items: Item[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(items, (result) => {
      const ok = result.code === ExportResultCode.SUCCESS;
      if (ok === this.failing) {
        this.failing = !ok;
        const what = `${this.signal} export to ${this.endpoint}`;
        this.write(
          JSON.stringify({
            level: ok ? 'info' : 'warn',
            time: new Date().toISOString(),
            service_name: this.options.serviceName,
            msg: ok
              ? `${what} recovered`
              : `${what} is failing; ${this.signal}s are dropped until it recovers`,
          }),
        );
      }
      resultCallback(result);
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
 * else. Given this one, it flushes the log records too.
 */
export function flushingLogsToo(tracerProvider: TracerProvider, loggerProvider: Flushable): TracerProvider {
  // A plain object: given a getDelegate, the instrumentation would flush the delegate and skip this forceFlush.
  return {
    getTracer: tracerProvider.getTracer.bind(tracerProvider),
    forceFlush: () => flushTracesAndLogs(tracerProvider as Flushable, loggerProvider),
  } as TracerProvider;
}
