import { type ExportResult, ExportResultCode } from '@opentelemetry/core';

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
