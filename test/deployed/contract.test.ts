import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { scheduleEvent } from '../../scripts/deployed/api';
import { DeployedStack } from '../../scripts/deployed/deployed-stack';
import {
  createStageTables,
  functionEnvironment,
  type Packaged,
  packageStage,
  removeDirs,
  unzipArtifact,
} from '../../scripts/deployed/package';
import { type InvocationOutcome, LambdaSandbox, SHUTDOWN_WINDOW_MS } from '../../scripts/deployed/sandbox';
import { SsmStandIn } from '../../scripts/deployed/ssm-stand-in';
import { type DynamoDbLocal, localCredentials, startDynamoDbLocal } from '../../scripts/lib/dynamodb-local';
import { MANIFESTS, ORDER_PATH_SERVICES } from '../../scripts/lib/manifests';
import { SEED_ORDER } from '../../scripts/lib/orders';
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

/** What an invocation left exported the moment its answer reached the runtime API, and when it ended. */
interface AtAnswer {
  functionName: string;
  outcome: InvocationOutcome;
  spans: ReceivedSpan[];
  logs: ReceivedLogRecord[];
  /** What had arrived when the invocation ended: the runtime and its extension asked for what is next. */
  atEnd?: { spans: ReceivedSpan[]; logs: ReceivedLogRecord[] };
}

/** TELEMETRY_EXPORT: the template's default, and the flush before the answer. */
type ExportMode = 'after-response' | 'before-response';

let packaged: Packaged;
let dynamo: DynamoDbLocal;

before(async () => {
  packaged = await packageStage('prod');
  dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  await createStageTables(packaged, dynamo.endpoint);
});

after(async () => {
  await dynamo?.stop();
  if (packaged) removeDirs(packaged.dir);
});

for (const mode of ['after-response', 'before-response'] as const) contract(mode);

function contract(mode: ExportMode) {
  describe(`the prod package, run as Lambda runs it (TELEMETRY_EXPORT=${mode})`, () => {
    let stack: DeployedStack;
    const otlp = new OtlpEndpoint();
    const ssm = new SsmStandIn({ [OTLP_HEADERS_PARAMETER]: OTLP_HEADERS });
    const answers: AtAnswer[] = [];

    before(async () => {
      await otlp.start();
      await ssm.start();
      stack = await new DeployedStack({
        packaged,
        otlpEndpoint: otlp.url,
        dynamodbEndpoint: dynamo.endpoint,
        ssmEndpoint: ssm.url,
        // The template's 5% random fraud sample would fail one run in twenty: the other change to its environment.
        overrides: { FRAUD_PERCENTAGE: '0', TELEMETRY_EXPORT: mode },
        onAnswer: (fn, outcome) =>
          answers.push({
            functionName: fn.functionName,
            outcome,
            spans: [...otlp.traces.spans],
            logs: [...otlp.logs.records],
          }),
        onEnd: (_fn, outcome) => {
          const answer = answers.find((candidate) => candidate.outcome === outcome);
          if (answer) answer.atEnd = { spans: [...otlp.traces.spans], logs: [...otlp.logs.records] };
        },
      }).start();
    });

    after(async () => {
      await stack?.stop();
      await otlp.stop();
      await ssm.stop();
    });

    /** Places an order through the deployed API; resolves with its answer once every invocation of it has ended. */
    const placeOrder = async () => {
      const response = await fetch(`${api().url}/prod/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SEED_ORDER),
      });
      const body = (await response.json()) as Record<string, unknown>;
      await stack.idle();
      return { status: response.status, body };
    };

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

    it('registers its telemetry extension for INVOKE where it exports after the response, and none otherwise', async () => {
      for (const fn of packaged.functions) {
        const [sandbox] = stack.sandbox(fn.logicalId).sandboxes;
        await sandbox?.initialized;
        assert.deepEqual(
          sandbox?.extensionNames,
          mode === 'after-response' ? ['orders-telemetry'] : [],
          fn.functionName,
        );
      }
    });

    if (mode === 'after-response') {
      it('refuses an internal extension that asks for SHUTDOWN, and any registration once init is over', async () => {
        const [sandbox] = sandboxFor('fraud-service').sandboxes;
        const register = async (events: string[]) => {
          const response = await fetch(`http://${sandbox?.runtimeApi}/2020-01-01/extension/register`, {
            method: 'POST',
            headers: { 'lambda-extension-name': 'late-extension' },
            body: JSON.stringify({ events }),
          });
          return { status: response.status, body: await response.json() };
        };
        assert.deepEqual(await register(['INVOKE', 'SHUTDOWN']), {
          status: 403,
          body: {
            errorType: 'Extension.InvalidEventType',
            errorMessage: 'SHUTDOWN: ShutdownEventNotSupportedForInternalExtension',
          },
        });
        assert.deepEqual(await register(['INVOKE']), {
          status: 403,
          body: {
            errorType: 'Extension.RegistrationClosed',
            errorMessage: 'Extension registration closed already',
          },
        });
      });
    }

    it('takes an order through the deployed API: every hop a SERVER span that continues its caller', async () => {
      const { status, body } = await placeOrder();
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.status, 'success');
      traceId = String(body.trace_id);
      orderId = String(body.order_id);
      assert.match(traceId, /^[\da-f]{32}$/);

      // Every invocation of the order has ended: each exported before it did.
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

    /** The answers of the order's invocations, each with its SERVER span as exported by the invocation's end. */
    const invocationsOfOrder = () =>
      answers.flatMap((answer) => {
        const span = serverSpanOf(answer.atEnd?.spans ?? [], answer.outcome.requestId);
        return span?.traceId === traceId ? [{ answer, span }] : [];
      });

    it('exported every invocation’s SERVER span and log records before its invocation ended', () => {
      const ofOrder = invocationsOfOrder();
      assert.deepEqual(
        [...new Set(ofOrder.map(({ answer }) => answer.functionName))].sort(),
        ORDER_PATH_SERVICES.map((service) => sandboxFor(service).fn.functionName).sort(),
        'every function on the order path had its span exported by the end of its invocation',
      );
      for (const { answer, span } of ofOrder) {
        const records = (answer.atEnd?.logs ?? []).filter((record) => record.spanId === span.spanId);
        assert.ok(
          records.length >= 1,
          `${answer.functionName}: its log records were exported before it ended`,
        );
        assert.ok(records.every((record) => record.traceId === traceId));
      }
    });

    if (mode === 'before-response') {
      it('exported every invocation’s SERVER span and log records before the handler returned', () => {
        for (const { answer } of invocationsOfOrder()) {
          const span = serverSpanOf(answer.spans, answer.outcome.requestId);
          assert.ok(span, `${answer.functionName}: its SERVER span was exported before it answered`);
          const records = answer.logs.filter((record) => record.spanId === span.spanId);
          assert.ok(
            records.length >= 1,
            `${answer.functionName}: its log records were exported before it answered`,
          );
        }
      });
    }

    if (mode === 'after-response') {
      it('with the receiver 200 ms late, answers before its telemetry arrives, and all of it arrives before the freeze', async () => {
        otlp.answerDelayMs = 200;
        const from = answers.length;
        try {
          const { status, body } = await placeOrder();
          assert.equal(status, 201, JSON.stringify(body));
          const ofOrder = answers.slice(from);
          assert.equal(
            new Set(ofOrder.map((answer) => answer.functionName)).size,
            ORDER_PATH_SERVICES.length,
            'every function of the order path answered',
          );
          for (const { functionName, outcome, spans, logs, atEnd } of ofOrder) {
            assert.equal(
              serverSpanOf(spans, outcome.requestId),
              undefined,
              `${functionName}: nothing before its answer`,
            );
            const span = serverSpanOf(atEnd?.spans ?? [], outcome.requestId);
            assert.ok(span, `${functionName}: its SERVER span arrived before its sandbox froze`);
            assert.ok(
              (span.receivedAt ?? 0) > outcome.answeredAt,
              `${functionName}: its span arrived after its answer`,
            );
            const records = (atEnd?.logs ?? []).filter((record) => record.spanId === span.spanId);
            assert.ok(records.length >= 1, `${functionName}: its log records arrived before the freeze`);
            assert.ok(
              !logs.some((record) => record.spanId === span.spanId),
              `${functionName}: none before the answer`,
            );
            assert.ok((outcome.endedAt ?? 0) >= outcome.answeredAt, `${functionName}: the export is billed`);
          }
        } finally {
          otlp.answerDelayMs = 0;
        }
      });

      it('with the receiver down, answers first, and one line says telemetry is failing', async () => {
        const port = otlp.port;
        await otlp.stop();
        const from = answers.length;
        try {
          const { status, body } = await placeOrder();
          assert.equal(status, 201, JSON.stringify(body));
          for (const service of ORDER_PATH_SERVICES) {
            const instances = sandboxFor(service);
            const failingLines = instances.sandboxes.map((sandbox) =>
              sandbox
                .timedLogLines()
                .filter(({ line }) => /trace export to .* is failing/.test(String(line.msg))),
            );
            for (const lines of failingLines)
              assert.ok(lines.length <= 1, `${service}: one line per sandbox`);
            const first = failingLines.flat().sort((a, b) => a.at - b.at)[0];
            assert.ok(first, `${service}: a line says trace export is failing`);
            const firstAnswer = answers
              .slice(from)
              .find((answer) => answer.functionName === instances.fn.functionName);
            assert.ok(firstAnswer, `${service} answered`);
            assert.ok(
              first.at > firstAnswer.outcome.answeredAt,
              `${service}: its answer did not wait for the export`,
            );
          }
        } finally {
          await otlp.start(port);
        }
      });

      /**
       * A fraud sandbox of its own, exporting to a receiver of its own that answers `receiverDelayMs` late; its
       * export gives up 50 ms after the answer. Invoked once, then retired; `check` sees what happened.
       */
      const retireWithPending = async (
        receiverDelayMs: number,
        check: (sandbox: LambdaSandbox, outcome: InvocationOutcome, receiver: OtlpEndpoint) => void,
      ) => {
        const fn = sandboxFor('fraud-service').fn;
        const codeDir = await unzipArtifact(fn.artifact);
        const receiver = await new OtlpEndpoint().start();
        const sandbox = new LambdaSandbox({
          fn,
          codeDir,
          env: functionEnvironment(
            fn,
            { SERVICES_BASE_URL: `${api().url}/prod` },
            {
              OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
              // No OTLP headers: the suite's count of SSM reads is of the stack's own sandboxes.
              OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER: '',
              FRAUD_PERCENTAGE: '0',
              TELEMETRY_EXPORT_WAIT_MS: '50',
            },
          ),
        });
        try {
          await sandbox.start();
          receiver.answerDelayMs = receiverDelayMs;
          const caller = { traceId: '5bf92f3577b34da6a3ce929d0e0e4737', spanId: '10f067aa0ba902b7' };
          const outcome = await sandbox.invoke(fraudCheck(orderId, caller));
          await sandbox.idle();
          await sandbox.stop();
          check(sandbox, outcome, receiver);
        } finally {
          await sandbox.stop();
          await receiver.stop();
          removeDirs(codeDir);
        }
      };

      it('retired with telemetry pending, delivers it within the shutdown window', async () => {
        await retireWithPending(250, (sandbox, outcome, receiver) => {
          const lines = sandbox.logLines().map((line) => String(line.msg));
          assert.ok(
            lines.some((line) => /did not finish within 50 ms/.test(line)),
            lines.join('\n'),
          );
          assert.deepEqual(sandbox.retirement, { signals: ['SIGTERM'], exitedWithinWindow: true });
          assert.ok(lines.includes('shutdown: all pending telemetry was delivered'), lines.join('\n'));
          assert.ok(serverSpanOf(receiver.traces.spans, outcome.requestId), 'its SERVER span was delivered');
        });
      });

      it('retired with the receiver stalled, says how many spans and records it dropped', async () => {
        await retireWithPending(4 * SHUTDOWN_WINDOW_MS, (sandbox, outcome, receiver) => {
          assert.deepEqual(sandbox.retirement, { signals: ['SIGTERM'], exitedWithinWindow: true });
          const dropped = sandbox.logLines().find((line) => /^shutdown: .* dropped/.test(String(line.msg)));
          assert.ok(dropped, sandbox.logs());
          // What the receiver took in but never acknowledged is what the function counts as dropped.
          assert.ok(
            serverSpanOf(receiver.traces.spans, outcome.requestId),
            'the export reached the receiver, which never answered in time',
          );
          assert.equal(dropped.dropped_spans, receiver.traces.spans.length);
          assert.equal(dropped.dropped_log_records, receiver.logs.records.length);
        });
      });
    }

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

    it(`sends the OTLP headers the SSM parameter holds, read once per sandbox, ${mode === 'after-response' ? 'at its first export' : 'at init'}`, () => {
      for (const signal of ['/v1/traces', '/v1/logs']) {
        const headers = otlp.lastHeadersByPath.get(signal);
        assert.equal(headers?.authorization, 'Basic b3JkZXJzOnRva2Vu', signal);
        assert.equal(headers?.['x-scope-orgid'], 'orders', signal);
      }
      const callers = ssm.requested.filter((name) => name === OTLP_HEADERS_PARAMETER);
      const sandboxes = packaged.functions.flatMap((fn) => stack.sandbox(fn.logicalId).sandboxes);
      // Exporting after the answer, the first export reads it, so init does not: only sandboxes that have
      // exported have. Before the answer, init reads it, invoked or not. Never once per export.
      const reading =
        mode === 'after-response' ? sandboxes.filter((sandbox) => sandbox.answers.length > 0) : sandboxes;
      assert.ok(
        reading.length < sandboxes.length || mode === 'before-response',
        'the reaper has not run yet',
      );
      assert.equal(callers.length, reading.length, 'each sandbox read the parameter once');
    });

    it('answers GET /api/order/{id} with the completed order, in a trace of its own', async () => {
      const response = await fetch(`${api().url}/prod/api/order/${orderId}`);
      const body = (await response.json()) as Record<string, unknown>;
      await stack.idle();
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
      const outcome = await fraud.invoke(fraudCheck(orderId, caller));
      await stack.idle();
      const result = outcome.result as { statusCode: number; body: string };
      assert.equal(result.statusCode, 200, JSON.stringify(outcome));
      const span = serverSpanOf(otlp.traces.spans, outcome.requestId);
      assert.equal(span?.traceId, caller.traceId);
      assert.equal(span?.parentSpanId, caller.spanId);
    });

    it("commits a completed order from a stream batch as Lambda delivers it, in the order's trace, and answers batchItemFailures for the record it could not", async () => {
      const committer = sandboxFor('stock-committer');
      const table = String(committer.fn.variables.ORDERS_TABLE);
      const db = DynamoDBDocumentClient.from(
        new DynamoDBClient({
          endpoint: dynamo.endpoint,
          region: 'us-east-1',
          credentials: localCredentials(),
        }),
      );
      try {
        const { Item: order } = await db.send(
          new GetCommand({ TableName: table, Key: { order_id: orderId } }),
        );
        assert.equal(order?.status, 'COMPLETED');
        assert.match(
          String(order?.trace_context),
          /^00-[\da-f]{32}-[\da-f]{16}-01$/,
          'the write stored its span',
        );
        const streamArn = `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-12-06T00:00:00.000`;
        const record = (sequenceNumber: string, item: Record<string, unknown>) => ({
          eventID: `event-${sequenceNumber}`,
          eventName: 'MODIFY',
          eventVersion: '1.1',
          eventSource: 'aws:dynamodb',
          awsRegion: 'us-east-1',
          eventSourceARN: streamArn,
          dynamodb: {
            ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
            Keys: marshall({ order_id: item.order_id }),
            NewImage: marshall(item, { removeUndefinedValues: true }),
            OldImage: marshall({ ...item, status: 'RESERVED' }, { removeUndefinedValues: true }),
            SequenceNumber: sequenceNumber,
            SizeBytes: 100,
            StreamViewType: 'NEW_AND_OLD_IMAGES',
          },
        });
        const poison = { order_id: 'not-an-order-id', status: 'COMPLETED', trace_id: '0'.repeat(32) };
        const outcome = await committer.invoke({
          Records: [record('100', order ?? {}), record('101', poison)],
        });
        await stack.idle();
        assert.deepEqual(
          outcome.result,
          { batchItemFailures: [{ itemIdentifier: '101' }] },
          JSON.stringify(outcome),
        );
        const { Item: settled } = await db.send(
          new GetCommand({ TableName: table, Key: { order_id: orderId } }),
        );
        assert.match(String(settled?.committed_at), /^\d{4}-/, 'committed, and settled');
        const trace = otlp.traces.trace(traceId);
        const producer = trace.find((span) => span.kind === SPAN_KIND.PRODUCER);
        const consumer = trace.find((span) => span.kind === SPAN_KIND.CONSUMER);
        assert.equal(consumer?.serviceName, 'stock-committer');
        assert.equal(consumer?.parentSpanId, producer?.spanId, "the record's span continues the write's");
        const batch = serverSpanOf(otlp.traces.spans, outcome.requestId);
        assert.ok(batch?.links.some((link) => link.traceId === traceId && link.spanId === producer?.spanId));
      } finally {
        db.destroy();
      }
    });

    it('runs the reaper on a schedule event: a timer-triggered SERVER span, exported before its invocation ends', async () => {
      const scheduled = MANIFESTS.find((manifest) => manifest.schedule);
      assert.ok(scheduled, 'a function runs on a schedule');
      const reaper = sandboxFor(scheduled.service);
      const outcome = await reaper.invoke(scheduleEvent(reaper.fn.functionName));
      await stack.idle();
      assert.equal(outcome.error, undefined, JSON.stringify(outcome.error));
      const summary = outcome.result as Record<string, unknown>;
      assert.match(String(summary.trace_id), /^[\da-f]{32}$/);
      const answer = answers.find((candidate) => candidate.outcome.requestId === outcome.requestId);
      const exported = mode === 'after-response' ? answer?.atEnd : answer;
      const span = exported && serverSpanOf(exported.spans, outcome.requestId);
      assert.equal(span?.attributes['faas.trigger'], 'timer');
      assert.equal(span?.traceId, summary.trace_id);
      assert.ok(
        exported?.logs.some((record) => record.spanId === span?.spanId),
        `its summary line was exported before ${mode === 'after-response' ? 'its invocation ended' : 'it returned'}`,
      );
    });

    it("read the package's code cache in every sandbox: none said it compiles as it loads", () => {
      // A cache built under other V8 flags than Lambda's bootstrap gives Node is refused, in one line.
      for (const fn of packaged.functions) {
        assert.doesNotMatch(
          stack.sandbox(fn.logicalId).logs(),
          /compiles? as (it|they) loads?/,
          fn.functionName,
        );
      }
    });

    it('ran every function from its bundle alone', () => {
      const answered = new Set(answers.map((answer) => answer.functionName));
      assert.deepEqual([...answered].sort(), packaged.functions.map((fn) => fn.functionName).sort());
    });
  });
}

/** An API Gateway event for POST /fraud/check from an internal caller whose span is `caller`. */
function fraudCheck(orderId: string, caller: { traceId: string; spanId: string }) {
  return {
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
  };
}
