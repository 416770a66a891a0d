import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../scripts/lib/eventually';
import { localTable } from '../../scripts/lib/local-tables';
import {
  OtlpLogsReceiver,
  OtlpReceiver,
  type ReceivedLogRecord,
  type ReceivedSpan,
  SPAN_KIND,
} from '../../scripts/lib/otlp-receivers';
import { freePort, SEED_PAYLOAD, type Stack, startStack, TRACE_ID } from '../support/offline-stack';
import {
  COMPLETED_ORDER_SERVICES,
  describeRecords,
  describeSpans,
  explaining,
  isWholeTrace,
  SERVICES,
  serverSpan,
} from '../support/traces';

/** Waits until the trace satisfies `ready` (by default: whole, see isWholeTrace) and returns its spans. */
function traceOf(
  receiver: OtlpReceiver,
  traceId: string,
  what = 'a whole trace: a SERVER span from each of the six services, every parent present',
  ready: (spans: ReceivedSpan[]) => boolean = isWholeTrace,
): Promise<ReceivedSpan[]> {
  return eventually(
    () => {
      const spans = receiver.trace(traceId);
      return ready(spans) ? spans : undefined;
    },
    { what: `${what} (trace ${traceId})`, seen: () => describeSpans(receiver.trace(traceId)) },
  );
}

/** Parses the JSON lines a process printed (serverless-offline's own lines are skipped). */
function jsonLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

describe('traces and logs of one order', () => {
  let stack: Stack;
  const otlp = new OtlpReceiver();
  const loki = new OtlpLogsReceiver();
  before(async () => {
    await otlp.start();
    await loki.start();
    stack = await startStack({
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        LOKI_URL: loki.url,
        // The user's shell is honoured: these reach every function through serverless.yml.
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.team=checkout',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-scope-orgid=tenant-1',
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await otlp.stop();
    await loki.stop();
  });

  /** The seed order every test of this group reads; placed by the first. */
  let firstTraceId = '';
  const firstTrace = () => traceOf(otlp, firstTraceId);

  it('exports one trace: six services, one tree rooted at the api-gateway SERVER span', async () => {
    const response = await stack.post('/api/order', SEED_PAYLOAD);
    assert.equal(response.status, 201);
    firstTraceId = String(response.body.trace_id);
    const spans = await firstTrace();
    await explaining(
      () => describeSpans(spans),
      () => {
        assert.deepEqual(
          [...new Set(spans.map((span) => span.serviceName))].sort(),
          [...COMPLETED_ORDER_SERVICES].sort(),
        );
        const byId = new Map(spans.map((span) => [span.spanId, span]));
        const root = serverSpan(spans, 'api-gateway');
        assert.equal(root.parentSpanId, '', 'the api-gateway SERVER span is the root');
        const hops: Array<[string, string]> = [
          ['api-gateway', 'order-service'],
          ['order-service', 'inventory-service'],
          ['inventory-service', 'warehouse-service'],
          ['order-service', 'payment-service'],
          ['payment-service', 'fraud-service'],
        ];
        for (const [caller, callee] of hops) {
          const parent = byId.get(serverSpan(spans, callee).parentSpanId);
          assert.equal(parent?.kind, SPAN_KIND.CLIENT, `${callee}'s SERVER span is a child of a CLIENT span`);
          assert.equal(parent?.serviceName, caller, `${caller} → ${callee}`);
          assert.equal(parent?.attributes['http.request.method'], 'POST');
        }
        for (const service of SERVICES) {
          const span = serverSpan(spans, service);
          assert.equal(span.statusCode, 0, `${service}: a 2xx leaves the status unset`);
          assert.equal(span.attributes['faas.trigger'], 'http');
          assert.equal(span.resource['deployment.environment.name'], 'local');
        }
        assert.equal(root.attributes['http.response.status_code'], 201);
        for (const span of spans) assert.equal(span.resource['deployment.team'], 'checkout');
        assert.equal(otlp.lastHeaders['x-scope-orgid'], 'tenant-1');
      },
    );
  });

  it('has a CLIENT span with table names for each DynamoDB operation', async () => {
    const expected = [
      'order-service DynamoDB.PutItem',
      'order-service DynamoDB.UpdateItem',
      'inventory-service DynamoDB.TransactWriteItems',
      'inventory-service DynamoDB.BatchGetItem',
      'warehouse-service DynamoDB.Query',
      'warehouse-service DynamoDB.TransactWriteItems',
    ];
    const spans = await traceOf(otlp, firstTraceId, `the DynamoDB spans ${expected.join(', ')}`, (found) => {
      const operations = new Set(found.map((span) => `${span.serviceName} ${span.name}`));
      return isWholeTrace(found) && expected.every((operation) => operations.has(operation));
    });
    await explaining(
      () => describeSpans(spans),
      () => {
        const dynamo = spans.filter((span) => span.name.startsWith('DynamoDB.'));
        for (const span of dynamo) {
          assert.equal(span.kind, SPAN_KIND.CLIENT);
          assert.equal(span.attributes['peer.service'], 'dynamodb');
          assert.ok(
            Array.isArray(span.attributes['aws.dynamodb.table_names']),
            `${span.name} names its tables`,
          );
        }
        const reservation = dynamo.find(
          (span) => span.serviceName === 'inventory-service' && span.name === 'DynamoDB.TransactWriteItems',
        );
        assert.deepEqual(
          [...((reservation?.attributes['aws.dynamodb.table_names'] as string[] | undefined) ?? [])].sort(),
          [localTable('inventory'), localTable('inventoryReservations')].sort(),
        );
      },
    );
  });

  it('puts the business facts on the SERVER spans', async () => {
    const spans = await firstTrace();
    await explaining(
      () => describeSpans(spans),
      () => {
        const attributes = (service: string) => serverSpan(spans, service).attributes;
        assert.equal(attributes('inventory-service')['inventory.item_id'], 'sku001');
        assert.equal(attributes('inventory-service')['inventory.requested_quantity'], 1);
        assert.equal(typeof attributes('inventory-service')['inventory.availability'], 'number');
        assert.equal(attributes('warehouse-service')['warehouse.location'], 'Warehouse-A');
        assert.equal(attributes('warehouse-service')['warehouse.reserved_quantity'], 1);
        const order = attributes('order-service');
        assert.match(String(order['order.id']), /^[\da-f-]{36}$/);
        assert.equal(order['user.id'], '123', 'semantic-convention name for the user');
        assert.equal(order['order.total_cents'], 4999, "the server's total, from the catalog");
        assert.equal(order['order.payment_method'], 'credit_card');
        assert.equal(order['order.status'], 'success');
        assert.equal(attributes('payment-service')['payment.status'], 'authorized');
        assert.equal(attributes('fraud-service')['fraud.verdict'], 'legitimate');
        assert.equal(attributes('api-gateway')['order.status'], 'success');
      },
    );
  });

  it("marks faas.coldstart only on each function instance's first invocation", async () => {
    const first = await firstTrace();
    const response = await stack.post('/api/order', SEED_PAYLOAD);
    const second = await traceOf(otlp, String(response.body.trace_id));
    await explaining(
      () => `first order:\n${describeSpans(first)}\nsecond order:\n${describeSpans(second)}`,
      () => {
        for (const service of SERVICES) {
          assert.equal(serverSpan(first, service).attributes['faas.coldstart'], true, service);
          assert.equal(serverSpan(second, service).attributes['faas.coldstart'], false, service);
        }
      },
    );
  });

  it('records a fraud order as failed, with compensation spans for what was released', async () => {
    const response = await stack.post('/api/order', { ...SEED_PAYLOAD, user_id: '666' });
    assert.equal(response.status, 403);
    const compensation = [
      'order-service order.compensate',
      'inventory-service inventory.release',
      'warehouse-service warehouse.release',
    ];
    const spans = await traceOf(
      otlp,
      String(response.body.trace_id),
      `a whole trace with ${compensation.join(', ')}`,
      (found) => {
        const names = new Set(found.map((span) => `${span.serviceName} ${span.name}`));
        return isWholeTrace(found) && compensation.every((name) => names.has(name));
      },
    );
    await explaining(
      () => describeSpans(spans),
      () => {
        const release = spans.find((span) => span.name === 'inventory.release');
        assert.equal(release?.attributes['inventory.released_quantity'], 1);
        const order = serverSpan(spans, 'order-service').attributes;
        assert.equal(order['order.status'], 'failed');
        assert.equal(order['order.failure_category'], 'fraud_detected');
        assert.equal(serverSpan(spans, 'fraud-service').attributes['fraud.verdict'], 'fraudulent');
        assert.equal(serverSpan(spans, 'payment-service').attributes['payment.status'], 'rejected_fraud');
        const root = serverSpan(spans, 'api-gateway');
        assert.equal(root.attributes['http.response.status_code'], 403);
        assert.equal(root.statusCode, 0, 'a 4xx is not a SERVER error');
      },
    );
  });

  describe('the public edge owns the trace', () => {
    const CHOSEN = '4bf92f3577b34da6a3ce929d0e0e4736';
    const CALLER_SPAN = '00f067aa0ba902b7';
    const rootOf = async (response: Awaited<ReturnType<Stack['post']>>) => {
      assert.equal(response.status, 201, JSON.stringify(response.body));
      const spans = await traceOf(otlp, String(response.body.trace_id));
      return { spans, root: serverSpan(spans, 'api-gateway') };
    };

    it("does not continue a caller's chosen trace id: a new trace, linked to the caller's", async () => {
      const response = await stack.post('/api/order', SEED_PAYLOAD, {
        traceparent: `00-${CHOSEN}-${CALLER_SPAN}-01`,
      });
      assert.notEqual(response.body.trace_id, CHOSEN);
      const { spans, root } = await rootOf(response);
      assert.equal(root.parentSpanId, '', 'api-gateway starts the trace');
      assert.equal(
        String(root.attributes['faas.invocation_id']).replaceAll('-', ''),
        root.traceId,
        "the trace id is the invocation's Lambda request id (the access log's lambda_request_id)",
      );
      assert.deepEqual(
        root.links.map((link) => [link.traceId, link.spanId]),
        [[CHOSEN, CALLER_SPAN]],
      );
      assert.ok(
        spans.every((span) => span.traceId !== CHOSEN),
        'no span is in the chosen trace',
      );
      const stored = (await stack.scan('orders')).find((order) => order.order_id === response.body.order_id);
      assert.equal(stored?.trace_id, response.body.trace_id, "the order records the server's trace");
    });

    it('traces an order whose caller said "not sampled" (flags 00): every hop is exported', async () => {
      const { spans } = await rootOf(
        await stack.post('/api/order', SEED_PAYLOAD, { traceparent: `00-${CHOSEN}-${CALLER_SPAN}-00` }),
      );
      assert.deepEqual(
        [...new Set(spans.map((span) => span.serviceName))].sort(),
        [...COMPLETED_ORDER_SERVICES].sort(),
      );
    });

    it("drops a caller's baggage: no span of the order carries it", async () => {
      const { spans } = await rootOf(
        await stack.post('/api/order', SEED_PAYLOAD, {
          traceparent: `00-${CHOSEN}-${CALLER_SPAN}-01`,
          baggage: 'customer.tier=gold',
        }),
      );
      const carrying = spans.filter((span) => 'baggage.customer.tier' in span.attributes);
      assert.deepEqual(
        carrying.map((span) => `${span.serviceName} ${span.name}`),
        [],
        'spans with the baggage',
      );
    });

    it('still continues the trace of a caller on an internal route', async () => {
      const response = await stack.post(
        '/fraud/check',
        {
          order_id: '6f1d0c9e-2b1a-4c3d-9e8f-0a1b2c3d4e5f',
          user_id: '7',
          amount_cents: 100,
          payment_method: 'paypal',
        },
        { traceparent: `00-${CHOSEN}-${CALLER_SPAN}-01` },
      );
      assert.equal(response.status, 200);
      assert.equal(response.body.trace_id, CHOSEN);
    });
  });

  it('sends the log records of all six services over OTLP, with the trace id, redacted', async () => {
    const payload = { ...SEED_PAYLOAD, card: { number: '4242424242424242', expiry: '11/29' } };
    const response = await stack.post('/api/order', payload);
    assert.equal(response.status, 201);
    const traceId = String(response.body.trace_id);
    const orderId = String(response.body.order_id);
    // Offline, each instance's batch processor exports in the background, a batch at a time, so the wait is for
    // every record asserted on, not just for the first batch of each service.
    const expected: Record<string, (records: ReceivedLogRecord[]) => boolean> = {
      'a record from each of the six services': (records) =>
        SERVICES.every((service) => records.some((record) => record.serviceName === service)),
      "order-service's records carrying order_id": (records) =>
        records.some(
          (record) => record.serviceName === 'order-service' && record.attributes.order_id === orderId,
        ),
      "inventory's availability line": (records) =>
        records.some((record) => /availability in the inventory db is \d+/.test(String(record.body))),
      "fraud's verdict": (records) =>
        records.some((record) => String(record.body).includes('Transaction passed fraud check')),
      'the card, censored by the logger before it was sent': (records) =>
        records.some((record) => JSON.stringify(record.attributes).includes('"card":"[REDACTED]"')),
    };
    const missing = (records: ReceivedLogRecord[]) =>
      Object.keys(expected).filter((name) => !expected[name]?.(records));
    const records: ReceivedLogRecord[] = await eventually(
      () => {
        const found = loki.trace(traceId);
        return missing(found).length === 0 ? found : undefined;
      },
      {
        what: `log records of trace ${traceId}: ${Object.keys(expected).join('; ')}`,
        seen: () =>
          `missing: ${missing(loki.trace(traceId)).join('; ')}\n${describeRecords(loki.trace(traceId))}`,
      },
    );
    await explaining(
      () => describeRecords(records),
      () => {
        for (const record of loki.records) {
          assert.ok(['debug', 'info', 'warn', 'error'].includes(record.severityText), record.severityText);
          assert.equal(typeof record.body, 'string', 'the message is the body');
          assert.equal(record.attributes.service_name, record.serviceName);
          // Loki makes labels of a few resource attributes; these stay low-cardinality.
          assert.equal(record.resource['deployment.environment.name'], 'local');
          assert.equal(record.resource['service.namespace'], 'orders');
        }
        for (const record of records) assert.match(record.spanId, /^[\da-f]{16}$/);
        const everything = JSON.stringify(loki.records) + stack.offline.output();
        assert.ok(!everything.includes('4242424242424242'), 'the card number never appears');
        assert.ok(!everything.includes('10 Main Street'), 'the shipping address never appears');
      },
    );
    // stdout keeps the JSON lines, with the same trace id.
    const stdoutServices = () =>
      [
        ...new Set(
          jsonLines(stack.offline.output())
            .filter((line) => line.trace_id === traceId)
            .map((line) => line.service_name),
        ),
      ].sort();
    const onStdout = await eventually(
      () => {
        const services = stdoutServices();
        return SERVICES.every((service) => services.includes(service)) ? services : undefined;
      },
      {
        what: `JSON lines of trace ${traceId} on stdout from all six`,
        seen: () => stdoutServices().join(', '),
      },
    );
    assert.deepEqual(onStdout, [...SERVICES].sort(), 'JSON lines on stdout from the six and no other');
  });
});

describe('telemetry backends down', () => {
  it('50 orders succeed with the trace and log receivers stopped, with one warning per instance', async () => {
    const deadPort = await freePort();
    const stack = await startStack({
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}`,
        LOKI_URL: `http://127.0.0.1:${deadPort}`,
        // One instance per function: the stream's commits wait for the instance the next order used.
        OFFLINE_MAX_INSTANCES: '1',
      },
    });
    try {
      for (let index = 0; index < 50; index++) {
        const response = await stack.post('/api/order', SEED_PAYLOAD);
        assert.equal(response.status, 201, JSON.stringify(response.body));
      }
      // Orders one after another: one instance per function, so six instances, each warning once per backend.
      const warnings = (pattern: RegExp) =>
        jsonLines(stack.offline.output()).filter((line) => pattern.test(String(line.msg)));
      const warningsByService = (pattern: RegExp) =>
        eventually(
          () => {
            const found = warnings(pattern);
            const services = new Set(found.map((line) => line.service_name));
            return SERVICES.every((service) => services.has(service)) ? found : undefined;
          },
          {
            what: `a "${pattern.source}" warning from each of the six services`,
            seen: () =>
              warnings(pattern)
                .map((line) => `  ${JSON.stringify(line)}`)
                .join('\n'),
          },
        );
      for (const pattern of [/trace export to \S+ is failing/, /log export to \S+ is failing/]) {
        const found = await warningsByService(pattern);
        const perService = new Map<unknown, number>();
        for (const line of found)
          perService.set(line.service_name, (perService.get(line.service_name) ?? 0) + 1);
        for (const service of SERVICES) {
          assert.equal(perService.get(service), 1, `${service} warned once: ${pattern.source}`);
        }
      }
    } finally {
      await stack.stop();
    }
  });

  it('lets a trusted front end continue its trace with PUBLIC_TRACE_CONTEXT=continue', async () => {
    const otlp = await new OtlpReceiver().start();
    const stack = await startStack({
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        PUBLIC_TRACE_CONTEXT: 'continue',
      },
    });
    try {
      const chosen = '5bf92f3577b34da6a3ce929d0e0e4737';
      const response = await stack.post('/api/order', SEED_PAYLOAD, {
        traceparent: `00-${chosen}-00f067aa0ba902b7-01`,
        baggage: 'session.id=s-42',
      });
      assert.equal(response.status, 201);
      assert.equal(response.body.trace_id, chosen, "the front end's trace, continued");
      const serversOf = (spans: ReceivedSpan[]) => spans.filter((span) => span.kind === SPAN_KIND.SERVER);
      // The front end's own span is not exported here: the trace's root is missing by design.
      const everyService = (spans: ReceivedSpan[]) =>
        SERVICES.every((service) => serversOf(spans).some((span) => span.serviceName === service));
      const servers = serversOf(
        await traceOf(otlp, chosen, 'a SERVER span from each of the six services', everyService),
      );
      assert.deepEqual([...new Set(servers.map((span) => span.serviceName))].sort(), [...SERVICES].sort());
      assert.deepEqual(
        servers
          .filter((span) => span.attributes['baggage.session.id'] !== 's-42')
          .map((span) => `${span.serviceName} ${span.name}`),
        [],
        "SERVER spans without the front end's baggage",
      );
    } finally {
      await stack.stop();
      await otlp.stop();
    }
  });

  it('exports nothing with OTEL_SDK_DISABLED=true, and still answers with a trace id', async () => {
    const otlp = await new OtlpReceiver().start();
    const stack = await startStack({
      env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    });
    try {
      const response = await stack.post('/api/order', SEED_PAYLOAD);
      assert.equal(response.status, 201);
      const traceId = String(response.body.trace_id);
      assert.match(traceId, TRACE_ID);
      const ofThisOrder = () => jsonLines(stack.offline.output()).filter((line) => line.trace_id === traceId);
      const lines = await eventually(
        () => {
          const found = ofThisOrder();
          const services = new Set(found.map((line) => line.service_name));
          return SERVICES.every((service) => services.has(service)) ? found : undefined;
        },
        {
          what: `stdout lines of trace ${traceId} from all six services`,
          seen: () =>
            ofThisOrder()
              .map((line) => `  ${JSON.stringify(line)}`)
              .join('\n'),
        },
      );
      // No span was ever active (a line would carry its span_id), so there is nothing that could be exported.
      for (const line of lines) assert.equal(line.span_id, undefined, JSON.stringify(line));
      assert.equal(otlp.requests, 0);
    } finally {
      await stack.stop();
      await otlp.stop();
    }
  });
});
