import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Attributes,
  context,
  type Link,
  logs,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { commonSettings } from '../config/settings';
import { currentInvocation } from '../runtime/invocation';
import { type Flushable, flushTracesAndLogs } from './flush';

/**
 * Helpers over the OpenTelemetry API. With the SDK off they fall back to no-op spans, so business code
 * never checks whether tracing is on.
 */
const tracer = trace.getTracer(commonSettings().OTEL_SERVICE_NAME);

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

export function activeTraceId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** The active span's id, to be linked to later (see the reaper); undefined with tracing off. */
export function activeSpanId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.spanId : undefined;
}

/**
 * The id that ties a response and its log lines to a trace: the active span's, else the caller's
 * `traceparent` (never at the public edge, which starts its own), else a fresh one (tracing disabled and no
 * caller context).
 */
export function resolveTraceId(headers: Record<string, string | undefined>): string {
  const fromSpan = activeTraceId();
  if (fromSpan) return fromSpan;
  if (commonSettings().INBOUND_TRACE_CONTEXT === 'link') return randomBytes(16).toString('hex');
  const match = TRACEPARENT.exec(headers.traceparent ?? '');
  if (match?.[1] && match[1] !== '0'.repeat(32)) return match[1];
  return randomBytes(16).toString('hex');
}

/** A `traceparent` to send downstream when no span is active, so logs still correlate with tracing off. */
export function fallbackTraceparent(): string | undefined {
  if (activeTraceId()) return undefined;
  const invocation = currentInvocation();
  return invocation ? `00-${invocation.traceId}-${randomBytes(8).toString('hex')}-00` : undefined;
}

/** Business facts on the function's SERVER span (the span that is active when the handler runs). */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Runs `fn` inside an INTERNAL span; an exception marks the span as an error and is rethrown. */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  links: Link[] = [],
): Promise<T> {
  return inSpan(name, SpanKind.INTERNAL, attributes, fn, links);
}

/**
 * Runs `fn` inside a PRODUCER span, giving it that span's `traceparent` to store with what it writes: whoever
 * consumes the write later (a stream's consumer) continues the trace from it. Undefined with tracing off.
 */
export function withProducerSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (traceparent: string | undefined) => Promise<T>,
): Promise<T> {
  return inSpan(name, SpanKind.PRODUCER, attributes, () => {
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    return fn(carrier.traceparent);
  });
}

async function inSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  links: Link[] = [],
): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes, links }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : 'error',
      });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Exports what the tracer and logger providers hold, waiting at most `timeoutMs`; never throws. */
export async function flushTelemetry(timeoutMs: number): Promise<void> {
  const flushing = flushTracesAndLogs(
    trace.getTracerProvider() as Flushable,
    logs.getLoggerProvider() as Flushable,
  ).catch(() => {});
  await Promise.race([flushing, sleep(timeoutMs)]);
}
