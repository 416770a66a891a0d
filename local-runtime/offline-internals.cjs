'use strict';
/**
 * The serverless-offline internals the local runtime touches, and the check that they are the ones it was
 * written for. What is patched, why, and what upstream change would let each patch go:
 * docs/serverless-offline-patches.md.
 *
 * The patches were written against exactly PATCHED_VERSION (package.json pins it). Before patching,
 * assertPatchable checks the version and the shape of every member it touches, and stops the start with a
 * message naming the expected version: never a start that silently runs untraced or unbounded.
 */
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const PATCHED_VERSION = '14.8.2';

/** serverless-offline's own worker script, the one each Lambda instance runs. */
const WORKER_HELPER = path.join('lambda', 'handler-runner', 'worker-thread-runner', 'workerThreadHelper.js');
/** The modules lambda-worker.mjs and the pool patch import from serverless-offline's src/. */
const INTERNAL_MODULES = {
  lambdaFunction: path.join('lambda', 'LambdaFunction.js'),
  lambdaFunctionPool: path.join('lambda', 'LambdaFunctionPool.js'),
  inProcessRunner: path.join('lambda', 'handler-runner', 'in-process-runner', 'index.js'),
  httpServer: path.join('events', 'http', 'HttpServer.js'),
  userFunction: path.join(
    'lambda',
    'handler-runner',
    'in-process-runner',
    'aws-lambda-ric',
    'UserFunction.js',
  ),
};

/** The installed serverless-offline's root folder (its exports map hides package.json and src/). */
function offlineRoot() {
  return path.resolve(path.dirname(require.resolve('serverless-offline')), '..');
}

class PatchMismatchError extends Error {
  /**
   * @param {string} found
   * @param {string[]} problems
   */
  constructor(found, problems) {
    super(
      `serverless-offline ${found} is installed, but local-runtime/ was written against ` +
        `serverless-offline ${PATCHED_VERSION}:\n  - ${problems.join('\n  - ')}\n` +
        `Install the pinned version (npm ci), or update the patches for ${found} ` +
        '(see docs/serverless-offline-patches.md). Not starting: the functions would run untraced or unbounded.',
    );
    this.name = 'PatchMismatchError';
  }
}

/**
 * Stops with a PatchMismatchError unless `root` holds the serverless-offline the patches were written for;
 * answers its version.
 * @param {string} [root]
 * @returns {string}
 */
function assertPatchable(root = offlineRoot()) {
  /** @type {string[]} */
  const problems = [];
  let found = 'of an unknown version';
  try {
    found = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  } catch (error) {
    problems.push(`its package.json is unreadable (${errorCode(error)})`);
  }
  if (found !== PATCHED_VERSION && problems.length === 0) problems.push(`the version is ${found}`);
  for (const relative of [WORKER_HELPER, ...Object.values(INTERNAL_MODULES)]) {
    if (!existsSync(path.join(root, 'src', relative))) problems.push(`src/${relative} is missing`);
  }
  if (problems.length > 0) throw new PatchMismatchError(found, problems);
  return found;
}

/**
 * serverless-offline's LambdaFunction (one instance of a function) and LambdaFunctionPool classes, and the
 * HttpServer of its API.
 * @typedef {{ LambdaFunction: any, LambdaFunctionPool: any, HttpServer?: any }} OfflineClasses
 */

/**
 * Checks the members the pool patch replaces, once the classes are loaded.
 * @param {Partial<OfflineClasses>} classes
 * @param {string} found the installed version, for the message
 */
function assertPoolShape({ LambdaFunction, LambdaFunctionPool, HttpServer }, found) {
  const problems = [];
  const status = Object.getOwnPropertyDescriptor(LambdaFunction?.prototype ?? {}, 'status');
  if (typeof status?.get !== 'function') problems.push('LambdaFunction has no `status` getter');
  for (const method of ['runHandler', 'cleanup', 'setEvent', 'setClientContext']) {
    if (typeof LambdaFunction?.prototype?.[method] !== 'function') {
      problems.push(`LambdaFunction.prototype.${method} is not a function`);
    }
  }
  if (typeof LambdaFunctionPool?.prototype?.get !== 'function') {
    problems.push('LambdaFunctionPool.prototype.get is not a function');
  }
  for (const method of ['start', 'create404Route', 'getServer']) {
    if (typeof HttpServer?.prototype?.[method] !== 'function') {
      problems.push(`HttpServer.prototype.${method} is not a function`);
    }
  }
  if (problems.length > 0) throw new PatchMismatchError(found, problems);
}

/**
 * @param {string} root
 * @param {keyof typeof INTERNAL_MODULES} name
 * @returns {Promise<any>}
 */
async function importOfflineModule(root, name) {
  return import(pathToFileURL(path.join(root, 'src', INTERNAL_MODULES[name])).href);
}

/** @param {unknown} error */
function errorCode(error) {
  const { code, message } = /** @type {{ code?: string, message?: string }} */ (error ?? {});
  return code ?? message ?? String(error);
}

module.exports = {
  PATCHED_VERSION,
  WORKER_HELPER,
  INTERNAL_MODULES,
  offlineRoot,
  assertPatchable,
  assertPoolShape,
  importOfflineModule,
};
