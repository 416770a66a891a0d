import { COMMON_SETTINGS, namesReadBy, readSettings } from '../config/settings';

/** What the tracing preload reads: every function's own identity, and the variables of tracing. */
const TELEMETRY_SETTINGS = [...COMMON_SETTINGS, ...namesReadBy('tracing')];

/**
 * Everything the tracing preload reads from the environment, validated once when it starts: a malformed
 * value stops the instance with the variable's name, as the functions' own settings do (config/settings.ts),
 * instead of a silent fallback.
 */
export function telemetrySettings(env: NodeJS.ProcessEnv = process.env) {
  return readSettings(TELEMETRY_SETTINGS, env);
}

export type TelemetrySettings = ReturnType<typeof telemetrySettings>;

/**
 * Where log records go, if anywhere: Loki's own OTLP endpoint when LOKI_URL names a Loki; deployed otherwise,
 * the OTLP endpoint that takes the traces (one endpoint and one credential for a hosted stack). Offline with no
 * Loki, nowhere: the JSON lines on stdout are the logs.
 */
export function logsEndpoint(
  settings: {
    OTEL_LOGS_EXPORTER?: string;
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT?: string | undefined;
    LOKI_URL?: string | undefined;
    IS_OFFLINE?: boolean;
  },
  otlpBase: string,
): string | undefined {
  if (settings.OTEL_LOGS_EXPORTER === 'none') return undefined;
  if (settings.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) return settings.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
  if (settings.LOKI_URL) return `${settings.LOKI_URL.replace(/\/$/, '')}/otlp/v1/logs`;
  return settings.IS_OFFLINE ? undefined : `${otlpBase}/v1/logs`;
}
