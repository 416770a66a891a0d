import {
  type Context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { recordHttpOutcome, serverSpanAttributes } from './span-hooks';

/**
 * The trace context at the public edge. A request from outside does not choose its trace: it starts a new
 * one here (the server decides whether it is sampled), its caller's context becomes a span link when it is
 * valid, and its baggage is dropped with it. Following the W3C Trace Context security considerations and the
 * OpenTelemetry specification ("a new trace rather than trusting the incoming trace context").
 */

type Headers = Record<string, string | undefined> | null | undefined;

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get: (carrier, key) => {
    const found = Object.entries(carrier ?? {}).find(([name]) => name.toLowerCase() === key);
    return found?.[1];
  },
};

/** The caller's trace context, as its headers carry it (W3C traceparent). */
function callerContext(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** The Lambda instrumentation's eventContextExtractor at the edge: always a new trace. */
export function newTraceAtTheEdge(): Context {
  return ROOT_CONTEXT;
}

/** The span link to the caller's trace, when its headers carry a valid one. */
export function callerLinks(event: { headers?: Headers } | undefined): Link[] {
  const caller = trace.getSpanContext(callerContext(event?.headers));
  if (!caller || !trace.isSpanContextValid(caller)) return [];
  return [{ context: caller, attributes: { 'link.reason': 'inbound_trace_context' } }];
}

type InvocationEvent = Parameters<typeof serverSpanAttributes>[0] & { headers?: Headers };

/**
 * The Lambda instrumentation's settings for a function's SERVER spans: their attributes and status, and, at
 * the edge (`link`), a new trace linked to the caller's.
 */
export function serverSpanConfig(inbound: 'continue' | 'link') {
  const atTheEdge = inbound === 'link';
  return {
    ...(atTheEdge ? { eventContextExtractor: newTraceAtTheEdge } : {}),
    requestHook: (span: Span, { event }: { event: InvocationEvent }) => {
      span.setAttributes(serverSpanAttributes(event));
      if (atTheEdge) span.addLinks(callerLinks(event));
    },
    responseHook: (span: Span, info: Parameters<typeof recordHttpOutcome>[1]) =>
      recordHttpOutcome(span, info),
  };
}
