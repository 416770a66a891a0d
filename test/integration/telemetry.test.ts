import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';
import {
  eventually,
  LokiReceiver,
  OtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND,
} from '../../scripts/telemetry-receivers';
import { freePort, SEED_PAYLOAD, type Stack, startStack, TABLES } from '../support/stack';

const SERVICES = [
  'api-gateway',
  'order-service',
  'inventory-service',
  'warehouse-service',
  'payment-service',
  'fraud-service',
];

/** The SERVER span of each service in a trace, once all six have arrived. */
async function serverSpans(receiver: OtlpReceiver, traceId: string): Promise<Map<string, ReceivedSpan>> {
  return eventually(
    () => {
      const servers = receiver.trace(traceId).filter((span) => span.kind === SPAN_KIND.SERVER);
      return servers.length >= 6 ? new Map(servers.map((span) => [span.serviceName, span])) : undefined;
    },
    15_000,
    `six SERVER spans of trace ${traceId}`,
  );
}

describe('traces and logs of one order', () => {
  let stack: Stack;
  const otlp = new OtlpReceiver();
  const loki = new LokiReceiver();
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

  let firstTraceId = '';

  it('exports one trace: six services, one tree rooted at the api-gateway SERVER span', async () => {
    const response = await stack.post('/api/order', SEED_PAYLOAD);
    assert.equal(response.status, 201);
    firstTraceId = String(response.body.trace_id);
    const servers = await serverSpans(otlp, firstTraceId);
    await new Promise((resolve) => setTimeout(resolve, 500)); // CLIENT spans end before their SERVER span
    const spans = otlp.trace(firstTraceId);
    assert.deepEqual([...new Set(spans.map((span) => span.serviceName))].sort(), [...SERVICES].sort());
    assert.deepEqual([...servers.keys()].sort(), [...SERVICES].sort());
    for (const service of SERVICES) {
      assert.equal(
        spans.filter((span) => span.serviceName === service && span.kind === SPAN_KIND.SERVER).length,
        1,
        `${service} has one SERVER span`,
      );
    }

    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const root = servers.get('api-gateway') as ReceivedSpan;
    assert.equal(root.parentSpanId, '', 'the api-gateway SERVER span is the root');
    for (const span of spans.filter((s) => s !== root)) {
      assert.ok(byId.has(span.parentSpanId), `${span.serviceName} ${span.name} has its parent in the trace`);
    }
    const hops: Array<[string, string]> = [
      ['api-gateway', 'order-service'],
      ['order-service', 'inventory-service'],
      ['inventory-service', 'warehouse-service'],
      ['order-service', 'payment-service'],
      ['payment-service', 'fraud-service'],
    ];
    for (const [caller, callee] of hops) {
      const parent = byId.get((servers.get(callee) as ReceivedSpan).parentSpanId);
      assert.equal(parent?.kind, SPAN_KIND.CLIENT, `${callee}'s SERVER span is a child of a CLIENT span`);
      assert.equal(parent?.serviceName, caller, `${caller} → ${callee}`);
      assert.equal(parent?.attributes['http.request.method'], 'POST');
    }
    for (const span of servers.values()) {
      assert.equal(span.statusCode, 0, 'a 2xx leaves the status unset');
      assert.equal(span.attributes['faas.trigger'], 'http');
      assert.equal(span.resource['deployment.environment.name'], 'local');
    }
    assert.equal(root.attributes['http.response.status_code'], 201);
    for (const span of spans) assert.equal(span.resource['deployment.team'], 'checkout');
    assert.equal(otlp.lastHeaders['x-scope-orgid'], 'tenant-1');
  });

  it('has a CLIENT span with table names for each DynamoDB operation', () => {
    const dynamo = otlp.trace(firstTraceId).filter((span) => span.name.startsWith('DynamoDB.'));
    const operations = dynamo.map((span) => `${span.serviceName} ${span.name}`);
    for (const expected of [
      'order-service DynamoDB.PutItem',
      'order-service DynamoDB.UpdateItem',
      'inventory-service DynamoDB.TransactWriteItems',
      'inventory-service DynamoDB.BatchGetItem',
      'warehouse-service DynamoDB.Query',
      'warehouse-service DynamoDB.TransactWriteItems',
    ]) {
      assert.ok(operations.includes(expected), `${expected} in ${operations.join(', ')}`);
    }
    for (const span of dynamo) {
      assert.equal(span.kind, SPAN_KIND.CLIENT);
      assert.equal(span.attributes['peer.service'], 'dynamodb');
      assert.ok(Array.isArray(span.attributes['aws.dynamodb.table_names']), `${span.name} names its tables`);
    }
    const reservation = dynamo.find(
      (span) => span.serviceName === 'inventory-service' && span.name === 'DynamoDB.TransactWriteItems',
    );
    assert.deepEqual(
      [...((reservation?.attributes['aws.dynamodb.table_names'] as string[] | undefined) ?? [])].sort(),
      [TABLES.inventory, TABLES.inventoryReservations].sort(),
    );
  });

  it('puts the business facts on the SERVER spans', async () => {
    const servers = await serverSpans(otlp, firstTraceId);
    const attributes = (service: string) => (servers.get(service) as ReceivedSpan).attributes;
    assert.equal(attributes('inventory-service')['inventory.item_id'], 'sku001');
    assert.equal(attributes('inventory-service')['inventory.requested_quantity'], 1);
    assert.equal(typeof attributes('inventory-service')['inventory.availability'], 'number');
    assert.equal(attributes('warehouse-service')['warehouse.location'], 'Warehouse-A');
    assert.equal(attributes('warehouse-service')['warehouse.reserved_quantity'], 1);
    const order = attributes('order-service');
    assert.match(String(order['order.id']), /^[\da-f-]{36}$/);
    assert.equal(order['user.id'], '123', 'semantic-convention name for the user');
    assert.equal(order['order.amount'], 49.99);
    assert.equal(order['order.payment_method'], 'credit_card');
    assert.equal(order['order.status'], 'success');
    assert.equal(attributes('payment-service')['payment.status'], 'authorized');
    assert.equal(attributes('fraud-service')['fraud.verdict'], 'legitimate');
    assert.equal(attributes('api-gateway')['order.status'], 'success');
  });

  it("marks faas.coldstart only on each function instance's first invocation", async () => {
    const first = await serverSpans(otlp, firstTraceId);
    for (const [service, span] of first) assert.equal(span.attributes['faas.coldstart'], true, service);
    const response = await stack.post('/api/order', SEED_PAYLOAD);
    const second = await serverSpans(otlp, String(response.body.trace_id));
    for (const [service, span] of second) assert.equal(span.attributes['faas.coldstart'], false, service);
  });

  it('records a fraud order as failed, with compensation spans for what was released', async () => {
    const response = await stack.post('/api/order', { ...SEED_PAYLOAD, user_id: '666' });
    assert.equal(response.status, 403);
    const traceId = String(response.body.trace_id);
    const servers = await serverSpans(otlp, traceId);
    const names = await eventually(() => {
      const found = otlp.trace(traceId).map((span) => `${span.serviceName} ${span.name}`);
      return found.includes('warehouse-service warehouse.release') ? found : undefined;
    });
    for (const expected of ['order-service order.compensate', 'inventory-service inventory.release']) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    const release = otlp.trace(traceId).find((span) => span.name === 'inventory.release');
    assert.equal(release?.attributes['inventory.released_quantity'], 1);
    const order = (servers.get('order-service') as ReceivedSpan).attributes;
    assert.equal(order['order.status'], 'failed');
    assert.equal(order['order.failure_category'], 'fraud_detected');
    assert.equal((servers.get('fraud-service') as ReceivedSpan).attributes['fraud.verdict'], 'fraudulent');
    assert.equal(
      (servers.get('payment-service') as ReceivedSpan).attributes['payment.status'],
      'rejected_fraud',
    );
    const root = servers.get('api-gateway') as ReceivedSpan;
    assert.equal(root.attributes['http.response.status_code'], 403);
    assert.equal(root.statusCode, 0, 'a 4xx is not a SERVER error');
  });

  it('ships JSON lines from all six services with the trace id, and low-cardinality labels only', async () => {
    const payload = { ...SEED_PAYLOAD, card: { number: '4242424242424242', expiry: '11/29' } };
    const response = await stack.post('/api/order', payload);
    assert.equal(response.status, 201);
    const traceId = String(response.body.trace_id);
    const orderId = String(response.body.order_id);
    const lines = await eventually(
      () => {
        const matching = loki.lines.filter((entry) => entry.line.includes(traceId));
        const services = new Set(matching.map((entry) => entry.labels.service_name));
        return services.size === 6 ? matching : undefined;
      },
      15_000,
      'log lines from six services',
    );
    assert.deepEqual(
      [...new Set(lines.map((entry) => entry.labels.service_name))].sort(),
      [...SERVICES].sort(),
    );
    for (const entry of loki.lines) {
      assert.deepEqual(Object.keys(entry.labels).sort(), ['environment', 'level', 'service_name']);
      assert.equal(entry.labels.environment, 'local');
      const line = JSON.parse(entry.line) as Record<string, unknown>;
      assert.ok(
        ['debug', 'info', 'warn', 'error'].includes(String(line.level)),
        `level name in ${entry.line}`,
      );
      assert.equal(new Date(String(line.time)).toISOString(), line.time, 'ISO time');
      assert.equal(line.service_name, entry.labels.service_name);
      assert.equal(typeof line.msg, 'string');
    }
    for (const entry of lines) {
      const line = JSON.parse(entry.line) as Record<string, unknown>;
      assert.equal(line.trace_id, traceId);
      assert.match(String(line.span_id), /^[\da-f]{16}$/);
    }
    const orderLines = lines.filter((entry) => entry.labels.service_name === 'order-service');
    assert.ok(
      orderLines.some((entry) => JSON.parse(entry.line).order_id === orderId),
      'order lines carry order_id',
    );
    assert.ok(lines.some((entry) => /availability in the inventory db is \d+/.test(entry.line)));
    assert.ok(lines.some((entry) => entry.line.includes('Transaction passed fraud check')));

    const everything = loki.lines.map((entry) => entry.line).join('\n') + stack.offline.output();
    assert.ok(!everything.includes('4242424242424242'), 'the card number never appears');
    assert.ok(!everything.includes('10 Main Street'), 'the shipping address never appears');
    assert.ok(
      loki.lines.some((entry) => entry.line.includes('"card":"[REDACTED]"')),
      'the logger censored it',
    );

    // Grafana's Loki derived field must find this trace id in every one of these real lines.
    const provisioning = parse(
      readFileSync(
        path.join(PROJECT_ROOT, 'observability/grafana/provisioning/datasources/datasources.yaml'),
        'utf8',
      ),
    ) as {
      datasources: Array<{ uid: string; jsonData: { derivedFields?: Array<{ matcherRegex: string }> } }>;
    };
    const derived = provisioning.datasources.find((d) => d.uid === 'loki')?.jsonData.derivedFields?.[0];
    const matcher = new RegExp(String(derived?.matcherRegex));
    for (const entry of lines) assert.equal(matcher.exec(entry.line)?.[1], traceId, entry.line);
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
      },
    });
    try {
      for (let index = 0; index < 50; index++) {
        const response = await stack.post('/api/order', SEED_PAYLOAD);
        assert.equal(response.status, 201, JSON.stringify(response.body));
      }
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const output = stack.offline.output();
      const traceWarnings = output.match(/trace export to \S+ is failing/g) ?? [];
      const lokiWarnings = output.match(/log shipping to Loki is failing/g) ?? [];
      assert.ok(
        traceWarnings.length >= 1 && traceWarnings.length <= 6,
        `${traceWarnings.length} trace warnings`,
      );
      assert.ok(lokiWarnings.length >= 1 && lokiWarnings.length <= 6, `${lokiWarnings.length} Loki warnings`);
    } finally {
      await stack.stop();
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
      assert.match(String(response.body.trace_id), /^[\da-f]{32}$/);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(otlp.requests, 0);
      const lines = stack.offline
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes(String(response.body.trace_id)));
      assert.ok(
        new Set(lines.map((line) => JSON.parse(line).service_name)).size === 6,
        'logs still correlate',
      );
    } finally {
      await stack.stop();
      await otlp.stop();
    }
  });
});
