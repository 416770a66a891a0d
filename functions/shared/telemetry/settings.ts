import * as z from 'zod';
import { booleanFlag, integerSetting, loadEnv } from '../config/env';

/** An environment variable left empty is one left unset (serverless.yml writes '' for "not given"). */
const unsetIfEmpty = <Schema extends z.ZodType>(schema: Schema) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema);

/** An http(s) URL: a bare "host:port" would parse as a URL with the host as its scheme. */
const httpUrl = () => z.url({ protocol: /^https?$/ });

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/**
 * Everything the tracing preload reads from the environment, validated once when it starts: a malformed
 * value stops the instance with the variable's name, as the functions' own settings do (env.ts), instead of
 * a silent fallback.
 */
export function telemetrySettings(env: NodeJS.ProcessEnv = process.env) {
  return loadEnv(
    {
      IS_OFFLINE: booleanFlag(false),
      OTEL_SERVICE_NAME: unsetIfEmpty(z.string().default('unknown-service')),
      // Set by Lambda in every sandbox; the SSM endpoint overrides as the SDK honours them.
      AWS_REGION: unsetIfEmpty(z.string().default('us-east-1')),
      AWS_ENDPOINT_URL_SSM: unsetIfEmpty(httpUrl().optional()),
      AWS_ENDPOINT_URL: unsetIfEmpty(httpUrl().optional()),
      STAGE: unsetIfEmpty(z.string().default('local')),
      // What an invocation does with its caller's trace context (config/env.ts says why).
      INBOUND_TRACE_CONTEXT: unsetIfEmpty(z.enum(['continue', 'link']).default('continue')),
      OTEL_EXPORTER_OTLP_ENDPOINT: unsetIfEmpty(httpUrl().default('http://localhost:4318')),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: unsetIfEmpty(httpUrl().optional()),
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: unsetIfEmpty(httpUrl().optional()),
      // Deployed, the SecureString that holds the OTLP headers (otlp-headers.ts).
      OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER: unsetIfEmpty(z.string().optional()),
      OTEL_LOGS_EXPORTER: unsetIfEmpty(z.enum(['otlp', 'none']).default('otlp')),
      LOKI_URL: unsetIfEmpty(httpUrl().optional()),
      OTEL_TRACES_SAMPLER: unsetIfEmpty(z.enum(SAMPLERS).default('parentbased_always_on')),
      OTEL_TRACES_SAMPLER_ARG: unsetIfEmpty(z.coerce.number().min(0).max(1).default(1)),
      // Deployed: export each invocation's telemetry after its response (an internal extension keeps the
      // sandbox from freezing until it is done: after-response.ts) or before it (the instrumentation's flush).
      TELEMETRY_EXPORT: unsetIfEmpty(z.enum(['after-response', 'before-response']).default('after-response')),
      // The longest an invocation's export after the response may keep the sandbox awake (billed).
      TELEMETRY_EXPORT_WAIT_MS: integerSetting(1_000, { min: 0, max: 60_000 }),
      // Set by Lambda: where the Runtime and Extensions APIs answer. Unset offline.
      AWS_LAMBDA_RUNTIME_API: unsetIfEmpty(z.string().optional()),
      OTEL_BSP_SCHEDULE_DELAY: integerSetting(1_000, { min: 1 }),
      // Bound memory when the backend is down: spans and records beyond these are dropped, not queued.
      OTEL_BSP_MAX_QUEUE_SIZE: integerSetting(2_048, { min: 1 }),
      OTEL_BLRP_SCHEDULE_DELAY: integerSetting(1_000, { min: 1 }),
      OTEL_BLRP_MAX_QUEUE_SIZE: integerSetting(2_048, { min: 1 }),
    },
    env,
  );
}

export type TelemetrySettings = ReturnType<typeof telemetrySettings>;
