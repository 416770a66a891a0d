import { type Span, SpanStatusCode } from '@opentelemetry/api';

/* The instrumentations' hooks: what this project adds to the spans they make. */

/** What the Lambda instrumentation's request hook sets on each SERVER span, from the invocation's event. */
export function serverSpanAttributes(
  event: { source?: string; httpMethod?: string; resource?: string; path?: string } | undefined,
): Record<string, string> {
  return {
    // EventBridge schedules (the reaper) are timers; everything else arrives through API Gateway.
    'faas.trigger': event?.source === 'aws.events' ? 'timer' : 'http',
    ...(event?.httpMethod ? { 'http.request.method': event.httpMethod } : {}),
    ...(event?.resource ? { 'http.route': event.resource } : {}),
    ...(event?.path ? { 'url.path': event.path } : {}),
  };
}

/** Span status follows the HTTP conventions for SERVER spans: only a 5xx is an error. */
export function recordHttpOutcome(
  span: Span,
  { err, res }: { err?: unknown; res?: { statusCode?: number } },
): void {
  const status = res?.statusCode;
  if (typeof status === 'number') {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
  } else if (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/** The instrumentation names the tables of most operations, but not those inside a transaction. */
export function tablesOfTransaction(commandInput: Record<string, unknown> | undefined): string[] {
  const items = commandInput?.TransactItems;
  if (!Array.isArray(items)) return [];
  const tables = items.flatMap((item: Record<string, { TableName?: string } | undefined>) =>
    Object.values(item).map((operation) => operation?.TableName),
  );
  return [...new Set(tables.filter((name): name is string => typeof name === 'string'))].sort();
}

/**
 * Tempo's service graph draws an uninstrumented database from a peer attribute, so DynamoDB client spans
 * name it; transactions also name the tables they touch.
 */
export function annotateDynamoDbSpan(
  span: Span,
  request: { serviceName: string; commandInput?: Record<string, unknown> },
): void {
  if (request.serviceName !== 'DynamoDB') return;
  span.setAttributes({ 'peer.service': 'dynamodb', 'db.system': 'dynamodb' });
  const transactionTables = tablesOfTransaction(request.commandInput);
  if (transactionTables.length > 0) span.setAttribute('aws.dynamodb.table_names', transactionTables);
}

/**
 * The AWS SDK's own HTTP requests (it marks each with an invocation id). Their DynamoDB span covers them;
 * with tracing merely suppressed, the HTTP instrumentation would still build a span's attributes, a
 * non-recording span, a context and bound listeners for each of them.
 */
export function isAwsSdkRequest(request: { headers?: unknown }): boolean {
  const headers = request.headers as Record<string, unknown> | undefined;
  return headers?.['amz-sdk-invocation-id'] !== undefined;
}

/** The HTTP instrumentation's settings: calls between functions only. */
export const HTTP_INSTRUMENTATION_CONFIG = {
  // Inbound HTTP is the Lambda instrumentation's job.
  disableIncomingRequestInstrumentation: true,
  ignoreOutgoingRequestHook: isAwsSdkRequest,
};

/** The AWS SDK instrumentation's settings: one DynamoDB span per operation, annotated for the service graph. */
export const AWS_INSTRUMENTATION_CONFIG = {
  // No second span for the HTTP request underneath.
  suppressInternalInstrumentation: true,
  preRequestHook: (span: Span, { request }: { request: Parameters<typeof annotateDynamoDbSpan>[1] }) =>
    annotateDynamoDbSpan(span, request),
};
