import { type Context, propagation } from '@opentelemetry/api';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * Puts each baggage entry of a span's context on the span as `baggage.<key>`, so what a trusted front end
 * sends (a session id, a cohort) can be searched in every function's spans. Baggage reaches a function only
 * from a caller it continues: at the public edge it is dropped with the caller's trace context
 * (edge-context.ts), so nothing from outside lands here unless `PUBLIC_TRACE_CONTEXT=continue` trusts it.
 * The prefix keeps a baggage key from overwriting an attribute the instrumentations set.
 */
export class BaggageAttributes implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    for (const [key, entry] of propagation.getBaggage(parentContext)?.getAllEntries() ?? []) {
      span.setAttribute(`baggage.${key}`, entry.value);
    }
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
