'use strict';
/**
 * What a package for a deployed stage may not take from the machine that builds it:
 * - its telemetry endpoints come from the stage's params (`--param otlpEndpoint=https://…`), and a package
 *   that would export to loopback or localhost (or to nothing) is refused, naming the setting;
 * - the functions' settings that read the shell for the local stage (`${env:…}` in `provider:` and in the
 *   manifests) are refused while set in the shell, so a developer's LOG_LEVEL or CHAOS never ships.
 */
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const path = require('node:path');

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)$/i;

/**
 * Whether `url` points at the machine it runs on.
 * @param {string} url
 */
function isLoopback(url) {
  try {
    return LOOPBACK_HOST.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * Throws unless a package for `stage` exports to real endpoints. The local stage runs on the developer's
 * machine, where loopback is right.
 * @param {string} stage
 * @param {Record<string, unknown>} environment the provider's environment, resolved
 */
function assertDeployableTelemetry(stage, environment) {
  if (stage === 'local') return;
  const problems = [];
  const otlp = String(environment.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
  if (otlp === '') problems.push('param otlpEndpoint is not set: the stage would export its traces nowhere');
  else if (isLoopback(otlp))
    problems.push(`param otlpEndpoint is ${otlp}, which is this machine, not the stage's`);
  const loki = String(environment.LOKI_URL ?? '');
  if (loki !== '' && isLoopback(loki))
    problems.push(`param lokiUrl is ${loki}, which is this machine, not the stage's`);
  if (problems.length === 0) return;
  throw new Error(
    `Not packaging stage "${stage}": ${problems.join('; ')}. ` +
      'Give the endpoints of the stage, e.g. `serverless package --stage prod --param otlpEndpoint=https://otlp.example.com` ' +
      '(lokiUrl may stay empty: logs then go to CloudWatch).',
  );
}

const SHELL_VARIABLE = /\$\{env:(\w+)/g;
/** Where the deploy itself is told where to go: read from the shell on purpose. */
const DEPLOY_VARIABLES = new Set(['AWS_REGION']);

/**
 * The shell variables a function's settings read: in serverless.yml's `provider:` block and in the manifests.
 * @param {string} projectRoot
 * @returns {string[]}
 */
function functionSettingsFromShell(projectRoot) {
  const serverlessYml = readFileSync(path.join(projectRoot, 'serverless.yml'), 'utf8');
  const provider = /^provider:\n([\s\S]*?)(?=^\S)/m.exec(serverlessYml)?.[1] ?? '';
  const functionsDir = path.join(projectRoot, 'functions');
  const manifests = readdirSync(functionsDir)
    .map((name) => path.join(functionsDir, name, 'function.yml'))
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file, 'utf8'));
  const names = [provider, ...manifests].flatMap((text) =>
    [...text.matchAll(SHELL_VARIABLE)].map((m) => String(m[1])),
  );
  return [...new Set(names)].filter((name) => !DEPLOY_VARIABLES.has(name)).sort();
}

/**
 * Throws when a package for `stage` would take a function setting from this shell.
 * @param {string} stage
 * @param {string} projectRoot
 * @param {NodeJS.ProcessEnv} [env]
 */
function assertNothingFromTheShell(stage, projectRoot, env = process.env) {
  if (stage === 'local') return;
  const set = functionSettingsFromShell(projectRoot).filter((name) => env[name] !== undefined);
  if (set.length === 0) return;
  throw new Error(
    `Not packaging stage "${stage}": ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set in this shell, and ` +
      'would go into the package. They configure the local stage; unset them for a deploy, and give the stage ' +
      'its own values as params.',
  );
}

module.exports = {
  assertDeployableTelemetry,
  assertNothingFromTheShell,
  functionSettingsFromShell,
  isLoopback,
};
