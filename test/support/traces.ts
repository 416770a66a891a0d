import { MANIFESTS, ORDER_PATH_SERVICES } from '../../scripts/lib/manifests';
import { type ReceivedLogRecord, type ReceivedSpan, SPAN_KIND } from '../../scripts/lib/otlp-receivers';

/** The services of one order, in call order (derived from the function manifests). */
export const SERVICES = ORDER_PATH_SERVICES;
/** The services in a completed order's trace: the order path's, and the consumers of the orders table's stream. */
export const COMPLETED_ORDER_SERVICES = [
  ...ORDER_PATH_SERVICES,
  ...MANIFESTS.filter((fn) => fn.stream).map((fn) => fn.service),
];

const KIND_NAMES: Record<number, string> = {
  1: 'INTERNAL',
  2: 'SERVER',
  3: 'CLIENT',
  4: 'PRODUCER',
  5: 'CONSUMER',
};

/** The spans as a tree, one per line: service, name, kind, status; indented under their parent. */
export function describeSpans(spans: ReceivedSpan[]): string {
  if (spans.length === 0) return '  (no spans)';
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      const orphan = depth === 0 && span.parentSpanId ? ` (parent ${span.parentSpanId} missing)` : '';
      lines.push(
        `${'  '.repeat(depth + 1)}${span.serviceName} ${span.name} ${KIND_NAMES[span.kind] ?? span.kind}` +
          ` status=${span.statusCode}${orphan}`,
      );
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines.join('\n');
}

export function describeRecords(records: ReceivedLogRecord[]): string {
  if (records.length === 0) return '  (no log records)';
  return records
    .map(
      (record) =>
        `  ${record.serviceName} ${record.severityText} trace=${record.traceId || '-'} ${JSON.stringify(record.body)} ${JSON.stringify(record.attributes)}`,
    )
    .join('\n');
}

/**
 * Runs assertions about something the test saw (a trace's spans, a set of log lines); when one fails,
 * its message gains `describe()`'s rendering of what was seen, so the failure explains itself.
 */
export async function explaining<T>(describe: () => string, assertions: () => T | Promise<T>): Promise<T> {
  try {
    return await assertions();
  } catch (error) {
    if (error instanceof Error) {
      const original = error.message;
      error.message = `${original}\nseen:\n${describe()}`;
      if (error.stack) error.stack = error.stack.replace(original, error.message);
    }
    throw error;
  }
}

/**
 * The route of each service that an order calls twice: once to reserve, and again, once the order completed,
 * to commit. A test asking for such a service's SERVER span means the reservation unless it names a route.
 */
const RESERVING_ROUTE: Record<string, string> = {
  'inventory-service': '/inventory/reserve',
  'warehouse-service': '/warehouse/reserve',
};

/**
 * A completed order's invocations: every service once, and inventory and warehouse again to commit (called by
 * the stream's consumer, whose CONSUMER span continues the trace).
 */
export const COMPLETED_ORDER_INVOCATIONS = 8;

/** The SERVER span of `service` (of `route` when a service was invoked more than once in the trace). */
export function serverSpan(
  spans: ReceivedSpan[],
  service: string,
  route: string | undefined = RESERVING_ROUTE[service],
): ReceivedSpan {
  const matches = spans.filter(
    (span) =>
      span.serviceName === service &&
      span.kind === SPAN_KIND.SERVER &&
      (route === undefined || span.attributes['http.route'] === route),
  );
  if (matches.length !== 1) {
    throw new Error(
      `expected one SERVER span of ${service}${route ? ` ${route}` : ''}, found ${matches.length}`,
    );
  }
  return matches[0] as ReceivedSpan;
}

/** Every span's parent is in the trace (or it is the root), and each of the six services has a SERVER span. */
export function isWholeTrace(spans: ReceivedSpan[]): boolean {
  const ids = new Set(spans.map((span) => span.spanId));
  const invocations = spans.filter((span) => span.kind === SPAN_KIND.SERVER);
  const root = invocations.find((span) => span.parentSpanId === '');
  const completed = root?.attributes['http.response.status_code'] === 201;
  return (
    SERVICES.every((service) => invocations.some((span) => span.serviceName === service)) &&
    (!completed || invocations.length >= COMPLETED_ORDER_INVOCATIONS) &&
    spans.every((span) => span.parentSpanId === '' || ids.has(span.parentSpanId))
  );
}
