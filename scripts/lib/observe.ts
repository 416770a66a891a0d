import { setTimeout as pause } from 'node:timers/promises';
import { decodeOtlpSpans, type OtlpTraces, type ReceivedSpan } from './otlp';

/**
 * Reads one order's trace from Tempo and its log lines from Loki, as Grafana's trace view and its
 * "Logs for this span" link would. Both answer undefined when the server does not answer at all.
 */

/** Spans reach Tempo in batches, one per function; a trace is read once its tree is whole and has stopped growing. */
export async function fetchTrace(
  tempoUrl: string,
  traceId: string,
  { timeoutMs = 15_000, intervalMs = 500 } = {},
): Promise<ReceivedSpan[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  let previous = -1;
  let spans: ReceivedSpan[] = [];
  for (;;) {
    let response: Response;
    try {
      response = await fetch(`${tempoUrl}/api/v2/traces/${traceId}`, { signal: AbortSignal.timeout(2_000) });
    } catch {
      return undefined;
    }
    if (response.ok) {
      const body = (await response.json()) as { trace?: OtlpTraces };
      spans = decodeOtlpSpans(body.trace ?? {}, 'base64');
    } else if (response.status !== 404) {
      throw new Error(`Tempo answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    }
    const ids = new Set(spans.map((span) => span.spanId));
    const whole =
      spans.length > 0 && spans.every((span) => span.parentSpanId === '' || ids.has(span.parentSpanId));
    if ((whole && spans.length === previous) || Date.now() > deadline) return spans;
    previous = whole ? spans.length : -1;
    await pause(intervalMs);
  }
}

export interface LogLine {
  time: Date;
  service: string;
  level: string;
  message: string;
}

/** The trace's log lines from every service, oldest first (Loki's structured metadata carries trace_id). */
export async function fetchTraceLogs(
  lokiUrl: string,
  traceId: string,
  sinceMs = 15 * 60_000,
): Promise<LogLine[] | undefined> {
  const url = new URL('/loki/api/v1/query_range', lokiUrl);
  url.searchParams.set('query', `{service_name=~".+"} | trace_id="${traceId}"`);
  url.searchParams.set('start', `${(Date.now() - sinceMs) * 1_000_000}`);
  url.searchParams.set('direction', 'forward');
  url.searchParams.set('limit', '500');
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
  if (!response.ok)
    throw new Error(`Loki answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  const body = (await response.json()) as {
    data: { result: Array<{ stream: Record<string, string>; values: Array<[string, string]> }> };
  };
  return body.data.result
    .flatMap(({ stream, values }) =>
      values.map(([nanos, line]) => ({
        time: new Date(Number(BigInt(nanos) / 1_000_000n)),
        service: stream.service_name ?? '?',
        level: stream.detected_level ?? stream.severity_text ?? '',
        message: line,
      })),
    )
    .sort((a, b) => a.time.getTime() - b.time.getTime());
}
