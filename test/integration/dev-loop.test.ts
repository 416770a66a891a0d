import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../scripts/lib/dynamodb-local';
import { eventually } from '../../scripts/lib/eventually';
import { MANIFESTS } from '../../scripts/lib/manifests';
import { OtlpLogsReceiver, OtlpReceiver, SPAN_KIND } from '../../scripts/lib/otlp-receivers';
import { freePort } from '../../scripts/lib/ports';
import { projectCopy, runStart } from '../support/npm-start';
import { SEED_PAYLOAD } from '../support/offline-stack';
import { COMPLETED_ORDER_INVOCATIONS, describeSpans, explaining, isWholeTrace } from '../support/traces';

/** The ports one `npm start` needs, and the DynamoDB it shares with the other tests of this file. */
async function startEnv(dynamo: DynamoDbLocal): Promise<{ env: NodeJS.ProcessEnv; api: string }> {
  const httpPort = await freePort();
  return {
    api: `http://127.0.0.1:${httpPort}`,
    env: {
      HTTP_PORT: String(httpPort),
      OFFLINE_LAMBDA_PORT: String(await freePort()),
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      // No scheduled reaper runs: every span and line these tests see comes from their own requests.
      REAPER_INTERVAL_SECONDS: '0',
    },
  };
}

const placeOrder = async (api: string) => {
  const response = await fetch(`${api}/api/order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(SEED_PAYLOAD),
  });
  assert.equal(response.status, 201);
  return (await response.json()) as { order_id: string; trace_id: string };
};

describe('the developer loop', () => {
  let dynamo: DynamoDbLocal;
  before(async () => {
    dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  });
  after(async () => {
    await dynamo?.stop();
  });

  it('LOG_FORMAT=pretty: readable lines in the terminal, the same structured records to Loki, prewarmed instances', async () => {
    const otlp = await new OtlpReceiver().start();
    const loki = await new OtlpLogsReceiver().start();
    const { env, api } = await startEnv(dynamo);
    const start = runStart({
      ...env,
      LOG_FORMAT: 'pretty',
      OFFLINE_PREWARM: 'true',
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOKI_URL: loki.url,
    });
    try {
      await start.ready();
      assert.match(
        start.output(),
        new RegExp(`Lambda instances ready: ${MANIFESTS.length} of ${MANIFESTS.length} functions prewarmed`),
      );
      assert.match(
        start.output(),
        /Telemetry {4}traces → http:\/\/127\.0\.0\.1:\d+ answers, logs → http:\/\/127\.0\.0\.1:\d+ answers/,
      );
      assert.equal(otlp.spans.length, 0, `prewarming made no spans, saw:\n${describeSpans(otlp.spans)}`);
      assert.equal(loki.records.length, 0, 'prewarming logged nothing');

      const { order_id: orderId, trace_id: traceId } = await placeOrder(api);
      const shortTrace = traceId.slice(0, 8);
      const completed = new RegExp(
        `^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: order-service +\\| order ${orderId} completed trace=${shortTrace} \\{"order_id":"${orderId}"\\}$`,
        'm',
      );
      await eventually(() => (completed.test(start.output()) ? true : undefined), {
        what: `a pretty line ${completed}`,
        seen: start.output,
      });
      const functionLines = start
        .output()
        .split('\n')
        .filter((line) => line.includes('"service_name"'));
      assert.deepEqual(functionLines, [], 'no raw JSON function lines in pretty mode');
      assert.doesNotMatch(start.output(), /RequestId: .* Duration: /, 'serverless-offline banners hidden');

      // Loki's records are what they are in JSON mode: body = the message, fields as attributes.
      const record = await eventually(
        () =>
          loki.records.find(
            (candidate) => candidate.traceId === traceId && candidate.body === `order ${orderId} completed`,
          ),
        {
          what: `the log record "order ${orderId} completed" at Loki`,
          seen: () => `${loki.records.length} records`,
        },
      );
      assert.equal(record.serviceName, 'order-service');
      assert.equal(record.attributes.order_id, orderId);

      // Each instance was started before the order, as provisioned concurrency does: no cold start in it.
      const spans = await eventually(
        () => (isWholeTrace(otlp.trace(traceId)) ? otlp.trace(traceId) : undefined),
        {
          what: `the whole trace ${traceId}`,
          seen: () => describeSpans(otlp.trace(traceId)),
        },
      );
      const invocations = spans.filter(
        (span) => span.kind === SPAN_KIND.SERVER && 'faas.coldstart' in span.attributes,
      );
      await explaining(
        () => describeSpans(spans),
        () => {
          assert.equal(
            invocations.length,
            COMPLETED_ORDER_INVOCATIONS,
            'one invocation per service of the order, and the two commits',
          );
          for (const span of invocations)
            assert.equal(span.attributes['faas.coldstart'], false, span.serviceName);
        },
      );
    } finally {
      start.child.kill('SIGINT');
      assert.equal(await start.exited, 0);
      await otlp.stop();
      await loki.stop();
    }
  });

  it('npm run dev: an edited handler answers the next request, with no restart', async () => {
    // A copy of the project, so the edit touches nothing of the real one; node_modules is shared.
    const root = projectCopy();
    const { env, api } = await startEnv(dynamo);
    const dev = runStart({ ...env, LOG_FORMAT: 'json' }, { root, args: ['--watch'] });
    const missing = '00000000-0000-4000-8000-00000000d0e5';
    const read = async () => {
      const response = await fetch(`${api}/api/order/${missing}`);
      return { status: response.status, message: ((await response.json()) as { message?: string }).message };
    };
    try {
      await dev.ready();
      assert.match(dev.output(), /Reload {7}on/);
      // On the defaults, as deployed with no provisioned concurrency: no instance before the first request.
      assert.match(dev.output(), /Lambda instances ready: started on first use, as deployed/);
      const placed = await placeOrder(api);
      assert.deepEqual(await read(), { status: 404, message: `Order ${missing} not found` });

      const service = path.join(root, 'functions', 'order', 'service.ts');
      writeFileSync(service, readFileSync(service, 'utf8').replace('} not found`', '} was never placed`'));
      let last: unknown;
      await eventually(
        async () => {
          last = await read();
          return (last as { message?: string }).message === `Order ${missing} was never placed`
            ? true
            : undefined;
        },
        {
          what: 'the edited message from GET /api/order/{id}',
          seen: () => `${JSON.stringify(last)}\n${dev.output()}`,
          timeoutMs: 60_000,
        },
      );
      assert.match(dev.output(), /dist\/functions changed: \d+ instance\(s\) reset/);
      // The same API and DynamoDB kept serving: one start banner, and the order placed before the edit reads back.
      assert.equal(dev.output().split('Orders API').length - 1, 1);
      const before = await fetch(`${api}/api/order/${placed.order_id}`);
      assert.equal(before.status, 200);
    } finally {
      dev.child.kill('SIGINT');
      assert.equal(await dev.exited, 0);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
