'use strict';
/** Whether the places the functions send traces and logs answer right now: one line at start. */

/** The line's first word: `npm start` reads the line that starts with it. */
const TELEMETRY_STATUS = 'Telemetry:';

const isOn = (/** @type {unknown} */ value) => value === true || value === 'true' || value === '1';

/**
 * @param {Record<string, string | undefined>} env the functions' environment (serverless.yml's provider.environment)
 * @returns {Promise<string>}
 */
async function telemetryStatus(env) {
  if (isOn(env.OTEL_SDK_DISABLED)) return `${TELEMETRY_STATUS} off (OTEL_SDK_DISABLED=true)`;
  /** @param {URL} url */
  const answers = async (url) => {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return 'answers';
    } catch {
      return 'not answering';
    }
  };
  const targets = /** @type {Array<[string, string, string]>} */ (
    [
      ['traces', env.OTEL_EXPORTER_OTLP_ENDPOINT, '/v1/traces'],
      ['logs', env.LOKI_URL, '/ready'],
    ].filter(([, url]) => url)
  );
  const states = await Promise.all(targets.map(([, url, probe]) => answers(new URL(probe, url))));
  const parts = targets.map(([what, url], index) => `${what} → ${url} ${states[index]}`);
  const hint = states.includes('not answering') ? ' (start them: docker compose up -d observability)' : '';
  return `${TELEMETRY_STATUS} ${parts.join(', ') || 'no endpoints set'}${hint}`;
}

module.exports = { TELEMETRY_STATUS, telemetryStatus, isOn };
