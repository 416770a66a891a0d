'use strict';
/**
 * The API Gateway proxy events serverless-offline builds, set right where they differ from API Gateway's.
 */

/**
 * An API Gateway proxy event carries its request id; events of the invoke API (prewarm, schedules) do not.
 * @param {unknown} event
 * @returns {string | undefined}
 */
function apiRequestIdOf(event) {
  const { httpMethod, requestContext } =
    /** @type {{ httpMethod?: unknown, requestContext?: { requestId?: unknown } }} */ (event ?? {});
  const requestId = requestContext?.requestId;
  return typeof httpMethod === 'string' && typeof requestId === 'string' ? requestId : undefined;
}

/**
 * serverless-offline adds `Content-Type: application/json` to a request that has a body and no Content-Type;
 * API Gateway passes the headers as sent, so the function answers 415 deployed. Its multiValueHeaders hold
 * the headers as sent: a Content-Type missing there was added, and is taken out again.
 * @template {unknown} E
 * @param {E} event
 * @returns {E}
 */
function asApiGatewaySendsIt(event) {
  if (apiRequestIdOf(event) === undefined) return event;
  const { headers, multiValueHeaders } =
    /** @type {{ headers?: Record<string, string>, multiValueHeaders?: Record<string, string[]> }} */ (event);
  const sent = (/** @type {Record<string, unknown> | undefined} */ map) =>
    Object.keys(map ?? {}).some((name) => name.toLowerCase() === 'content-type');
  if (!headers || !multiValueHeaders || !sent(headers) || sent(multiValueHeaders)) return event;
  const asSent = Object.fromEntries(
    Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-type'),
  );
  return /** @type {E} */ ({ .../** @type {object} */ (event), headers: asSent });
}

module.exports = { apiRequestIdOf, asApiGatewaySendsIt };
