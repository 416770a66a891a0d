import * as z from 'zod';
import { FLAG_VALUES } from './flag';
import LOCAL_DEFAULTS from './local-defaults.json';

/**
 * Every environment variable a function's process reads, each with its one schema and what it does: the
 * only place they are read through. Each part of a process validates the variables it reads once, at cold
 * start (`readSettings`), and a missing or malformed one stops the instance with the variable's name, rather
 * than failing later on the first request that needs it. docs/configuration.md's table of the functions'
 * settings is generated from here (`npm run generate:docs`), and the static tier checks it.
 *
 * An empty value is an unset one: serverless.yml writes '' for "not given".
 */

/** Environment variables that "true"/"false" strings switch on and off. */
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(FLAG_VALUES)
    .optional()
    .transform((value) => (value === undefined ? fallback : value === 'true' || value === '1'));

/** An integer from `min` to `max` (0 and up unless told), given as a string in the environment. */
export const integerSetting = (fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (value.trim() === '' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${value}"` });
        return z.NEVER;
      }
      return parsed;
    });

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

/** A table's name: the template sets it from the function's manifest (`tables:`), so it has no default. */
const tableName = (doc: string) => [z.string().min(1), doc, 'the template'] as const;

/** Who reads a variable; the configuration page groups them so. */
export type Reader =
  | 'every function'
  | 'calls between functions'
  | 'fault injection'
  | 'one function'
  | 'tracing';

/** Who sets it: a developer (the default), the template (from the manifests and the stage), serverless-offline, or Lambda. */
export type Setter = 'you' | 'the template' | 'serverless-offline' | 'Lambda';

interface Variable<Schema extends z.ZodType, ReadBy extends Reader = Reader> {
  schema: Schema;
  readBy: ReadBy;
  setBy: Setter;
  /** What it does, one line for the configuration page. */
  doc: string;
}

/** One group's variables, each `NAME: [schema, what it does, who sets it (you, unless said)]`. */
function group<ReadBy extends Reader, Entries extends Record<string, readonly [z.ZodType, string, Setter?]>>(
  readBy: ReadBy,
  entries: Entries,
): { [Name in keyof Entries]: Variable<Entries[Name][0], ReadBy> } {
  return Object.fromEntries(
    Object.entries(entries).map(([name, [schema, doc, setBy = 'you']]) => [
      name,
      { schema, readBy, setBy, doc },
    ]),
  ) as { [Name in keyof Entries]: Variable<Entries[Name][0], ReadBy> };
}

export const VARIABLES = {
  ...group('every function', {
    OTEL_SERVICE_NAME: [
      z.string().min(1).default('unknown-service'),
      'its service name, on its spans and log lines (its manifest’s `service`)',
      'the template',
    ],
    STAGE: [z.string().min(1).default('local'), 'the stage it runs in', 'the template'],
    IS_OFFLINE: [
      booleanFlag(false),
      'offline: DynamoDB Local’s credentials, export in the background',
      'serverless-offline',
    ],
    LOG_LEVEL: [
      z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      'pino level of the functions (`debug` … `error`, `silent`)',
    ],
    INBOUND_TRACE_CONTEXT: [
      z.enum(['continue', 'link']).default('continue'),
      'what an invocation does with its caller’s trace context: `continue` it (internal routes), or start a new trace and `link` it (the public routes; `PUBLIC_TRACE_CONTEXT=continue` for a front end you trust)',
      'the template',
    ],
  }),
  ...group('calls between functions', {
    SERVICES_BASE_URL: [
      z.url().default(`http://localhost:${LOCAL_DEFAULTS.httpPort}`),
      'the API that fronts every function: serverless-offline locally, the stack’s own API Gateway deployed',
      'the template',
    ],
    DOWNSTREAM_TIMEOUT_MS: [
      integerSetting(29_000, { min: 50 }),
      'the longest one call between functions may take (API Gateway’s integration limit); the caller’s remaining time decides first',
    ],
    COMPENSATION_RESERVE_MS: [
      integerSetting(1_000, { min: 0 }),
      'time a caller keeps back from a forward call, so it can still compensate and answer',
    ],
    SIGN_REQUESTS: [
      booleanFlag(false),
      'sign calls with SigV4 for API Gateway’s IAM authorization (deployed)',
      'the template',
    ],
  }),
  ...group('fault injection', {
    CHAOS: [
      z.string().default(''),
      'fault injection per function, e.g. `inventory:failure=0.2,latency=10-50;fraud:latency=30000`: `failure` a probability, `latency` ms or a range, `point=before|after|either` where a failure strikes; `crash=<probability>,crash_at=<points>` ends the instance at a saga point (`reserved`, `authorized`, `warehouse_reserved`, `stock_committed`)',
    ],
    CHAOS_SEED: [integerSetting(-1, { min: -1 }), 'makes the chaos draws repeatable (`-1`: unseeded)'],
  }),
  ...group('one function', {
    IDEMPOTENCY_TABLE: tableName('api-gateway: the idempotency keys'),
    ORDERS_TABLE: tableName('order, committer, reaper: the orders'),
    INVENTORY_TABLE: tableName('inventory: stock and catalog prices'),
    INVENTORY_RESERVATIONS_TABLE: tableName('inventory: its reservations'),
    WAREHOUSE_STOCK_TABLE: tableName('warehouse: stock per location'),
    WAREHOUSE_RESERVATIONS_TABLE: tableName('warehouse: its reservations'),
    ORDER_ABANDON_MARGIN_SECONDS: [
      integerSetting(30, { min: 0 }),
      'order: an unsettled order counts as abandoned this long after its order function’s timeout',
    ],
    REAPER_BATCH_SIZE: [
      integerSetting(100, { min: 1, max: 1_000 }),
      'reaper: the most orders it recovers per run',
    ],
    PAYMENT_LIMIT: [integerSetting(5_000, { min: 1 }), 'payment: amounts above it are declined'],
    PAYMENT_DECLINED_CARD_SUFFIX: [
      z
        .string()
        .regex(/^\d{4}$/)
        .default('0002'),
      'payment: a card ending in these four digits is declined (the networks’ test card)',
    ],
    FRAUD_PERCENTAGE: [
      integerSetting(5, { min: 0, max: 100 }),
      'fraud: the share of transactions flagged at random, as in the seed',
    ],
    FRAUD_BLOCKED_USER_IDS: [z.string().default('666'), 'fraud: users always flagged (comma-separated)'],
    FRAUD_SEED: [integerSetting(-1, { min: -1 }), 'fraud: makes the random draws repeatable'],
  }),
  ...group('tracing', {
    OTEL_SDK_DISABLED: [
      booleanFlag(false),
      '`true` turns tracing off completely: the preload loads no OpenTelemetry module (responses still carry a trace id)',
    ],
    OTEL_EXPORTER_OTLP_ENDPOINT: [
      httpUrl().default('http://localhost:4318'),
      'OTLP/HTTP endpoint (`/v1/traces` is appended); deployed, the stage’s param `otlpEndpoint`',
    ],
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: [httpUrl().optional(), 'the traces’ own OTLP endpoint, whole'],
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: [httpUrl().optional(), 'the log records’ own OTLP endpoint, whole'],
    OTEL_EXPORTER_OTLP_HEADERS: [
      z.string().optional(),
      'e.g. `Authorization=Basic%20…` for a hosted endpoint (deployed: from the SSM parameter)',
    ],
    OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER: [
      z.string().optional(),
      'deployed: the SecureString that holds the OTLP headers (`/orders/<stage>/otlp-headers`)',
      'the template',
    ],
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: [
      integerSetting(1_000, { min: 1 }),
      'ms per export; an export never delays a response offline',
    ],
    TELEMETRY_EXPORT: [
      z.enum(['after-response', 'before-response']).default('after-response'),
      'deployed: export each invocation’s telemetry after its answer (an internal extension holds the sandbox until it is done) or `before-response` (the answer waits for it)',
    ],
    TELEMETRY_EXPORT_WAIT_MS: [
      integerSetting(1_000, { min: 0, max: 60_000 }),
      'deployed, after the response: the longest an export may keep the sandbox awake (billed); past it, a line says what is pending',
    ],
    OTEL_RESOURCE_ATTRIBUTES: [z.string().optional(), 'extra resource attributes (`key=value,…`)'],
    OTEL_LOGS_EXPORTER: [
      z.enum(['otlp', 'none']).default('otlp'),
      '`none` keeps log records out of OTLP (deployed: CloudWatch only)',
    ],
    LOKI_URL: [
      httpUrl().optional(),
      'Loki, which takes the OTLP log records at `/otlp/v1/logs`; unset sends none offline (lines still go to stdout)',
    ],
    OTEL_TRACES_SAMPLER: [z.enum(SAMPLERS).default('parentbased_always_on'), 'a standard sampler'],
    OTEL_TRACES_SAMPLER_ARG: [
      z.coerce.number().min(0).max(1).default(1),
      'the ratio of the `traceidratio` samplers',
    ],
    OTEL_BSP_SCHEDULE_DELAY: [integerSetting(1_000, { min: 1 }), 'ms between span batches'],
    OTEL_BSP_MAX_QUEUE_SIZE: [
      integerSetting(2_048, { min: 1 }),
      'spans that may wait for export; past it they are dropped, not queued (a backend down)',
    ],
    OTEL_BLRP_SCHEDULE_DELAY: [integerSetting(1_000, { min: 1 }), 'ms between log record batches'],
    OTEL_BLRP_MAX_QUEUE_SIZE: [
      integerSetting(2_048, { min: 1 }),
      'log records that may wait for export; past it they are dropped',
    ],
    AWS_REGION: [z.string().default('us-east-1'), 'the region (of the SSM parameter)', 'Lambda'],
    AWS_ENDPOINT_URL_SSM: [httpUrl().optional(), 'another SSM endpoint (the tests’ stand-in)'],
    AWS_ENDPOINT_URL: [httpUrl().optional(), 'another endpoint for every AWS service'],
    AWS_LAMBDA_RUNTIME_API: [
      z.string().optional(),
      'where the Runtime and Extensions APIs answer; unset offline',
      'Lambda',
    ],
  }),
};

export type VariableName = keyof typeof VARIABLES;

/** The variables one reader reads, typed as their names. */
export type NamesReadBy<ReadBy extends Reader> = {
  [Name in VariableName]: (typeof VARIABLES)[Name]['readBy'] extends ReadBy ? Name : never;
}[VariableName];

export function namesReadBy<ReadBy extends Reader>(readBy: ReadBy): NamesReadBy<ReadBy>[] {
  return (Object.keys(VARIABLES) as VariableName[]).filter(
    (name): name is NamesReadBy<ReadBy> => VARIABLES[name].readBy === readBy,
  );
}
type SchemaOf<Name extends VariableName> = (typeof VARIABLES)[Name]['schema'];
export type Settings<Name extends VariableName> = { [K in Name]: z.output<SchemaOf<K>> };

/**
 * Validates the named variables of `env` once, with their one schema each, and answers their values. A
 * problem names every variable at fault: `Invalid environment: ORDERS_TABLE: …; LOG_LEVEL: …`.
 */
export function readSettings<Name extends VariableName>(
  names: readonly Name[],
  env: NodeJS.ProcessEnv = process.env,
): Settings<Name> {
  const shape = Object.fromEntries(names.map((name) => [name, VARIABLES[name].schema]));
  const given = Object.fromEntries(names.map((name) => [name, env[name] === '' ? undefined : env[name]]));
  const result = z.object(shape).safeParse(given);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  return result.data as Settings<Name>;
}

/** What every function reads: who it is, where it runs, how much it logs, and what it does with a caller's trace. */
export const COMMON_SETTINGS = [
  'OTEL_SERVICE_NAME',
  'STAGE',
  'IS_OFFLINE',
  'LOG_LEVEL',
  'INBOUND_TRACE_CONTEXT',
] as const;

let common: Settings<(typeof COMMON_SETTINGS)[number]> | undefined;

/**
 * The settings every function shares, validated once, when first asked for: not at import, so that a process
 * that reads them with others (the tracing preload's telemetrySettings) validates them once too.
 */
export function commonSettings(): Settings<(typeof COMMON_SETTINGS)[number]> {
  common ??= readSettings(COMMON_SETTINGS);
  return common;
}

/** A variable's default as the configuration page shows it: what its schema makes of it unset. */
export function defaultOf(name: VariableName): string | undefined {
  const parsed = VARIABLES[name].schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return undefined;
  return String(parsed.data);
}
