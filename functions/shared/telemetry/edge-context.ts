import {
  type Context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { type IdGenerator, RandomIdGenerator } from '@opentelemetry/sdk-trace';
import { recordHttpOutcome, serverSpanAttributes } from './instrumentation-config';

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

/**
 * The tracer provider's ids: random, except that a trace started at the public edge takes its invocation's
 * Lambda request id as trace id. That id is AWS's, random and not the caller's to choose (a caller can set API
 * Gateway's `requestId`, not Lambda's), and API Gateway's access log records it as
 * `$context.integration.requestId`: an access log line leads to its trace by taking the dashes out.
 */
export class EdgeTraceIds implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  #next: string | undefined;

  /** The trace the next root span starts takes this Lambda request id (when it is a valid trace id). */
  startNextTraceAt(lambdaRequestId: string | undefined): void {
    this.#next = traceIdOfRequestId(lambdaRequestId);
  }

  generateTraceId(): string {
    const id = this.#next ?? this.#random.generateTraceId();
    this.#next = undefined;
    return id;
  }

  generateSpanId(): string {
    return this.#random.generateSpanId();
  }
}

/** A request id in UUID form as a W3C trace id (32 lowercase hex digits, not all zero), or undefined. */
export function traceIdOfRequestId(requestId: string | undefined): string | undefined {
  const hex = requestId?.replace(/-/g, '').toLowerCase();
  return hex && /^[0-9a-f]{32}$/.test(hex) && /[1-9a-f]/.test(hex) ? hex : undefined;
}

/**
 * The Lambda instrumentation's eventContextExtractor at the edge: always a new trace, whose id is the
 * invocation's request id.
 *
 * It relies on an ordering: the id is handed to the id generator here, and taken by the next trace it starts.
 * The instrumentation (0.76.0, pinned exactly) starts the SERVER span right after asking for the context, in
 * the same synchronous call, so no other trace can start between. An instrumentation that awaited between the
 * two would give the id to the wrong trace; test/unit/spans.test.ts, "takes the invocation's Lambda request id
 * as the new trace's id, for that trace only", fails then.
 */
export function newTraceAtTheEdge(traceIds: EdgeTraceIds) {
  return (_event: unknown, context: { awsRequestId?: string } | undefined): Context => {
    traceIds.startNextTraceAt(context?.awsRequestId);
    return ROOT_CONTEXT;
  };
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
 * the edge (`link`), a new trace linked to the caller's, its id from `traceIds` (the tracer provider's).
 */
export function serverSpanConfig(inbound: 'continue' | 'link', traceIds: EdgeTraceIds) {
  const atTheEdge = inbound === 'link';
  return {
    ...(atTheEdge ? { eventContextExtractor: newTraceAtTheEdge(traceIds) } : {}),
    requestHook: (span: Span, { event }: { event: InvocationEvent }) => {
      span.setAttributes(serverSpanAttributes(event));
      if (atTheEdge) span.addLinks(callerLinks(event));
    },
    responseHook: (span: Span, info: Parameters<typeof recordHttpOutcome>[1]) =>
      recordHttpOutcome(span, info),
  };
}
