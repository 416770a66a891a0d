import { styleText } from 'node:util';
import type { ReceivedSpan } from './otlp';

/**
 * A trace as a terminal waterfall, the way Grafana's trace view draws it: one row per span, indented under
 * its parent, with its service, start offset from the trace's first span, duration, a bar on a shared time
 * axis, and its status.
 */
export interface WaterfallOptions {
  /** Characters of the time axis. */
  barWidth?: number;
  colour?: boolean;
}

const STATUS_NAMES: Record<number, string> = { 0: '', 1: 'ok', 2: 'ERROR' };
const nanosToMillis = (nanos: bigint) => Number(nanos / 1_000n) / 1_000;

export function renderWaterfall(
  spans: ReceivedSpan[],
  { barWidth = 40, colour = false }: WaterfallOptions = {},
) {
  const [first] = spans;
  if (!first) return '(no spans)';
  const paint = (style: Parameters<typeof styleText>[0], text: string) =>
    colour ? styleText(style, text, { validateStream: false }) : text;
  let start = first.startTimeUnixNano;
  let end = first.endTimeUnixNano;
  for (const span of spans) {
    if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
  }
  const total = Math.max(nanosToMillis(end - start), 0.001);

  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: Array<{ span: ReceivedSpan; depth: number }> = [];
  const walk = (parent: string, depth: number) => {
    const ordered = [...(children.get(parent) ?? [])].sort((a, b) =>
      a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0,
    );
    for (const span of ordered) {
      rows.push({ span, depth });
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);

  const serviceWidth = Math.max(7, ...rows.map(({ span }) => span.serviceName.length));
  const nameWidth = Math.max(4, ...rows.map(({ span, depth }) => depth * 2 + span.name.length));
  const services = new Set(spans.map((span) => span.serviceName)).size;
  const lines = [
    `trace ${first.traceId}: ${spans.length} spans, ${services} services, ${total.toFixed(1)} ms`,
    `${'service'.padEnd(serviceWidth)}  ${'span'.padEnd(nameWidth)}  ${'start'.padStart(9)}  ${'duration'.padStart(9)}  ${''.padEnd(barWidth + 2)}  status`,
  ];
  for (const { span, depth } of rows) {
    const offset = nanosToMillis(span.startTimeUnixNano - start);
    const duration = nanosToMillis(span.endTimeUnixNano - span.startTimeUnixNano);
    const from = Math.min(barWidth - 1, Math.floor((offset / total) * barWidth));
    const length = Math.max(1, Math.min(barWidth - from, Math.round((duration / total) * barWidth)));
    const bar = `${' '.repeat(from)}${'█'.repeat(length)}${' '.repeat(barWidth - from - length)}`;
    const status = STATUS_NAMES[span.statusCode] ?? String(span.statusCode);
    lines.push(
      [
        span.serviceName.padEnd(serviceWidth),
        `${'  '.repeat(depth)}${span.name}`.padEnd(nameWidth),
        `${offset.toFixed(1)} ms`.padStart(9),
        `${duration.toFixed(1)} ms`.padStart(9),
        `|${span.statusCode === 2 ? paint('red', bar) : paint('cyan', bar)}|`,
        span.statusCode === 2 ? paint('red', status) : status,
      ]
        .join('  ')
        .trimEnd(),
    );
  }
  return lines.join('\n');
}
