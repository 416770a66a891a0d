'use strict';
/** What a Lambda runtime identifier ("nodejs24.x") says about how that runtime runs a function. */

/**
 * The value of AWS_EXECUTION_ENV in a Lambda runtime, e.g. "AWS_Lambda_nodejs24.x".
 * @param {string} runtime
 */
function executionEnvFor(runtime) {
  return `AWS_Lambda_${runtime}`;
}

/**
 * The Node major a Lambda runtime runs: "nodejs24.x" → 24; undefined for a runtime that is not Node's.
 * @param {string} runtime
 */
function nodeMajorOf(runtime) {
  const major = /^nodejs(\d+)\.x$/.exec(String(runtime))?.[1];
  return major === undefined ? undefined : Number(major);
}

/**
 * Refuses to run the functions offline on a Node major other than their runtime's: worker threads run on the
 * offline process's own Node, so they would behave as another runtime does (Node 20 refuses the instances'
 * options outright, and every order would get an empty 502).
 * @param {string[]} runtimes every function's runtime
 * @param {string} running process.version
 */
function assertRunsOnRuntimeNode(runtimes, running = process.version) {
  const major = Number(running.replace(/^v/, '').split('.')[0]);
  const other = runtimes.find((runtime) => {
    const wanted = nodeMajorOf(runtime);
    return wanted !== undefined && wanted !== major;
  });
  if (other === undefined) return;
  throw new Error(
    `serverless offline is running on Node ${running}, but the functions run on ${other} (Node ${nodeMajorOf(other)}): ` +
      `offline they would not behave as Lambda runs them. Run it on Node ${nodeMajorOf(other)} ` +
      '(`npm start` and `npm run offline` fetch the version .nvmrc names).',
  );
}

/**
 * The V8 heap limits a Node runtime gives a function of `memorySizeMb`, as worker_threads resourceLimits.
 * Lambda's bootstrap starts Node with `--max-semi-space-size=<memory/10/2>` and
 * `--max-old-space-size=<memory - memory/10>`; V8's young generation is three semi-spaces (two, and the
 * space for large new objects). Without them an instance offline gets V8's defaults, sized for a machine's
 * memory: a heap that may grow to gigabytes, which V8 lets run up to four times what is live before it
 * collects, where the function's own instance would have collected (or run out of memory) at its 256 MB.
 * @param {number} memorySizeMb AWS_LAMBDA_FUNCTION_MEMORY_SIZE
 * @returns {{ maxOldGenerationSizeMb: number, maxYoungGenerationSizeMb: number } | undefined}
 */
function lambdaHeapLimits(memorySizeMb) {
  if (!Number.isInteger(memorySizeMb) || memorySizeMb < 128) return undefined;
  const { semiSpace, oldSpace } = heapSizesOf(memorySizeMb);
  return { maxOldGenerationSizeMb: oldSpace, maxYoungGenerationSizeMb: 3 * semiSpace };
}

/** @param {number} memorySizeMb */
function heapSizesOf(memorySizeMb) {
  const newSpace = Math.floor(memorySizeMb / 10);
  return { semiSpace: Math.floor(newSpace / 2), oldSpace: memorySizeMb - newSpace };
}

/**
 * The flags Lambda's Node bootstrap (/var/runtime/bootstrap) starts every function's Node with, before the
 * heap sizes, as AWS's nodejs18.x base image's bootstrap has them (the latest checked). `--expose-gc` is one
 * V8 hashes into a code cache's check: a cache built without it is refused by a Lambda's Node
 * (local-runtime/compile-cache.cjs builds with these).
 */
const LAMBDA_NODE_FLAGS = Object.freeze(['--expose-gc', '--max-http-header-size', '81920']);

/**
 * The arguments Lambda's Node bootstrap gives Node for a function of `memorySizeMb`, before the runtime's
 * script: LAMBDA_NODE_FLAGS and the heap sizes of lambdaHeapLimits.
 * @param {number} memorySizeMb AWS_LAMBDA_FUNCTION_MEMORY_SIZE
 * @returns {string[]}
 */
function lambdaNodeArgs(memorySizeMb) {
  const { semiSpace, oldSpace } = heapSizesOf(memorySizeMb);
  return [...LAMBDA_NODE_FLAGS, `--max-semi-space-size=${semiSpace}`, `--max-old-space-size=${oldSpace}`];
}

module.exports = {
  assertRunsOnRuntimeNode,
  executionEnvFor,
  LAMBDA_NODE_FLAGS,
  lambdaHeapLimits,
  lambdaNodeArgs,
  nodeMajorOf,
};
