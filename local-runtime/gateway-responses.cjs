'use strict';
/**
 * The answers API Gateway itself gives when no function answered: a throttled function, one that failed or
 * timed out, a stage throttle, and the requests it refuses before any function (an unknown route or method,
 * an unsigned or forbidden call to an internal route, a bad API key, a body over its limit). Said once here, and used twice: as the deployed API's Gateway Responses
 * (serverless.yml's resources), and by the local runtime, which renders the same templates for the same
 * failures, so that the client sees the same status, headers and JSON body in both places.
 *
 * Every body has the shape of the functions' own failures (`status`, `message`, `category`, `trace_id`). No
 * function ran, so no trace exists: `trace_id` is API Gateway's request id, which the access log carries.
 * Gateway Response templates allow simple `$context` substitution only (no VTL), hence the id as it is.
 */
const {
  statusByCategory: STATUS_BY_CATEGORY,
  throttleRetryAfterSeconds: THROTTLE_RETRY_AFTER_SECONDS,
} = require('../functions/shared/contracts/error-categories.json');

/**
 * @typedef {object} GatewayResponse
 * @property {string} type API Gateway's response type
 * @property {number} [statusCode] what it answers; without one, API Gateway's default status for the type
 * @property {keyof typeof STATUS_BY_CATEGORY} category
 * @property {string} message
 * @property {Record<string, string>} [headers]
 */

/**
 * @type {Record<'functionThrottled' | 'stageThrottled' | 'functionFailed' | 'integrationTimeout' | 'noSuchRoute' |
 *   'accessDenied' | 'invalidSignature' | 'expiredToken' | 'invalidApiKey' | 'quotaExceeded' | 'requestTooLarge' |
 *   'anyOther4xx', GatewayResponse>}
 */
const GATEWAY_RESPONSES = {
  // Lambda's throttle reaches API Gateway as an integration failure (a 500 by default). Mapping the type maps
  // any integration failure, but the others (a missing invoke permission) are deploy mistakes, not traffic.
  functionThrottled: {
    type: 'INTEGRATION_FAILURE',
    statusCode: STATUS_BY_CATEGORY.throttled,
    category: 'throttled',
    message:
      'Too many requests: the function is at its concurrency limit. Retry after the Retry-After seconds.',
    headers: { 'Retry-After': String(THROTTLE_RETRY_AFTER_SECONDS) },
  },
  stageThrottled: {
    type: 'THROTTLED',
    statusCode: STATUS_BY_CATEGORY.throttled,
    category: 'throttled',
    message: 'Too many requests: the API is over its rate limit. Retry after the Retry-After seconds.',
    headers: { 'Retry-After': String(THROTTLE_RETRY_AFTER_SECONDS) },
  },
  // A function that crashed or ran out of time: API Gateway answers 502, with this body instead of its own.
  functionFailed: {
    type: 'DEFAULT_5XX',
    category: 'downstream_failure',
    message: 'The function behind this route failed or timed out before it answered',
  },
  integrationTimeout: {
    type: 'INTEGRATION_TIMEOUT',
    statusCode: STATUS_BY_CATEGORY.downstream_timeout,
    category: 'downstream_timeout',
    message: 'The function behind this route did not answer within the API limit',
  },
  // A REST API answers an unknown route or method, and an unsigned call to an IAM route, with this type (403
  // "Missing Authentication Token" by default). 404, and no list of the routes that do exist.
  noSuchRoute: {
    type: 'MISSING_AUTHENTICATION_TOKEN',
    statusCode: STATUS_BY_CATEGORY.not_found,
    category: 'not_found',
    message: 'No route matches this method and path (an internal route also needs a signed request)',
  },
  // The internal routes (aws_iam): a caller whose role may not invoke the route, or whose signature is wrong or old.
  accessDenied: {
    type: 'ACCESS_DENIED',
    category: 'forbidden',
    message: "The caller's role may not invoke this route",
  },
  invalidSignature: {
    type: 'INVALID_SIGNATURE',
    category: 'forbidden',
    message: "The request's signature does not match",
  },
  expiredToken: {
    type: 'EXPIRED_TOKEN',
    category: 'forbidden',
    message: "The request's credentials have expired",
  },
  // The public routes behind an API key (`--param requireApiKey=true`) and its usage plan.
  invalidApiKey: {
    type: 'INVALID_API_KEY',
    category: 'forbidden',
    message: 'A valid API key (x-api-key) is required',
  },
  quotaExceeded: {
    type: 'QUOTA_EXCEEDED',
    category: 'throttled',
    message: "The API key's quota for the period is used up",
  },
  requestTooLarge: {
    type: 'REQUEST_TOO_LARGE',
    category: 'payload_too_large',
    message: 'The request is larger than API Gateway accepts (10 MB)',
  },
  // Any other refusal before a function (a bad request body or parameters, an unsupported media type...), with
  // API Gateway's own status for it.
  anyOther4xx: {
    type: 'DEFAULT_4XX',
    category: 'rejected',
    message: 'API Gateway refused the request before any function ran',
  },
};

/** The one body template: API Gateway substitutes `$context.requestId`, the local runtime does the same. */
function bodyTemplate(/** @type {GatewayResponse} */ response) {
  return JSON.stringify({
    status: 'failure',
    message: response.message,
    category: response.category,
    trace_id: '$context.requestId',
  });
}

/** The Gateway Responses as CloudFormation resources on the stack's REST API. */
function resources() {
  return {
    Resources: Object.fromEntries(
      Object.values(GATEWAY_RESPONSES).map((response) => [
        `GatewayResponse${response.type
          .split('_')
          .map((word) => word[0] + word.slice(1).toLowerCase())
          .join('')}`,
        {
          Type: 'AWS::ApiGateway::GatewayResponse',
          Properties: {
            RestApiId: { Ref: 'ApiGatewayRestApi' },
            ResponseType: response.type,
            ...(response.statusCode ? { StatusCode: String(response.statusCode) } : {}),
            ResponseParameters: Object.fromEntries(
              Object.entries({ 'Content-Type': 'application/json', ...response.headers }).map(
                ([name, value]) => [`gatewayresponse.header.${name}`, `'${value}'`],
              ),
            ),
            ResponseTemplates: { 'application/json': bodyTemplate(response) },
          },
        },
      ]),
    ),
  };
}

/**
 * The answer API Gateway gives for `response`, as a Lambda proxy result serverless-offline sends as is.
 * @param {GatewayResponse} response
 * @param {string} requestId the request's `requestContext.requestId`
 * @param {number} defaultStatus API Gateway's own status for the failure, when the response sets none
 */
function renderGatewayResponse(response, requestId, defaultStatus) {
  return {
    statusCode: response.statusCode ?? defaultStatus,
    headers: { 'Content-Type': 'application/json', ...response.headers },
    body: bodyTemplate(response).replaceAll('$context.requestId', requestId),
  };
}

// The Framework calls the exported function once per `${file(...):property}` it resolves.
module.exports = () => ({ resources: resources() });
module.exports.GATEWAY_RESPONSES = GATEWAY_RESPONSES;
module.exports.renderGatewayResponse = renderGatewayResponse;
module.exports.resources = resources;
