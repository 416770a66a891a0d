/** A tracer or logger provider as the OpenTelemetry API hands it out: perhaps a proxy for the real one. */
export interface Flushable {
  forceFlush?(): Promise<void>;
  getDelegate?(): Flushable;
}

/**
 * Exports what both providers hold, reaching through the API's proxies. Depends on nothing, so the tracing
 * preload (which must not load the functions' configuration) and the functions' own code share it.
 */
export async function flushTracesAndLogs(
  tracerProvider: Flushable,
  loggerProvider: Flushable,
): Promise<void> {
  const flush = (provider: Flushable) => (provider.getDelegate?.() ?? provider).forceFlush?.();
  await Promise.all([flush(tracerProvider), flush(loggerProvider)]);
}
