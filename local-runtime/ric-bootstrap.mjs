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
 *
 * The order of events after a handler settles is the real runtime's (LifecycleManager.succeed/fail): one turn
 * of setImmediate, then the answer is posted synchronously (the native client's done/error block the event loop
 * until the Runtime API has it), then /next is long-polled off the event loop. Code that runs in the process
 * after the answer (an internal extension's export) therefore runs once the caller has the answer. Here a
 * worker thread makes the exchange while this thread waits on it.
 */
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
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

/** The synchronous poster: started now, so its thread is up by the first answer. No preload, no environment. */
const posted = new Int32Array(new SharedArrayBuffer(4));
const poster = new Worker(
  `const { connect } = require('node:net');
  const { parentPort, workerData: { host, port, posted } } = require('node:worker_threads');
  parentPort.on('message', (request) => {
    const socket = connect(port, host);
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      Atomics.store(posted, 0, 1);
      Atomics.notify(posted, 0);
    };
    socket.on('error', done);
    // The API answers and closes (connection: close): the answer is in.
    socket.on('close', done);
    socket.resume();
    socket.write(request);
  });`,
  { eval: true, execArgv: [], env: {}, workerData: { host, port: Number(port), posted } },
);
poster.unref();

/**
 * Posts an answer and returns once the Runtime API has it, blocking this thread meanwhile, as the native
 * client's done/error do.
 * @param {string} path @param {unknown} body
 */
function postBlocking(path, body) {
  const text = JSON.stringify(body);
  Atomics.store(posted, 0, 0);
  poster.postMessage(
    `POST ${api}${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
  Atomics.wait(posted, 0, 0);
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

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
    await nextTurn();
    postBlocking(`/invocation/${awsRequestId}/response`, result);
  } catch (error) {
    await nextTurn();
    postBlocking(`/invocation/${awsRequestId}/error`, errorPayload(error));
  }
}
