// @ts-check
/**
 * A Lambda runtime's main loop, for running the prod package as Lambda runs it (the deployed-contract tier and
 * the deployed cold-start bench): started as `node ric-bootstrap.mjs` with the function's environment, so
 * NODE_OPTIONS (the tracing preload) applies first, exactly as it does to /var/runtime/index.mjs deployed.
 *
 * Like aws-lambda-ric 4.0.2's runtime: init loads the handler (ric-loader.mjs) and reports a failure to
 * /runtime/init/error; then each invocation is taken from /runtime/invocation/next on AWS_LAMBDA_RUNTIME_API,
 * and its answer or error is posted back. Its own HTTP calls go through `fetch`, which the HTTP instrumentation
 * does not patch, as the real runtime's native client is not seen by it.
 */
import { invocationContext, invoke, loadHandler } from './ric-loader.mjs';

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;

/** @param {string} path @param {unknown} body @param {Record<string, string>} [headers] */
const post = (path, body, headers = {}) =>
  fetch(`${api}${path}`, { method: 'POST', body: JSON.stringify(body), headers });

/** @param {unknown} error */
const errorPayload = (error) =>
  error instanceof Error
    ? { errorType: error.name, errorMessage: error.message, trace: String(error.stack ?? '').split('\n') }
    : { errorType: 'Error', errorMessage: String(error), trace: [] };

let handler;
try {
  handler = await loadHandler(String(process.env.LAMBDA_TASK_ROOT), String(process.env._HANDLER));
} catch (error) {
  await post('/init/error', errorPayload(error), { 'Lambda-Runtime-Function-Error-Type': 'Runtime.Unknown' });
  process.exit(1);
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const awsRequestId = String(next.headers.get('lambda-runtime-aws-request-id'));
  const event = await next.json();
  const context = invocationContext({
    awsRequestId,
    invokedFunctionArn: String(next.headers.get('lambda-runtime-invoked-function-arn')),
    deadlineMs: Number(next.headers.get('lambda-runtime-deadline-ms')),
  });
  try {
    const result = await invoke(handler, event, context);
    await post(`/invocation/${awsRequestId}/response`, result);
  } catch (error) {
    await post(`/invocation/${awsRequestId}/error`, errorPayload(error));
  }
}
