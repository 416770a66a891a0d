/**
 * OTLP/JSON as the exporter sends it and as Tempo's trace API answers it, decoded to plain spans. Shared by
 * `npm run order`'s waterfall and the tests' receivers and query clients.
 */
/** A decoded OTLP span: what Tempo would store. */
export interface ReceivedSpan {
  serviceName: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  statusCode: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  /** Epoch nanoseconds, as OTLP carries them (a bigint: milliseconds would lose the microseconds). */
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  statusMessage: string;
  /** Span links: other traces' spans this one refers to (the reaper links to the order it rescued). */
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, unknown> }>;
  /** performance.now() when a local receiver took it in (otlp-receivers.ts); unset for spans read from Tempo. */
  receivedAt?: number;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

export type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: Array<{ key: string; value: OtlpValue }> };
};

export function decodeValue(value: OtlpValue): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('boolValue' in value) return value.boolValue;
  if ('doubleValue' in value) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.kvlistValue) return decodeAttributes(value.kvlistValue.values);
  return undefined;
}

export function decodeAttributes(
  attributes: Array<{ key: string; value: OtlpValue }> = [],
): Record<string, unknown> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key, decodeValue(value)]));
}

/** An OTLP/JSON traces payload: what the exporter sends, and what Tempo's trace API answers. */
export interface OtlpTraces {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
    scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>;
  }>;
}

const KIND_BY_NAME: Record<string, number> = {
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_BY_NAME: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

/**
 * Spans of an OTLP/JSON payload. The exporter writes ids in hex and enums as numbers; Tempo's API answers with
 * ids in base64 and enums by name: both decode to the same ReceivedSpan.
 */
export function decodeOtlpSpans(payload: OtlpTraces, idEncoding: 'hex' | 'base64' = 'hex'): ReceivedSpan[] {
  const id = (value: unknown) =>
    idEncoding === 'hex' ? String(value ?? '') : Buffer.from(String(value ?? ''), 'base64').toString('hex');
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of payload.resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        const status = (span.status as { code?: number | string; message?: string } | undefined) ?? {};
        const code = status.code ?? 0;
        spans.push({
          serviceName: String(resource['service.name']),
          traceId: id(span.traceId),
          spanId: id(span.spanId),
          parentSpanId: id(span.parentSpanId),
          name: String(span.name),
          kind: typeof span.kind === 'string' ? (KIND_BY_NAME[span.kind] ?? 0) : Number(span.kind),
          statusCode: typeof code === 'string' ? (STATUS_BY_NAME[code] ?? 0) : code,
          statusMessage: status.message ?? '',
          startTimeUnixNano: BigInt(String(span.startTimeUnixNano ?? 0)),
          endTimeUnixNano: BigInt(String(span.endTimeUnixNano ?? 0)),
          attributes: decodeAttributes(span.attributes as Array<{ key: string; value: OtlpValue }>),
          resource,
          links: ((span.links ?? []) as Array<Record<string, unknown>>).map((link) => ({
            traceId: id(link.traceId),
            spanId: id(link.spanId),
            attributes: decodeAttributes(link.attributes as Array<{ key: string; value: OtlpValue }>),
          })),
        });
      }
    }
  }
  return spans;
}
