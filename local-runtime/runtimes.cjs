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
 * Whether `runtime` (e.g. "nodejs24.x") is one whose runtime interface client is aws-lambda-ric 4.x.
 * @param {string} runtime
 */
function loadsWithImport(runtime) {
  const major = /^nodejs(\d+)\.x$/.exec(String(runtime))?.[1];
  return major !== undefined && Number(major) >= 24;
}

module.exports = { executionEnvFor, loadsWithImport };
