import { decodeOtlpSpans, type OtlpTraces, type ReceivedSpan } from '../../scripts/lib/otlp-receivers';
import type { RealStack } from './observability-backends';

/**
 * The query APIs Grafana's datasources call, as the acceptance tier calls them: PromQL on Prometheus, LogQL on
 * Loki, TraceQL and trace-by-id on Tempo. Each answers the parsed result and throws on an HTTP error with the
 * server's own message, so a query Grafana would reject fails the test with that message.
 */

export interface TimeWindow {
  /** Epoch seconds. */
  start: number;
  end: number;
}

export interface PromSeries {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
  value?: [number, string];
}

export interface PromExemplars {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

export interface LokiStream {
  stream: Record<string, string>;
  values: Array<[string, string]>;
}

export interface TraceSearchResult {
  traceID: string;
  rootServiceName?: string;
  durationMs?: number;
}

async function getJson<T>(base: string, path: string, params: Record<string, string | number>): Promise<T> {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`${url.pathname} ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export function queryApis(stack: RealStack) {
  return {
    /** A range query, as a Grafana time-series panel runs it. */
    async promRange(expr: string, window: TimeWindow, step = 15): Promise<PromSeries[]> {
      const body = await getJson<{ data: { result: PromSeries[] } }>(
        stack.prometheusUrl,
        '/api/v1/query_range',
        {
          query: expr,
          start: window.start,
          end: window.end,
          step,
        },
      );
      return body.data.result;
    },

    /** The alerts Prometheus holds now (pending or firing), as its alerts API lists them. */
    async alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>> {
      const body = await getJson<{
        data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
      }>(stack.prometheusUrl, '/api/v1/alerts', {});
      return body.data.alerts;
    },

    /** The rule groups Prometheus loaded, with each rule's health. */
    async ruleGroups(): Promise<Array<{ name: string; rules: Array<{ name: string; health: string }> }>> {
      const body = await getJson<{
        data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> };
      }>(stack.prometheusUrl, '/api/v1/rules', {});
      return body.data.groups;
    },

    async promExemplars(expr: string, window: TimeWindow): Promise<PromExemplars[]> {
      const body = await getJson<{ data: PromExemplars[] }>(stack.prometheusUrl, '/api/v1/query_exemplars', {
        query: expr,
        start: window.start,
        end: window.end,
      });
      return body.data;
    },

    async lokiRange(query: string, window: TimeWindow, limit = 1_000): Promise<LokiStream[]> {
      const body = await getJson<{ data: { result: LokiStream[] } }>(
        stack.lokiUrl,
        '/loki/api/v1/query_range',
        {
          query,
          start: `${window.start}000000000`,
          end: `${window.end}000000000`,
          limit,
        },
      );
      return body.data.result;
    },

    /** The names of Loki's indexed labels (stream labels, not structured metadata). */
    async lokiLabels(window: TimeWindow): Promise<string[]> {
      const body = await getJson<{ data?: string[] }>(stack.lokiUrl, '/loki/api/v1/labels', {
        start: `${window.start}000000000`,
        end: `${window.end}000000000`,
      });
      return body.data ?? [];
    },

    async traceqlSearch(query: string, window: TimeWindow): Promise<TraceSearchResult[]> {
      const body = await getJson<{ traces?: TraceSearchResult[] }>(stack.tempoUrl, '/api/search', {
        q: query,
        start: window.start,
        end: window.end,
        limit: 100,
      });
      return body.traces ?? [];
    },

    /** A trace by id, decoded to the same spans the integration tier's receiver records; none if not found. */
    async trace(traceId: string): Promise<ReceivedSpan[]> {
      const response = await fetch(new URL(`/api/v2/traces/${traceId}`, stack.tempoUrl));
      if (response.status === 404) return [];
      if (!response.ok) throw new Error(`trace ${traceId}: ${response.status} ${await response.text()}`);
      const body = (await response.json()) as { trace?: OtlpTraces };
      return decodeOtlpSpans(body.trace ?? {}, 'base64');
    },
  };
}

export interface GrafanaVariables {
  /** Seconds of the dashboard's time range. */
  rangeSeconds: number;
  /** Grafana's $__rate_interval: at least four scrape intervals. */
  rateInterval: string;
  traceId?: string;
  /** Span attributes, for ${__span.tags["..."]}. */
  spanTags?: Record<string, string>;
  /** The tracesToMetrics tag mapping, already rendered: service="order-service". */
  tags?: string;
}

/**
 * A query as Grafana sends it: provisioning's "$$" (a literal "$") unescaped, then its variables substituted.
 * An unknown variable is left in place, so the server rejects the query and the test says which one.
 */
export function grafanaQuery(template: string, variables: GrafanaVariables): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal.
  const traceIdVariable = '${__trace.traceId}';
  return template
    .replaceAll('$$', '$')
    .replaceAll('$__rate_interval', variables.rateInterval)
    .replaceAll('$__range', `${variables.rangeSeconds}s`)
    .replaceAll(traceIdVariable, variables.traceId ?? traceIdVariable)
    .replace(/\$\{__span\.tags\["([^"]+)"\]\}/g, (whole, key: string) => variables.spanTags?.[key] ?? whole)
    .replaceAll('$__tags', variables.tags ?? '$__tags');
}
