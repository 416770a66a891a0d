// @ts-check
/**
 * How the Node 24 Lambda runtime loads and calls a handler, for every place here that must behave as it does:
 * the offline worker (lambda-worker.mjs), the deployed-contract tier and the deployed cold-start bench.
 *
 * Followed line for line from the runtime interface client the nodejs24.x runtime runs, npm `aws-lambda-ric`
 * 4.0.2 (its dist/function/{user-function-loader,module-loader,dynamic-imports,handler-resolver,
 * callback-deprecation}.js and dist/runtime/buffered-invoke-processor.js, bundled into its index.mjs). That
 * package cannot be used as a library: its only entry point starts the runtime loop at import, and it builds
 * a native client (curl, aws-lambda-cpp) when installed. What matters, and what serverless-offline's older
 * copy of the loader does differently:
 * - the handler file is loaded with `import()`, even a CommonJS one, trying the extensions '', .js, .mjs, .cjs
 *   (only an unresolvable name falls back to require.resolve + require);
 * - a handler that takes three or more parameters (a callback handler) is refused at init with
 *   Runtime.CallbackHandlerDeprecated, unless it is a response-streaming handler;
 * - the handler is called with (event, context) only, and its answer is awaited.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import runtimes from './runtimes.cjs';

export const { executionEnvFor } = runtimes;

export const RIC_VERSION = '4.0.2';

const cjsRequire = createRequire(import.meta.url);

/** The runtime's error types: their names are what Lambda reports as the errorType of a failed init. */
class RuntimeError extends Error {
  /** @param {string} name @param {string} message @param {unknown} [cause] */
  constructor(name, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
  }
}

export const CALLBACK_ERROR_NODEJS22 =
  'ERROR: AWS Lambda does not support callback-based function handlers when using Node.js 22 with Managed Instances. To use Managed Instances, modify this function to use a supported handler signature. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';
export const CALLBACK_ERROR_NODEJS24_ABOVE =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

/** @param {string} fullHandlerString */
function parseHandlerString(fullHandlerString) {
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (match?.length !== 3) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  return {
    moduleRoot: moduleRoot.replace(/\/$/, ''),
    moduleName: match[1] ?? '',
    handlerName: match[2] ?? '',
  };
}

/** @param {string} appRoot @param {string} moduleRoot @param {string} moduleName */
async function loadModule(appRoot, moduleRoot, moduleName) {
  const fullPathWithoutExtension = path.resolve(appRoot, moduleRoot, moduleName);
  try {
    for (const extension of ['', '.js', '.mjs', '.cjs']) {
      const file = `${fullPathWithoutExtension}${extension}`;
      if (existsSync(file)) return await import(file);
    }
    const resolvedPath = cjsRequire.resolve(moduleName, { paths: [appRoot, path.join(appRoot, moduleRoot)] });
    return cjsRequire(resolvedPath);
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new RuntimeError('Runtime.UserCodeSyntaxError', String(error), error);
    if (/** @type {{ code?: string }} */ (error)?.code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', String(error), error);
    }
    throw error;
  }
}

/** @param {string} handlerName @param {any} module */
function findIn(handlerName, module) {
  return handlerName
    .split('.')
    .reduce((nested, key) => (nested && typeof nested === 'object' ? nested[key] : undefined), module);
}

/** @param {any} module @param {string} handlerName @param {string} fullHandlerString */
function resolveHandler(module, handlerName, fullHandlerString) {
  let handler = findIn(handlerName, module);
  if (!handler && typeof module === 'object' && module !== null && 'default' in module) {
    handler = findIn(handlerName, module.default);
  }
  if (!handler)
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandlerString} is undefined or not exported`);
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandlerString} is not a function`);
  }
  return handler;
}

/**
 * The init phase: loads the module `handlerString` ("dist/functions/fraud/handler.handler") names under
 * `taskRoot` and answers its handler, refusing a callback handler as the runtime does. Throws the runtime's
 * error (its `name` is the errorType Lambda reports).
 * @param {string} taskRoot
 * @param {string} handlerString
 * @returns {Promise<(event: unknown, context: object) => unknown>}
 */
export async function loadHandler(taskRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw new RuntimeError(
      'Runtime.MalformedHandlerName',
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const { moduleRoot, moduleName, handlerName } = parseHandlerString(handlerString);
  const module = await loadModule(taskRoot, moduleRoot, moduleName);
  const handler = resolveHandler(module, handlerName, handlerString);
  const streaming = handler[HANDLER_STREAMING] === STREAM_RESPONSE;
  if (handler.length >= 3 && !streaming) {
    const nodejs22 = process.env.AWS_EXECUTION_ENV === executionEnvFor('nodejs22.x');
    throw new RuntimeError(
      'Runtime.CallbackHandlerDeprecated',
      nodejs22 ? CALLBACK_ERROR_NODEJS22 : CALLBACK_ERROR_NODEJS24_ABOVE,
    );
  }
  return handler;
}

/**
 * The context object the runtime builds for one invocation (its ContextBuilder): the invoke's fields and
 * getRemainingTimeInMillis from its deadline; no callbackWaitsForEmptyEventLoop, done, succeed or fail.
 * @param {{ awsRequestId: string, invokedFunctionArn: string, deadlineMs: number, clientContext?: unknown, identity?: unknown }} invoke
 */
export function invocationContext({ awsRequestId, invokedFunctionArn, deadlineMs, clientContext, identity }) {
  return {
    clientContext,
    identity,
    invokedFunctionArn,
    awsRequestId,
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
  };
}

/**
 * One buffered invocation (BufferedInvokeProcessor): the handler's answer, awaited.
 * @param {(event: unknown, context: object) => unknown} handler
 * @param {unknown} event
 * @param {object} context
 */
export async function invoke(handler, event, context) {
  return await handler(event, context);
}
