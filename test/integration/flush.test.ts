import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { OtlpLogsReceiver, OtlpReceiver, SPAN_KIND } from '../../scripts/lib/otlp-receivers';

/**
 * Plays the Lambda runtime for the fraud function: preload tracing, load the handler, invoke it once, and
 * report how many spans the receiver had the moment the handler returned. The batch timer is set to a
 * minute, so only a flush before returning can have delivered the span by then.
 */
const RUNTIME = `
const path = require('node:path');
const { handler } = require(path.join(process.env.LAMBDA_TASK_ROOT, 'dist/functions/fraud/handler.js'));
const event = {
  httpMethod: 'POST', resource: '/fraud/check', path: '/fraud/check',
  headers: { 'content-type': 'application/json' }, isBase64Encoded: false, pathParameters: null,
  body: JSON.stringify({ order_id: '6f1d0c9e-2b1a-4c3d-9e8f-0a1b2c3d4e5f', user_id: '1', amount_cents: 1000, payment_method: 'paypal' }),
};
const context = {
  functionName: 'orders-prod-fraud', awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-prod-fraud',
  getRemainingTimeInMillis: () => 3000,
};
handler(event, context).then(async (result) => {
  const count = await fetch(process.env.RECEIVER_COUNT_URL).then((r) => r.text());
  const logs = await fetch(process.env.LOGS_COUNT_URL).then((r) => r.text());
  process.stdout.write('\\nRESULT ' + JSON.stringify({ status: result.statusCode, spansAtReturn: Number(count), logsAtReturn: Number(logs) }) + '\\n');
  // Offline, the span is still recorded: flushing now must deliver it (proves tracing was on at all).
  const provider = require('@opentelemetry/api').trace.getTracerProvider();
  await (provider.getDelegate?.() ?? provider).forceFlush?.();
  process.exit(0);
});
`;

async function invokeOnce(receiver: OtlpReceiver, logsReceiver: OtlpLogsReceiver, env: NodeJS.ProcessEnv) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--require', path.join(PROJECT_ROOT, 'dist/functions/shared/telemetry/tracing.js'), '-e', RUNTIME],
    {
      cwd: PROJECT_ROOT,
      env: {
        PATH: process.env.PATH,
        _HANDLER: 'dist/functions/fraud/handler.handler',
        LAMBDA_TASK_ROOT: PROJECT_ROOT,
        OTEL_SERVICE_NAME: 'fraud-service',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        OTEL_BLRP_SCHEDULE_DELAY: '60000',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${logsReceiver.url}/v1/logs`,
        RECEIVER_COUNT_URL: `${receiver.url}/count`,
        LOGS_COUNT_URL: `${logsReceiver.url}/count`,
        FRAUD_PERCENTAGE: '0',
        LOKI_URL: '',
        ...env,
      },
      timeout: 30_000,
    },
  );
  const line = stdout.split('\n').find((candidate) => candidate.startsWith('RESULT ')) ?? '';
  return JSON.parse(line.slice('RESULT '.length)) as {
    status: number;
    spansAtReturn: number;
    logsAtReturn: number;
  };
}

describe('span export timing', () => {
  const receiver = new OtlpReceiver();
  const logsReceiver = new OtlpLogsReceiver();
  before(async () => {
    await receiver.start();
    await logsReceiver.start();
  });
  after(async () => {
    await receiver.stop();
    await logsReceiver.stop();
  });

  it('deployed: the SERVER span and the log records are exported before the handler returns', async () => {
    const result = await invokeOnce(receiver, logsReceiver, {});
    assert.equal(result.status, 200);
    assert.equal(result.spansAtReturn, 1);
    assert.ok(result.logsAtReturn >= 2, `${result.logsAtReturn} log records (request, verdict, response)`);
    assert.ok(
      logsReceiver.records.some((record) => String(record.body).startsWith('Transaction passed fraud check')),
    );
    const [span] = receiver.spans;
    assert.equal(span?.kind, SPAN_KIND.SERVER);
    assert.equal(span?.serviceName, 'fraud-service');
    assert.equal(span?.attributes['faas.coldstart'], true);
    assert.equal(span?.attributes['fraud.verdict'], 'legitimate');
  });

  it('offline: the handler returns without waiting for the exporter', async () => {
    const before = receiver.spans.length;
    const logsBefore = logsReceiver.recordCount;
    const result = await invokeOnce(receiver, logsReceiver, { IS_OFFLINE: 'true' });
    assert.equal(result.status, 200);
    assert.equal(result.spansAtReturn, before, 'nothing was exported while the response was pending');
    assert.equal(
      result.logsAtReturn,
      logsBefore,
      'no log record was exported while the response was pending',
    );
    assert.equal(receiver.spans.length, before + 1, 'the span was recorded, and left after the response');
  });
});
