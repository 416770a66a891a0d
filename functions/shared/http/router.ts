import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DomainError } from '../contracts/errors';
import { API, type ApiRoute, type BodyOf, type ParamsOf, type ResponseOf } from '../contracts/schemas';
import { ChaosMonkey } from '../faults/chaos';
import { registerPrimer } from '../runtime/priming';
import { resolveTraceId } from '../telemetry/api';
import { tracedHandler } from '../telemetry/handoff';
import {
  correlateOrder,
  type Exchange,
  type FailureBody,
  type HttpResult,
  injectChaos,
  invocationContext,
  logRequest,
  mapErrors,
  pipeline,
  type RequestInfo,
  type Step,
  validateInput,
} from './steps';

export { type FailureBody, failureResult, type HttpResult, type RequestInfo, validate } from './steps';

/**
 * Implements one route of the API contract: takes its validated body and path parameters, answers its
 * response type (or a failure, which a handler may also throw as a DomainError).
 */
export type Endpoint<K extends ApiRoute> = (
  input: { body: BodyOf<K>; params: ParamsOf<K> },
  request: RequestInfo,
) => Promise<HttpResult<ResponseOf<K>> | HttpResult<FailureBody>>;

/** A function's routes: the contract keys it implements. */
export type Endpoints = { [K in ApiRoute]?: Endpoint<K> };

/** The steps every request passes, outermost first; chaos only when CHAOS names this function. */
function stepsWith(chaos: ChaosMonkey): Step[] {
  return [
    invocationContext,
    logRequest,
    mapErrors,
    ...(chaos.enabled ? [injectChaos(chaos)] : []),
    validateInput,
    correlateOrder,
  ];
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/**
 * Turns a function's endpoints into one Lambda handler for API Gateway proxy events: match the route (keyed
 * "METHOD /resource", API Gateway's resource template), then run the steps (steps.ts) around the
 * endpoint. Every response, success or failure, is JSON and carries the trace id in its body and in
 * `x-trace-id`.
 */
export function httpRouter(endpoints: Endpoints) {
  // zod compiles a schema's fast path on its first parse: every contract's, before the first request (callers
  // parse their callees' answers with them too).
  registerPrimer(async () => {
    for (const contract of Object.values(API)) {
      for (const schema of Object.values(contract)) schema.safeParse({});
    }
  });
  const run = pipeline(
    stepsWith(ChaosMonkey.ofThisFunction()),
    async ({ event, input, request, endpoint }) => {
      if (!endpoint) throw new DomainError('not_found', `No route for ${event.httpMethod} ${event.path}`);
      return endpoint(input, request);
    },
  );
  return tracedHandler(
    async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
      const headers = lowerCaseKeys(event.headers);
      const traceId = resolveTraceId(headers);
      const route = matchedRoute(endpoints, event);
      const result = await run({
        event,
        request: { headers, traceId, context },
        ...(route ? { contract: API[route], endpoint: endpoints[route] as Exchange['endpoint'] } : {}),
        input: {},
      });
      return toProxyResult(result, traceId);
    },
  );
}

/** The contract route ("METHOD /resource", API Gateway's resource template) this function serves, if any. */
function matchedRoute(endpoints: Endpoints, event: APIGatewayProxyEvent): ApiRoute | undefined {
  const key = `${event.httpMethod} ${event.resource}`;
  return Object.hasOwn(API, key) && endpoints[key as ApiRoute] ? (key as ApiRoute) : undefined;
}

function toProxyResult(result: HttpResult<object>, traceId: string): APIGatewayProxyResult {
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
