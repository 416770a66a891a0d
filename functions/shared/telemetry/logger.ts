import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';
import { commonSettings } from '../config/settings';
import { currentInvocation } from '../runtime/invocation';

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

export interface LoggerOptions {
  serviceName: string;
  level: string;
  /** Where the JSON lines are written; stdout by default. */
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

/**
 * JSON lines on stdout. With tracing on, the preload's pino instrumentation also sends each line (already
 * redacted) as an OTLP log record to Loki; where to, settings.ts's logsEndpoint decides.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // No pid or hostname: neither says anything about an order.
      base: { service_name: options.serviceName },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: REDACTION_CENSOR },
      mixin: traceContext,
    },
    options.destination ?? stdoutDestination(options.bufferStdout ?? false),
  );
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

export const logger = createLogger({
  serviceName: commonSettings().OTEL_SERVICE_NAME,
  level: commonSettings().LOG_LEVEL,
  bufferStdout: commonSettings().IS_OFFLINE,
});
