'use strict';
/** Invocations through serverless-offline's Lambda invoke API: how prewarming and schedules reach a function. */

/**
 * Where serverless-offline's Lambda API listens, from serverless.yml's custom.serverless-offline.
 * @param {{ host?: string, lambdaPort?: number | string } | undefined} offline
 */
function lambdaApiUrl(offline) {
  return `http://${offline?.host ?? '127.0.0.1'}:${offline?.lambdaPort ?? 3002}`;
}

/**
 * Invokes a function by its deployed name; answers its result, or what went wrong (a function error, which
 * Lambda reports with X-Amz-Function-Error, or no answer at all).
 * @param {string} apiUrl
 * @param {string} functionName
 * @param {unknown} event
 * @returns {Promise<{ result: unknown, failure?: undefined } | { failure: string }>}
 */
async function invokeForResult(apiUrl, functionName, event) {
  const url = `${apiUrl}/2015-03-31/functions/${functionName}/invocations`;
  try {
    const response = await fetch(url, { method: 'POST', body: JSON.stringify(event) });
    const payload = await response.text();
    if (!response.ok || response.headers.get('x-amz-function-error')) {
      return { failure: `failed: ${response.status} ${payload.slice(0, 300)}` };
    }
    return { result: payload ? JSON.parse(payload) : undefined };
  } catch (error) {
    return {
      failure: `could not be invoked at ${url}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/**
 * Invokes a function by its deployed name; answers what went wrong, if anything.
 * @param {string} apiUrl
 * @param {string} functionName
 * @param {unknown} event
 * @returns {Promise<string | undefined>}
 */
async function invokeFunction(apiUrl, functionName, event) {
  return (await invokeForResult(apiUrl, functionName, event)).failure;
}

module.exports = { lambdaApiUrl, invokeFunction, invokeForResult };
