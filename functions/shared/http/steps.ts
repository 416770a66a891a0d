import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type * as z from 'zod';
import { commonSettings } from '../config/settings';
import { DomainError, type FieldError, THROTTLE_RETRY_AFTER_SECONDS } from '../contracts/errors';
import { LIMITS } from '../contracts/schemas';
import { armCrash, ChaosMonkey } from '../faults/chaos';
import { currentInvocation, runInvocation } from '../runtime/invocation';
import { annotate } from '../telemetry/api';
import { logger } from '../telemetry/logger';

/** What a route answers: its status, its JSON body, and any extra headers. */
export interface HttpResult<Body extends object = Record<string, unknown>> {
  statusCode: number;
  body: Body;
  headers?: Record<string, string>;
}

/** The body of every failure: the one shape failureResult makes. */
export interface FailureBody {
  status: 'failure';
  message: string;
  category: string;
  errors?: FieldError[];
}

export interface RequestInfo {
  headers: Record<string, string | undefined>;
  traceId: string;
  context: Context;
}

/**
 * The HTTP adapter's cross-cutting concerns, one small step each, in the spirit of middy's middleware: a step
 * gets the exchange and the rest of the pipeline (`next`), and may act before it, after it, or instead of it.
 * httpRouter (router.ts) puts them in order; each can be tested alone.
 */
export interface Exchange {
  event: APIGatewayProxyEvent;
  request: RequestInfo;
  /** The matched route's schemas and endpoint; none for a route the function does not have. */
  contract?: { body?: z.ZodType; params?: z.ZodType };
  endpoint?: (input: Exchange['input'], request: RequestInfo) => Promise<HttpResult<object>>;
  /** The validated body and path parameters, once `validateInput` has run. */
  input: { body?: unknown; params?: unknown };
}

export type Next = () => Promise<HttpResult<object>>;
export type Step = (exchange: Exchange, next: Next) => Promise<HttpResult<object>>;

/** Runs `steps` in order around `last`. */
export function pipeline(steps: Step[], last: (exchange: Exchange) => Promise<HttpResult<object>>) {
  return (exchange: Exchange): Promise<HttpResult<object>> => {
    const run = (index: number): Promise<HttpResult<object>> => {
      const step = steps[index];
      return step ? step(exchange, () => run(index + 1)) : last(exchange);
    };
    return run(0);
  };
}

/** The invocation's trace id and deadline, for the logger, the HTTP client and the remaining-time checks. */
export const invocationContext: Step = ({ request }, next) =>
  runInvocation(
    { traceId: request.traceId, deadline: Date.now() + request.context.getRemainingTimeInMillis() },
    next,
  );

/** One line when a request arrives and one when it is answered, at a level the status decides. */
export const logRequest: Step = async ({ event }, next) => {
  logger.info(
    { method: event.httpMethod, path: event.path },
    `${commonSettings().OTEL_SERVICE_NAME} received a request`,
  );
  const started = performance.now();
  const result = await next();
  annotate({ 'http.response.status_code': result.statusCode });
  const level = result.statusCode >= 500 ? 'error' : result.statusCode >= 400 ? 'warn' : 'info';
  logger[level](
    {
      status: result.statusCode,
      category: (result.body as { category?: unknown }).category,
      duration_ms: Math.round(performance.now() - started),
    },
    `${commonSettings().OTEL_SERVICE_NAME} responded ${result.statusCode}`,
  );
  return result;
};

/** The one place where an exception becomes an HTTP failure. Unexpected errors never leak their text. */
export function failureResult(error: unknown): HttpResult<FailureBody> {
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
      ...(error.category === 'throttled'
        ? { headers: { 'retry-after': String(THROTTLE_RETRY_AFTER_SECONDS) } }
        : {}),
    };
  }
  logger.error({ err: error }, 'unexpected error');
  annotate({ 'error.type': 'internal' });
  return { statusCode: 500, body: { status: 'failure', message: 'Internal error', category: 'internal' } };
}

/** Every exception of the steps after it, and of the endpoint, answered by failureResult. */
export const mapErrors: Step = async (_exchange, next) => {
  try {
    return await next();
  } catch (error) {
    return failureResult(error);
  }
};

/** Injected faults (CHAOS): a delay and a failure before or after the work, and where the instance dies. */
export function injectChaos(monkey: ChaosMonkey): Step {
  return async (_exchange, next) => {
    const plan = monkey.plan();
    armCrash(plan.crashAt);
    await ChaosMonkey.delay(plan.delayMs);
    if (plan.failAt === 'before') throw ChaosMonkey.failure();
    const result = await next();
    if (plan.failAt === 'after') throw ChaosMonkey.failure();
    return result;
  };
}

/** Parses the JSON body and the path parameters with the route's contract; a 4xx names every bad field. */
export const validateInput: Step = async (exchange, next) => {
  const { contract, event, request } = exchange;
  exchange.input = {
    body: contract?.body ? parseBody(contract.body, event, request.headers) : undefined,
    params: contract?.params ? validate(contract.params, event.pathParameters ?? {}, 'path') : undefined,
  };
  return next();
};

/**
 * The order a request is about, from its body's `order_id` or its `{id}` path parameter: on every log line
 * (the logger reads the invocation) and on the invocation's span, in every function, without a handler
 * having to add it.
 */
export const correlateOrder: Step = async ({ input }, next) => {
  const orderId =
    (input.body as { order_id?: unknown } | undefined)?.order_id ??
    (input.params as { id?: unknown } | undefined)?.id;
  if (typeof orderId === 'string') {
    const invocation = currentInvocation();
    if (invocation) invocation.orderId = orderId;
    annotate({ 'order.id': orderId });
  }
  return next();
};

function parseBody(
  schema: z.ZodType,
  event: APIGatewayProxyEvent,
  headers: Record<string, string | undefined>,
): unknown {
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
