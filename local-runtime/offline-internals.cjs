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

const PATCHED_VERSION = '14.8.5';

/** serverless-offline's own worker script, the one each Lambda instance runs. */
const WORKER_HELPER = path.join('lambda', 'handler-runner', 'worker-thread-runner', 'workerThreadHelper.js');
/** The modules the patches import from serverless-offline's src/. */
const INTERNAL_MODULES = {
  lambdaFunction: path.join('lambda', 'LambdaFunction.js'),
  lambdaFunctionPool: path.join('lambda', 'LambdaFunctionPool.js'),
  httpServer: path.join('events', 'http', 'HttpServer.js'),
  workerThreadRunner: path.join('lambda', 'handler-runner', 'worker-thread-runner', 'WorkerThreadRunner.js'),
};

/** The installed serverless-offline's root folder (its exports map hides package.json and src/). */
function offlineRoot() {
  return path.resolve(path.dirname(require.resolve('serverless-offline')), '..');
}

/**
 * What an instance posts to the port serverless-offline sends with each invocation ({ event, context, port }):
 * its WorkerThreadRunner reads `{ type, value }` since 14.8.5 (the bare value, or an Error, before).
 */
const OFFLINE_ANSWER = {
  /** @param {unknown} value */
  result: (value) => ({ type: 'result', value }),
  /** @param {unknown} error */
  error: (error) => ({ type: 'error', value: error }),
};

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

/** The members the patches replace or call, per class: a name, or `get name` for a getter. */
const PATCHED_MEMBERS = {
  LambdaFunction: ['get status', 'runHandler', 'cleanup', 'setEvent', 'setClientContext'],
  LambdaFunctionPool: ['get'],
  HttpServer: ['start', 'create404Route', 'getServer'],
};

/**
 * What is missing of PATCHED_MEMBERS in the loaded classes, in words.
 * @param {Partial<OfflineClasses>} classes
 * @returns {string[]}
 */
function missingMembers(classes) {
  return Object.entries(PATCHED_MEMBERS).flatMap(([className, members]) =>
    members.flatMap((member) => {
      const prototype = /** @type {any} */ (classes)[className]?.prototype ?? {};
      const [kind, name] = member.startsWith('get ') ? ['getter', member.slice(4)] : ['method', member];
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
      const present =
        kind === 'getter' ? typeof descriptor?.get === 'function' : typeof prototype[name] === 'function';
      return present
        ? []
        : [`${className}.prototype.${name} is not a ${kind === 'getter' ? 'getter' : 'function'}`];
    }),
  );
}

/**
 * Checks the members the patches replace, once the classes are loaded.
 * @param {Partial<OfflineClasses>} classes
 * @param {string} found the installed version, for the message
 */
function assertPoolShape(classes, found) {
  const problems = missingMembers(classes);
  if (problems.length > 0) throw new PatchMismatchError(found, problems);
}

/**
 * Everything the local runtime relies on in the serverless-offline at `root`, checked: its files, the members
 * of its classes, and the messages its WorkerThreadRunner exchanges with an instance (what it posts per
 * invocation, and how it reads the answer the instance posts back: OFFLINE_ANSWER). Loads that version's
 * modules into this process (their own dependencies must resolve from `root`), so it is for the upgrade
 * command and tests, not for a running offline process.
 * @param {string} root
 * @returns {Promise<Array<{ kind: 'file' | 'member' | 'message', what: string, problem?: string }>>}
 */
async function internalsReport(root) {
  /** @type {Array<{ kind: 'file' | 'member' | 'message', what: string, problem?: string }>} */
  const findings = [];
  for (const relative of [WORKER_HELPER, ...Object.values(INTERNAL_MODULES)]) {
    const present = existsSync(path.join(root, 'src', relative));
    findings.push({ kind: 'file', what: `src/${relative}`, ...(present ? {} : { problem: 'missing' }) });
  }
  /** @type {Record<string, any>} */
  const classes = {};
  for (const [className, name] of /** @type {const} */ ([
    ['LambdaFunction', 'lambdaFunction'],
    ['LambdaFunctionPool', 'lambdaFunctionPool'],
    ['HttpServer', 'httpServer'],
  ])) {
    try {
      classes[className] = (await importOfflineModule(root, name)).default;
    } catch (error) {
      findings.push({ kind: 'member', what: className, problem: `cannot be loaded (${errorCode(error)})` });
    }
  }
  const missing = missingMembers(classes);
  for (const [className, members] of Object.entries(PATCHED_MEMBERS)) {
    if (!classes[className]) continue;
    for (const member of members) {
      const name = member.replace(/^get /, '');
      const problem = missing.find((line) => line.startsWith(`${className}.prototype.${name} `));
      findings.push({
        kind: 'member',
        what: `${className}.prototype.${name}`,
        ...(problem ? { problem } : {}),
      });
    }
  }
  findings.push(...(await messageFindings(root)));
  return findings;
}

/**
 * Runs that version's WorkerThreadRunner against a stand-in Worker: what it posts per invocation, and whether
 * it reads OFFLINE_ANSWER's result and error as they are meant.
 * @param {string} root
 */
async function messageFindings(root) {
  const workerThreads = require('node:worker_threads');
  const { syncBuiltinESMExports } = require('node:module');
  /** @type {Array<(message: any) => void>} */
  const answerers = [];
  /** @type {string[][]} */
  const posted = [];
  class StandInWorker {
    on() {
      return this;
    }
    terminate() {
      return Promise.resolve(0);
    }
    /** @param {any} message */
    postMessage(message) {
      posted.push(Object.keys(message ?? {}).sort());
      answerers.shift()?.(message);
    }
  }
  const OriginalWorker = workerThreads.Worker;
  /** @type {Array<{ kind: 'message', what: string, problem?: string }>} */
  const findings = [];
  try {
    /** @type {any} */ (workerThreads).Worker = StandInWorker;
    syncBuiltinESMExports();
    const { default: WorkerThreadRunner } = await importOfflineModule(root, 'workerThreadRunner');
    const runner = new WorkerThreadRunner(
      { codeDir: root, functionKey: 'probe', handler: 'probe.handler', servicePath: root, timeout: 1000 },
      {},
    );
    const within = (/** @type {Promise<unknown>} */ promise) =>
      Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 1 s')), 1_000).unref()),
      ]);
    answerers.push((message) => message.port?.postMessage(OFFLINE_ANSWER.result({ probe: 'result' })));
    const result = await within(runner.run({ probe: 'event' }, { probe: 'context' })).catch((error) => error);
    const expectedKeys = ['context', 'event', 'port'];
    findings.push({
      kind: 'message',
      what: 'an invocation, as WorkerThreadRunner posts it to the instance: { context, event, port }',
      ...(JSON.stringify(posted[0]) === JSON.stringify(expectedKeys)
        ? {}
        : { problem: `now { ${posted[0]?.join(', ')} }` }),
    });
    findings.push({
      kind: 'message',
      what: "an instance's answer, OFFLINE_ANSWER.result(value), read as the invocation's result",
      ...(JSON.stringify(result) === JSON.stringify({ probe: 'result' })
        ? {}
        : {
            problem: `read as ${result instanceof Error ? `an error (${result.message})` : JSON.stringify(result)}`,
          }),
    });
    answerers.push((message) => message.port?.postMessage(OFFLINE_ANSWER.error(new Error('probe error'))));
    const failed = await within(runner.run({ probe: 'event' }, { probe: 'context' })).then(
      (value) => ({ resolved: value }),
      (error) => error,
    );
    findings.push({
      kind: 'message',
      what: "an instance's failure, OFFLINE_ANSWER.error(error), read as the invocation's error",
      ...(failed instanceof Error && failed.message === 'probe error'
        ? {}
        : {
            problem: `read as ${failed instanceof Error ? `the error "${failed.message}"` : JSON.stringify(failed)}`,
          }),
    });
  } catch (error) {
    findings.push({
      kind: 'message',
      what: 'WorkerThreadRunner',
      problem: `cannot be run (${errorCode(error)})`,
    });
  } finally {
    /** @type {any} */ (workerThreads).Worker = OriginalWorker;
    syncBuiltinESMExports();
  }
  return findings;
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
  internalsReport,
  OFFLINE_ANSWER,
  PATCHED_VERSION,
  WORKER_HELPER,
  INTERNAL_MODULES,
  offlineRoot,
  assertPatchable,
  assertPoolShape,
  importOfflineModule,
};
