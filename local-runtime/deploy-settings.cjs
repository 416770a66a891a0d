'use strict';
/**
 * A deployed stage's telemetry endpoints come from its Serverless params (`--param otlpEndpoint=https://…`),
 * never from the shell, and never point at the machine that packaged it: a package for another stage that
 * would export to loopback or localhost (or to nothing) is refused, naming the setting.
 */

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

module.exports = { assertDeployableTelemetry, isLoopback };
