import type { TracerProvider } from '@opentelemetry/api';
import type { Drain } from './after-response';
import type { WarnOnceExporter } from './warn-once-exporter';

/** A tracer or logger provider as the OpenTelemetry API hands it out: perhaps a proxy for the real one. */
export interface Flushable {
  forceFlush?(): Promise<void>;
  getDelegate?(): Flushable;
}

/**
 * Exports what both providers hold, reaching through the API's proxies. Depends on nothing at run time, so the tracing
 * preload (which must not load the functions' configuration) and the functions' own code share it.
 */
export async function flushTracesAndLogs(
  tracerProvider: Flushable,
  loggerProvider: Flushable,
): Promise<void> {
  const flush = (provider: Flushable) => (provider.getDelegate?.() ?? provider).forceFlush?.();
  await Promise.all([flush(tracerProvider), flush(loggerProvider)]);
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
