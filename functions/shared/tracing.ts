/**
 * Preloaded (`--require`) into every Lambda instance before its handler loads, so that the Lambda
 * instrumentation can wrap the handler's export. It does nothing outside a Lambda runtime (no `_HANDLER`,
 * e.g. the serverless CLI's own process) and nothing when OTEL_SDK_DISABLED=true.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { logs, type Span, SpanStatusCode, type TracerProvider, trace } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AwsLambdaInstrumentation } from '@opentelemetry/instrumentation-aws-lambda';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { type Flushable, flushTracesAndLogs } from './flush';

/** Taken when the instance starts, so `faas.coldstart` is right however long serverless-offline has run. */
const instanceStartTime = Date.now();

/** What a span exporter and a log record exporter have in common. */
interface Exporter<Item> {
  export(items: Item[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/**
 * Wraps an OTLP exporter so that a backend that is down produces one warning, and one line when it is back,
 * instead of silence (the SDK's default) or a line per batch. `signal` names what is exported: "trace", "log".
 */
export class WarnOnceExporter<Item> implements Exporter<Item> {
  private failing = false;

  constructor(
    private readonly inner: Exporter<Item>,
    private readonly endpoint: string,
    private readonly signal: 'trace' | 'log' = 'trace',
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  export(items: Item[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(items, (result) => {
      const ok = result.code === ExportResultCode.SUCCESS;
      if (ok === this.failing) {
        this.failing = !ok;
        const what = `${this.signal} export to ${this.endpoint}`;
        this.write(
          JSON.stringify({
            level: ok ? 'info' : 'warn',
            time: new Date().toISOString(),
            service_name: process.env.OTEL_SERVICE_NAME,
            msg: ok
              ? `${what} recovered`
              : `${what} is failing; ${this.signal}s are dropped until it recovers`,
          }),
        );
      }
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Where log records go, if anywhere: Loki's own OTLP endpoint when LOKI_URL names a Loki; deployed otherwise,
 * the OTLP endpoint that takes the traces (one endpoint and one credential for a hosted stack). Offline with no
 * Loki, nowhere: the JSON lines on stdout are the logs.
 */
export function logsEndpoint(env: NodeJS.ProcessEnv, otlpBase: string): string | undefined {
  if (env.OTEL_LOGS_EXPORTER === 'none') return undefined;
  if (env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) return env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
  if (env.LOKI_URL) return `${env.LOKI_URL.replace(/\/$/, '')}/otlp/v1/logs`;
  return env.IS_OFFLINE === 'true' ? undefined : `${otlpBase}/v1/logs`;
}

/**
 * The Lambda instrumentation flushes the tracer provider it is given before the handler returns, and nothing
 * else. Given this one, it flushes the log records too.
 */
export function flushingLogsToo(tracerProvider: TracerProvider, loggerProvider: Flushable): TracerProvider {
  // A plain object: given a getDelegate, the instrumentation would flush the delegate and skip this forceFlush.
  return {
    getTracer: tracerProvider.getTracer.bind(tracerProvider),
    forceFlush: () => flushTracesAndLogs(tracerProvider as Flushable, loggerProvider),
  } as TracerProvider;
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
 * serverless-offline sets LAMBDA_TASK_ROOT to /var/task, which does not exist locally; the Lambda
 * instrumentation resolves the handler file from it and would silently wrap nothing.
 */
function fixTaskRootOffline(): void {
  const handler = process.env._HANDLER ?? '';
  const moduleFile = `${handler.slice(0, handler.lastIndexOf('.'))}.js`;
  const taskRoot = process.env.LAMBDA_TASK_ROOT ?? '';
  if (taskRoot && existsSync(path.resolve(taskRoot, moduleFile))) return;
  process.env.LAMBDA_TASK_ROOT = path.resolve(__dirname, '..', '..', '..');
}

/**
 * When deployed, the OTLP headers (e.g. the basic-auth header of a hosted Grafana stack) live in an SSM
 * SecureString, never in the template. They are read once, at the first export, and cached; a missing
 * parameter means no extra headers, so an endpoint without auth still works.
 */
export function headersFromSsm(name: string): () => Promise<Record<string, string>> {
  let headers: Promise<Record<string, string>> | undefined;
  return () => {
    headers ??= (async () => {
      const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
      try {
        const result = await new SSMClient({}).send(
          new GetParameterCommand({ Name: name, WithDecryption: true }),
        );
        return parseHeaderList(result.Parameter?.Value ?? '');
      } catch (error) {
        if ((error as Error).name === 'ParameterNotFound') return {};
        headers = undefined; // try again at the next export
        throw error;
      }
    })();
    return headers;
  };
}

/** The OTEL_EXPORTER_OTLP_HEADERS format: "key1=value1,key2=value2", values URL-encoded. */
export function parseHeaderList(list: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of list.split(',')) {
    const separator = pair.indexOf('=');
    if (separator <= 0) continue;
    headers[pair.slice(0, separator).trim()] = decodeURIComponent(pair.slice(separator + 1).trim());
  }
  return headers;
}

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function startTracing(): void {
  const offline = process.env.IS_OFFLINE === 'true';
  if (offline) fixTaskRootOffline();
  // Traces and logs: the SDK would otherwise also start an OTLP metric exporter.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';

  const baseEndpoint = (process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(
    /\/$/,
    '',
  );
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${baseEndpoint}/v1/traces`;
  const headersParameter = process.env.OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER;
  const headers = headersParameter && !offline ? { headers: headersFromSsm(headersParameter) } : {};
  const exporter = new WarnOnceExporter(new OTLPTraceExporter(headers), endpoint);
  const logsUrl = logsEndpoint(process.env, baseEndpoint);

  const lambdaInstrumentation = new AwsLambdaInstrumentation({
    lambdaStartTime: instanceStartTime,
    requestHook: (span, { event }) => {
      span.setAttributes({
        // EventBridge schedules (the reaper) are timers; everything else arrives through API Gateway.
        'faas.trigger': event?.source === 'aws.events' ? 'timer' : 'http',
        ...(event?.httpMethod ? { 'http.request.method': event.httpMethod } : {}),
        ...(event?.resource ? { 'http.route': event.resource } : {}),
        ...(event?.path ? { 'url.path': event.path } : {}),
      });
    },
    responseHook: (span, info) => recordHttpOutcome(span, info),
  });

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.namespace': 'orders',
      'deployment.environment.name': process.env.STAGE ?? 'local',
    }),
    // Only the environment detector: it honours OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    resourceDetectors: [envDetector],
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        // The processor no longer reads OTEL_BSP_*; honour the two that matter here.
        scheduledDelayMillis: numberFromEnv('OTEL_BSP_SCHEDULE_DELAY', 1_000),
        // Bounds memory when the backend is down: spans beyond this are dropped, not queued.
        maxQueueSize: numberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE', 2_048),
      }),
    ],
    // pino's lines become OTLP log records (after redaction: the sender reads the serialised line), batched
    // like spans. Loki takes service.name as the service_name label and trace_id/span_id as structured metadata.
    logRecordProcessors: logsUrl
      ? [
          new BatchLogRecordProcessor({
            exporter: new WarnOnceExporter(new OTLPLogExporter({ url: logsUrl, ...headers }), logsUrl, 'log'),
            scheduledDelayMillis: numberFromEnv('OTEL_BLRP_SCHEDULE_DELAY', 1_000),
            maxQueueSize: numberFromEnv('OTEL_BLRP_MAX_QUEUE_SIZE', 2_048),
          }),
        ]
      : [],
    instrumentations: [
      lambdaInstrumentation,
      // The logger adds trace_id/span_id itself (with a fallback when tracing is off): only the sending is wanted.
      new PinoInstrumentation({ disableLogCorrelation: true, disableLogSending: !logsUrl }),
      new HttpInstrumentation({
        // Inbound HTTP is the Lambda instrumentation's job; only calls between functions matter here.
        disableIncomingRequestInstrumentation: true,
      }),
      new AwsInstrumentation({
        // One DynamoDB span per operation, not a second one for the HTTP request underneath.
        suppressInternalInstrumentation: true,
        preRequestHook: (span, { request }) => annotateDynamoDbSpan(span, request),
      }),
    ],
  });
  sdk.start();

  // Deployed, the sandbox freezes once the handler returns, so spans and log records are flushed before it
  // does. Offline, the process lives on and the batch processors export in the background: a response never waits.
  if (!offline) {
    lambdaInstrumentation.setTracerProvider(
      flushingLogsToo(trace.getTracerProvider(), logs.getLoggerProvider() as Flushable),
    );
  }
}

if (process.env._HANDLER && process.env.OTEL_SDK_DISABLED !== 'true') {
  startTracing();
}
