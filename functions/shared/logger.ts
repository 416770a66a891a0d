import diagnosticsChannel from 'node:diagnostics_channel';
import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoLoki from 'pino-loki';
import { commonEnv } from './env';
import { currentInvocation } from './invocation';

/**
 * Field paths the logger censors wherever they appear (top level, or up to two objects deep), so no
 * caller has to remember to. Card data is payment detail; the rest is secret-like or personal.
 */
const SENSITIVE_KEYS = [
  'card',
  'card_number',
  'cvv',
  'shipping_address',
  'authorization',
  'password',
  'secret',
  'token',
  'api_key',
];
export const REDACTED_PATHS = SENSITIVE_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
export const REDACTION_CENSOR = '[REDACTED]';

/** Loki's level names for pino's, because our lines carry the level as a name, not a number. */
const LOKI_LEVELS = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  error: 'error',
  fatal: 'critical',
};

export interface LoggerOptions {
  serviceName: string;
  environment: string;
  level: string;
  lokiUrl: string;
  /** Where the JSON lines are written besides Loki; stdout by default. */
  destination?: DestinationStream;
  /** Batch stdout writes (offline); otherwise each line is written before the call returns. */
  bufferStdout?: boolean;
}

/**
 * Deployed, lines are written synchronously: the sandbox freezes as soon as the handler returns. Offline the
 * process lives on, so lines are batched into fewer writes (profiling showed one write per line to be a
 * measurable share of each instance's CPU) and flushed at least every 200 ms.
 */
function stdoutDestination(buffered: boolean): DestinationStream {
  if (!buffered) return pino.destination({ dest: 1, sync: true });
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    try {
      destination.flush();
    } catch {
      // a write is already in flight; the next tick flushes
    }
  }, 200).unref();
  return destination;
}

export function createLogger(options: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [
    { level: 'trace', stream: options.destination ?? stdoutDestination(options.bufferStdout ?? false) },
  ];
  if (options.lokiUrl) {
    const lokiStream = pinoLoki({
      host: options.lokiUrl,
      // Labels stay low-cardinality: ids belong in the line, where Grafana's derived field finds them.
      labels: { service_name: options.serviceName, environment: options.environment },
      levelMap: LOKI_LEVELS as unknown as Record<number, 'info'>,
      // At most this many lines wait per instance while Loki is unreachable; older ones are dropped first.
      batching: { interval: 1, maxBufferSize: 2_000 },
      replaceTimestamp: true,
      structuredMetaKey: false,
      timeout: 2_000,
      // Delivery failures are reported once by watchLokiDelivery instead of once per batch.
      silenceErrors: true,
    });
    streams.push({ level: 'trace', stream: lokiStream });
  }

  const logger = pino(
    {
      level: options.level,
      base: { service_name: options.serviceName },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: REDACTION_CENSOR },
      mixin: traceContext,
    },
    pino.multistream(streams),
  );
  if (options.lokiUrl) watchLokiDelivery(options.lokiUrl, logger);
  return logger;
}

/** The active span's ids on every line; with tracing off, the invocation's trace id. */
function traceContext(): Record<string, string> {
  const invocation = currentInvocation();
  const spanContext = trace.getActiveSpan()?.spanContext();
  const fields: Record<string, string> = {};
  if (spanContext && trace.isSpanContextValid(spanContext)) {
    fields.trace_id = spanContext.traceId;
    fields.span_id = spanContext.spanId;
  } else if (invocation) {
    fields.trace_id = invocation.traceId;
  }
  if (invocation?.orderId) fields.order_id = invocation.orderId;
  return fields;
}

interface UndiciRequestMessage {
  request: { origin?: string };
  response?: { statusCode: number };
}

/**
 * pino-loki pushes with fetch, whose client (undici) reports every request on diagnostics channels. Watching
 * those for the Loki origin gives one warning when shipping starts failing and one line when it recovers,
 * without touching pino-loki or the global fetch.
 */
function watchLokiDelivery(lokiUrl: string, logger: Logger): void {
  const origin = new URL(lokiUrl).origin;
  let failing = false;
  const report = (ok: boolean, reason: string) => {
    if (ok === !failing) return;
    failing = !ok;
    if (ok) logger.info({ loki_url: lokiUrl }, 'log shipping to Loki recovered');
    else logger.warn({ loki_url: lokiUrl, reason }, 'log shipping to Loki is failing; lines stay on stdout');
  };
  diagnosticsChannel.subscribe('undici:request:headers', (message) => {
    const { request, response } = message as UndiciRequestMessage;
    if (request.origin !== origin || !response) return;
    report(response.statusCode < 300, `HTTP ${response.statusCode}`);
  });
  diagnosticsChannel.subscribe('undici:request:error', (message) => {
    const { request } = message as UndiciRequestMessage;
    if (request.origin === origin) report(false, 'unreachable');
  });
}

export const logger = createLogger({
  serviceName: commonEnv.OTEL_SERVICE_NAME,
  environment: commonEnv.STAGE,
  level: commonEnv.LOG_LEVEL,
  lokiUrl: commonEnv.LOKI_URL,
  bufferStdout: commonEnv.IS_OFFLINE,
});
