import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import { ChaosMonkey } from './chaos';
import { commonEnv, integerSetting, loadEnv } from './env';
import { DomainError, type FieldError } from './errors';
import { currentInvocation, runInvocation } from './invocation';
import { logger } from './logger';
import { LIMITS } from './schemas';
import { annotate, resolveTraceId } from './telemetry';

export interface HttpResult {
  statusCode: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface RequestInfo {
  headers: Record<string, string | undefined>;
  traceId: string;
  context: Context;
}

export interface Route<Body, Params> {
  /** Schema of the JSON body; a route without one takes no body. */
  body?: z.ZodType<Body, unknown>;
  /** Schema of the path parameters. */
  params?: z.ZodType<Params, unknown>;
  handle: (input: { body: Body; params: Params }, request: RequestInfo) => Promise<HttpResult>;
}

const chaosEnv = loadEnv({
  CHAOS: z.string().default(''),
  CHAOS_SEED: integerSetting(-1, { min: -1 }),
});
const chaos = ChaosMonkey.forFunction(
  chaosEnv.CHAOS,
  commonEnv.OTEL_SERVICE_NAME.replace(/-service$/, ''),
  chaosEnv.CHAOS_SEED,
);

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** Routes keyed by "METHOD /resource", with API Gateway's resource template: "GET /api/order/{id}". */
// biome-ignore lint/suspicious/noExplicitAny: each route fixes its own body and parameter types.
export type Routes = Record<string, Route<any, any>>;

/** Gives a route its types; `httpRouter` takes the typed routes as they are. */
export function route<Body = undefined, Params = undefined>(
  definition: Route<Body, Params>,
): Route<Body, Params> {
  return definition;
}

/**
 * Turns a function's routes into one Lambda handler for API Gateway proxy events: find the route, parse,
 * validate, run, map the result. Every response, success or failure, is JSON and carries the trace id in
 * its body and in `x-trace-id`.
 */
export function httpRouter(routes: Routes) {
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const headers = lowerCaseKeys(event.headers);
    const traceId = resolveTraceId(headers);
    const deadline = Date.now() + context.getRemainingTimeInMillis();
    return runInvocation({ traceId, deadline }, async () => {
      logger.info(
        { method: event.httpMethod, path: event.path },
        `${commonEnv.OTEL_SERVICE_NAME} received a request`,
      );
      const started = performance.now();
      const matched = routes[`${event.httpMethod} ${event.resource}`];
      const result = matched
        ? await respond(matched, event, headers, { headers, traceId, context })
        : failureResult(new DomainError('not_found', `No route for ${event.httpMethod} ${event.path}`));
      annotate({ 'http.response.status_code': result.statusCode });
      const level = result.statusCode >= 500 ? 'error' : result.statusCode >= 400 ? 'warn' : 'info';
      logger[level](
        {
          status: result.statusCode,
          category: result.body.category,
          duration_ms: Math.round(performance.now() - started),
        },
        `${commonEnv.OTEL_SERVICE_NAME} responded ${result.statusCode}`,
      );
      return toProxyResult(result, traceId);
    });
  };
}

async function respond<Body, Params>(
  route: Route<Body, Params>,
  event: APIGatewayProxyEvent,
  headers: Record<string, string | undefined>,
  request: RequestInfo,
): Promise<HttpResult> {
  try {
    const plan = chaos.enabled ? chaos.plan() : { delayMs: 0 };
    const invocation = currentInvocation();
    if (invocation && plan.crashAt) invocation.crashAt = plan.crashAt;
    await ChaosMonkey.delay(plan.delayMs);
    if (plan.failAt === 'before') throw ChaosMonkey.failure();
    const input = {
      body: route.body ? parseBody(route.body, event, headers) : (undefined as Body),
      params: route.params
        ? validate(route.params, event.pathParameters ?? {}, 'path')
        : (undefined as Params),
    };
    const result = await route.handle(input, request);
    if (plan.failAt === 'after') throw ChaosMonkey.failure();
    return result;
  } catch (error) {
    return failureResult(error);
  }
}

function parseBody<Body>(
  schema: z.ZodType<Body, unknown>,
  event: APIGatewayProxyEvent,
  headers: Record<string, string | undefined>,
): Body {
  const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new DomainError('unsupported_media_type', 'Content-Type must be application/json');
  }
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  if (Buffer.byteLength(raw) > LIMITS.maxBodyBytes) {
    throw new DomainError('payload_too_large', `Request body must be at most ${LIMITS.maxBodyBytes} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DomainError('validation', 'Request body is not valid JSON');
  }
  return validate(schema, parsed, 'body');
}

export function validate<T>(
  schema: z.ZodType<T, unknown>,
  value: unknown,
  where: 'body' | 'path' | 'headers',
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fieldErrors: FieldError[] = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : where,
    message:
      issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  throw new DomainError('validation', `Invalid request ${where}`, fieldErrors);
}

/** The one place where an exception becomes an HTTP failure. Unexpected errors never leak their text. */
export function failureResult(error: unknown): HttpResult {
  if (error instanceof DomainError) {
    annotate({ 'error.type': error.category });
    return {
      statusCode: error.status,
      body: {
        status: 'failure',
        message: error.message,
        category: error.category,
        ...(error.fieldErrors ? { errors: error.fieldErrors } : {}),
      },
    };
  }
  logger.error({ err: error }, 'unexpected error');
  annotate({ 'error.type': 'internal' });
  return { statusCode: 500, body: { status: 'failure', message: 'Internal error', category: 'internal' } };
}

function toProxyResult(result: HttpResult, traceId: string): APIGatewayProxyResult {
  return {
    statusCode: result.statusCode,
    headers: { ...JSON_HEADERS, 'x-trace-id': traceId, ...result.headers },
    body: JSON.stringify({ ...result.body, trace_id: traceId }),
  };
}

function lowerCaseKeys(headers: APIGatewayProxyEvent['headers'] | null): Record<string, string | undefined> {
  const lowered: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) lowered[name.toLowerCase()] = value;
  return lowered;
}
