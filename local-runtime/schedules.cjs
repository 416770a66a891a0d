'use strict';
/**
 * serverless-offline's scheduler knows minutes only. Each function in
 * `custom.localRuntime.scheduleEverySeconds` is invoked every so many seconds through the Lambda invoke API
 * (so it is traced and logged like any invocation), one run at a time, with the event EventBridge sends.
 */

/**
 * What EventBridge sends a function on a schedule (also what the deployed-contract tier sends the reaper).
 * @param {string} ruleName
 * @param {{ region?: string, account?: string }} [where]
 */
function scheduledEvent(
  ruleName,
  { region = process.env.AWS_REGION ?? 'us-east-1', account = '000000000000' } = {},
) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account,
    time: new Date().toISOString(),
    region,
    resources: [`arn:aws:events:${region}:${account}:rule/${ruleName}`],
    detail: {},
  };
}

/**
 * Starts each schedule; answers a line per schedule started.
 * @param {Record<string, number | string>} everySeconds function key → seconds between runs
 * @param {(functionKey: string, event: unknown) => Promise<string | undefined>} invoke answers a failure, if any
 * @param {(line: string) => void} warn
 * @returns {string[]}
 */
function startSchedules(everySeconds, invoke, warn) {
  const started = [];
  for (const [functionKey, seconds] of Object.entries(everySeconds)) {
    const interval = Number(seconds) * 1000;
    if (!(interval > 0)) continue;
    const run = async () => {
      const failure = await invoke(functionKey, scheduledEvent(functionKey));
      if (failure) warn(`scheduled ${functionKey} ${failure}`);
      setTimeout(run, interval).unref();
    };
    setTimeout(run, interval).unref();
    started.push(`${functionKey} runs every ${interval / 1000} s (custom.localRuntime.scheduleEverySeconds)`);
  }
  return started;
}

module.exports = { scheduledEvent, startSchedules };
