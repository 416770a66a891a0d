// @ts-check
/**
 * A Lambda runtime's main loop, for running the prod package as Lambda runs it (the deployed-contract tier and
 * the deployed cold-start bench): started as `node ric-bootstrap.mjs` with the function's environment, so
 * NODE_OPTIONS (the tracing preload) applies first, exactly as it does to /var/runtime/index.mjs deployed.
 *
 * Like aws-lambda-ric 4.0.2's runtime: init loads the handler (ric-loader.mjs) and reports a failure to
 * /runtime/init/error; then each invocation is taken from /runtime/invocation/next on AWS_LAMBDA_RUNTIME_API,
 * and its answer or error is posted back. Like the real runtime's native client, its HTTP client is neither
 * node:http (whose instrumentation would trace the runtime's own calls) nor fetch (whose undici costs a cold
 * start 15-20 ms that Lambda does not charge): one plain HTTP/1.1 exchange over node:net per call.
 */
import { connect } from 'node:net';
import { invocationContext, invoke, loadHandler } from './ric-loader.mjs';

const [host, port] = String(process.env.AWS_LAMBDA_RUNTIME_API).split(':');
const api = '/2018-06-01/runtime';

/**
 * One request to the runtime API, on a connection of its own; the API answers with a Content-Length.
 * @param {'GET' | 'POST'} method @param {string} path @param {string} [body] @param {Record<string, string>} [extra]
 * @returns {Promise<{ headers: Record<string, string>, body: string }>}
 */
function exchange(method, path, body = '', extra = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host);
    /** @type {Buffer[]} */
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      // No answer at all: the runtime API is gone, so is this sandbox.
      if (text === '') process.exit(0);
      const split = text.indexOf('\r\n\r\n');
      /** @type {Record<string, string>} */
      const headers = {};
      for (const line of text.slice(0, split).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ headers, body: text.slice(split + 4) });
    });
    const head = Object.entries({ ...extra, 'content-length': Buffer.byteLength(body), connection: 'close' })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    // Written, not ended: a long-polled /next must not look like a client that went away. The API closes the
    // connection once it has answered (connection: close).
    socket.write(`${method} ${api}${path} HTTP/1.1\r\nhost: ${host}\r\n${head}\r\n${body}`);
  });
}

/** @param {string} path @param {unknown} body @param {Record<string, string>} [headers] */
const post = (path, body, headers = {}) => exchange('POST', path, JSON.stringify(body), headers);

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
  const next = await exchange('GET', '/invocation/next');
  const awsRequestId = String(next.headers['lambda-runtime-aws-request-id']);
  const event = JSON.parse(next.body);
  const context = invocationContext({
    awsRequestId,
    invokedFunctionArn: String(next.headers['lambda-runtime-invoked-function-arn']),
    deadlineMs: Number(next.headers['lambda-runtime-deadline-ms']),
  });
  try {
    const result = await invoke(handler, event, context);
    await post(`/invocation/${awsRequestId}/response`, result);
  } catch (error) {
    await post(`/invocation/${awsRequestId}/error`, errorPayload(error));
  }
}
