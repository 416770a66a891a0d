import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scheduleEvent } from '../../scripts/deployed/api';
import { createStageTables, type Packaged, packageStage, removeDirs } from '../../scripts/deployed/package';
import type { InvocationOutcome } from '../../scripts/deployed/sandbox';
import { SsmStandIn } from '../../scripts/deployed/ssm-stand-in';
import { DeployedStack } from '../../scripts/deployed/stack';
import { SEED_ORDER } from '../../scripts/dev/order';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../scripts/lib/dynamodb-local';
import { MANIFESTS, ORDER_PATH_SERVICES } from '../../scripts/lib/manifests';
import {
  OtlpEndpoint,
  type ReceivedLogRecord,
  type ReceivedSpan,
  SPAN_KIND,
} from '../../scripts/lib/otlp-receivers';
import { freePort } from '../../scripts/lib/ports';

/**
 * The deployed contract: `serverless package --stage prod`, each function's zip unzipped and run as the
 * nodejs24.x runtime runs it (a fresh Node 24 process per function, the template's own environment but for
 * the random fraud sample, and NODE_OPTIONS, the handler loaded with import() by the runtime's loader), behind
 * the REST API the template declares, with DynamoDB Local for the tables and a stand-in for SSM. Nothing here
 * runs offline code.
 */

const OTLP_HEADERS_PARAMETER = '/orders/prod/otlp-headers';
/** What a hosted stack's OTLP gateway wants, as the SSM parameter holds it (URL-encoded values). */
const OTLP_HEADERS = 'authorization=Basic%20b3JkZXJzOnRva2Vu,x-scope-orgid=orders';

/** What an invocation left exported the moment its answer reached the runtime API. */
interface AtAnswer {
  functionName: string;
  outcome: InvocationOutcome;
  spans: ReceivedSpan[];
  logs: ReceivedLogRecord[];
}

describe('the prod package, run as Lambda runs it', () => {
  let packaged: Packaged;
  let dynamo: DynamoDbLocal;
  let stack: DeployedStack;
  const otlp = new OtlpEndpoint();
  const ssm = new SsmStandIn({ [OTLP_HEADERS_PARAMETER]: OTLP_HEADERS });
  const answers: AtAnswer[] = [];

  before(async () => {
    packaged = await packageStage('prod');
    dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
    await createStageTables(packaged, dynamo.endpoint);
    await otlp.start();
    await ssm.start();
    stack = await new DeployedStack({
      packaged,
      otlpEndpoint: otlp.url,
      dynamodbEndpoint: dynamo.endpoint,
      ssmEndpoint: ssm.url,
      // The template's 5% random fraud sample would fail one run in twenty: the only change to its environment.
      overrides: { FRAUD_PERCENTAGE: '0' },
      onAnswer: (fn, outcome) =>
        answers.push({
          functionName: fn.functionName,
          outcome,
          spans: [...otlp.traces.spans],
          logs: [...otlp.logs.records],
        }),
    }).start();
  });

  after(async () => {
    await stack?.stop();
    await otlp.stop();
    await ssm.stop();
    await dynamo?.stop();
    if (packaged) removeDirs(packaged.dir);
  });

  const sandboxFor = (service: string) => stack.sandboxOf(service);
  const api = () => stack.api;
  const serverSpanOf = (spans: ReceivedSpan[], requestId: string) =>
    spans.find(
      (span) => span.kind === SPAN_KIND.SERVER && span.attributes['faas.invocation_id'] === requestId,
    );

  it('packages every function on nodejs24.x, as its own bundle of at most 2 MB', () => {
    assert.deepEqual(
      packaged.functions.map((fn) => fn.functionName).sort(),
      MANIFESTS.map((manifest) => `orders-prod-${manifest.name}`).sort(),
    );
    for (const fn of packaged.functions) {
      assert.equal(fn.runtime, 'nodejs24.x', fn.functionName);
      assert.ok(fn.zipBytes <= 2 * 1024 * 1024, `${fn.functionName}: ${fn.zipBytes} bytes`);
      assert.match(
        String(fn.variables.NODE_OPTIONS),
        /^--require \/var\/task\/dist\/functions\/shared\/telemetry\/tracing\.js\s*$/,
      );
    }
  });

  let traceId = '';
  let orderId = '';

  it('takes an order through the deployed API: every hop a SERVER span that continues its caller', async () => {
    const response = await fetch(`${api().url}/prod/api/order`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(SEED_ORDER),
    });
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 201, JSON.stringify(body));
    assert.equal(body.status, 'success');
    traceId = String(body.trace_id);
    orderId = String(body.order_id);
    assert.match(traceId, /^[\da-f]{32}$/);

    // Each function flushed before it answered, and api-gateway answered last: nothing is left to wait for.
    const trace = otlp.traces.trace(traceId);
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    for (const service of ORDER_PATH_SERVICES) {
      // Inventory and warehouse are invoked twice: to reserve, and to commit once the order completed.
      const server = trace
        .filter((span) => span.serviceName === service && span.kind === SPAN_KIND.SERVER)
        .sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));
      assert.ok(
        server.length >= 1,
        `${service} has a SERVER span in ${trace.map((s) => `${s.serviceName}:${s.name}`)}`,
      );
      for (const [index, span] of server.entries()) {
        assert.equal(span.name, sandboxFor(service).fn.functionName);
        assert.equal(span.attributes['faas.trigger'], 'http');
        assert.equal(
          span.attributes['faas.coldstart'],
          index === 0,
          `${service}: its first invocation is a cold start, and only that one`,
        );
        assert.match(String(span.attributes['faas.invocation_id']), /^[\da-f-]{36}$/);
        assert.equal(span.attributes['cloud.account.id'], '123456789012');
        assert.match(
          String(span.attributes['cloud.resource_id']),
          /^arn:aws:lambda:us-east-1:123456789012:function:/,
        );
        assert.equal(typeof span.attributes['http.response.status_code'], 'number');
        if (service === ORDER_PATH_SERVICES[0]) {
          assert.equal(
            String(span.attributes['faas.invocation_id']).replaceAll('-', ''),
            traceId,
            "the public edge's trace id is its Lambda request id, which the access log records",
          );
          continue;
        }
        const parent = byId.get(span.parentSpanId ?? '');
        assert.equal(parent?.kind, SPAN_KIND.CLIENT, `${service}'s parent is its caller's CLIENT span`);
        assert.notEqual(parent?.serviceName, service);
      }
    }
    const dynamoSpans = trace.filter((span) => span.attributes['db.system'] === 'dynamodb');
    assert.ok(dynamoSpans.length > 0, 'the bundled AWS SDK is instrumented');
  });

  it('exported every invocation’s SERVER span and log records before the handler returned', () => {
    const ofOrder = answers.filter(
      (answer) => serverSpanOf(answer.spans, answer.outcome.requestId)?.traceId === traceId,
    );
    assert.deepEqual(
      [...new Set(ofOrder.map((answer) => answer.functionName))].sort(),
      ORDER_PATH_SERVICES.map((service) => sandboxFor(service).fn.functionName).sort(),
      'every function on the order path had its span exported by the time it answered',
    );
    for (const answer of ofOrder) {
      const span = serverSpanOf(answer.spans, answer.outcome.requestId) as ReceivedSpan;
      const records = answer.logs.filter((record) => record.spanId === span.spanId);
      assert.ok(
        records.length >= 1,
        `${answer.functionName}: its log records were exported before it answered`,
      );
      assert.ok(records.every((record) => record.traceId === traceId));
    }
  });

  it('writes log lines that carry the trace id and their SERVER span’s id', () => {
    for (const service of ORDER_PATH_SERVICES) {
      const sandbox = sandboxFor(service);
      const lines = sandbox.logLines().filter((line) => line.trace_id === traceId);
      assert.ok(lines.length >= 2, `${service} logged its request and response`);
      const spanIds = new Set(
        otlp.traces
          .trace(traceId)
          .filter((span) => span.serviceName === service && span.kind === SPAN_KIND.SERVER)
          .map((span) => span.spanId),
      );
      for (const line of lines)
        assert.ok(spanIds.has(String(line.span_id)), `${service}: ${JSON.stringify(line)}`);
    }
  });

  it('sends the OTLP headers the SSM parameter holds, read once per function, at init', () => {
    for (const signal of ['/v1/traces', '/v1/logs']) {
      const headers = otlp.lastHeadersByPath.get(signal);
      assert.equal(headers?.authorization, 'Basic b3JkZXJzOnRva2Vu', signal);
      assert.equal(headers?.['x-scope-orgid'], 'orders', signal);
    }
    const callers = ssm.requested.filter((name) => name === OTLP_HEADERS_PARAMETER);
    // At init, whether or not the function has been invoked yet: once per sandbox, never per export.
    assert.equal(callers.length, packaged.functions.length, 'each function read the parameter once');
  });

  it('answers GET /api/order/{id} with the completed order, in a trace of its own', async () => {
    const response = await fetch(`${api().url}/prod/api/order/${orderId}`);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.order_id, orderId);
    assert.equal(body.status, 'COMPLETED');
    const trace = otlp.traces.trace(String(body.trace_id));
    const warm = trace.filter((span) => span.kind === SPAN_KIND.SERVER);
    assert.ok(warm.length >= 2, 'api-gateway and order');
    for (const span of warm)
      assert.equal(span.attributes['faas.coldstart'], false, `${span.serviceName} is warm now`);
  });

  it('continues the trace of an internal caller that invokes a function directly', async () => {
    const caller = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
    const fraud = sandboxFor('fraud-service');
    const outcome = await fraud.invoke({
      resource: '/fraud/check',
      path: '/fraud/check',
      httpMethod: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${caller.traceId}-${caller.spanId}-01`,
      },
      pathParameters: null,
      body: JSON.stringify({ order_id: orderId, user_id: '7', amount_cents: 1250, payment_method: 'paypal' }),
      isBase64Encoded: false,
    });
    const result = outcome.result as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200, JSON.stringify(outcome));
    const span = serverSpanOf(otlp.traces.spans, outcome.requestId);
    assert.equal(span?.traceId, caller.traceId);
    assert.equal(span?.parentSpanId, caller.spanId);
  });

  it('runs the reaper on a schedule event: a timer-triggered SERVER span, flushed before it returns', async () => {
    const scheduled = MANIFESTS.find((manifest) => manifest.schedule);
    assert.ok(scheduled, 'a function runs on a schedule');
    const reaper = sandboxFor(scheduled.service);
    const outcome = await reaper.invoke(scheduleEvent(reaper.fn.functionName));
    assert.equal(outcome.error, undefined, JSON.stringify(outcome.error));
    const summary = outcome.result as Record<string, unknown>;
    assert.match(String(summary.trace_id), /^[\da-f]{32}$/);
    const answer = answers.find((candidate) => candidate.outcome.requestId === outcome.requestId);
    const span = answer && serverSpanOf(answer.spans, outcome.requestId);
    assert.equal(span?.attributes['faas.trigger'], 'timer');
    assert.equal(span?.traceId, summary.trace_id);
    assert.ok(
      answer?.logs.some((record) => record.spanId === span?.spanId),
      'its summary line was exported before it returned',
    );
  });

  it('ran all seven functions from their bundles alone', () => {
    const answered = new Set(answers.map((answer) => answer.functionName));
    assert.deepEqual([...answered].sort(), packaged.functions.map((fn) => fn.functionName).sort());
  });
});
