import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoOrderStore, type OrderRecord } from '../../functions/shared/data/order-store';
import { type DynamoDbLocal, localCredentials, startDynamoDbLocal } from '../../scripts/lib/dynamodb-local';
import { eventually } from '../../scripts/lib/eventually';
import { localTable } from '../../scripts/lib/local-tables';
import { OtlpReceiver, type ReceivedSpan, SPAN_KIND } from '../../scripts/lib/otlp-receivers';
import { freePort, SEED_PAYLOAD, type Stack, startStack } from '../support/offline-stack';
import { describeSpans } from '../support/traces';

/** The stack's reaper interval (see startStack): recovery is due within one of these after the deadline. */
const REAPER_INTERVAL_MS = 1_000;

interface CrashCase {
  point: string;
  chaos: string;
  /** Whether the order function itself dies (the reaper recovers) or a callee does (compensation does). */
  orderFunctionDies: boolean;
  /** The order's status when its function died. */
  statusAtCrash?: string;
  /** Which way the order goes: back (stock released, FAILED) or forward (stock committed, COMPLETED). */
  goes: 'back' | 'forward';
}

const CRASHES: CrashCase[] = [
  {
    point: 'the order function, after inventory reserved',
    chaos: 'order:crash=1,crash_at=reserved',
    orderFunctionDies: true,
    statusAtCrash: 'PENDING',
    goes: 'back',
  },
  {
    point: 'the order function, after payment authorized',
    chaos: 'order:crash=1,crash_at=authorized',
    orderFunctionDies: true,
    statusAtCrash: 'RESERVED',
    goes: 'back',
  },
  {
    point: 'the order function, once it wrote COMPLETED',
    chaos: 'order:crash=1,crash_at=completed',
    orderFunctionDies: true,
    statusAtCrash: 'COMPLETED',
    goes: 'forward',
  },
  {
    point: 'inventory, after the warehouse reserved',
    chaos: 'inventory:crash=1,crash_at=warehouse_reserved',
    orderFunctionDies: false,
    goes: 'back',
  },
];

describe('recovery of orders whose function died mid-saga', () => {
  let dynamo: DynamoDbLocal;
  const otlp = new OtlpReceiver();
  before(async () => {
    dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
    await otlp.start();
  });
  after(async () => {
    await otlp.stop();
    await dynamo?.stop();
  });

  CRASHES.forEach((crash, index) => {
    describe(`a crash of ${crash.point}`, () => {
      const sku = `crash${index}`;
      let stack: Stack;
      let traceId = '';
      let order: OrderRecord;
      before(async () => {
        stack = await startStack({
          dynamo,
          env: {
            CHAOS: crash.chaos,
            CHAOS_SEED: '1',
            OTEL_SDK_DISABLED: 'false',
            OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          },
        });
        await stack.setStock(sku, 10, { 'Warehouse-A': 10 });
      });
      after(() => stack?.stop());

      it('answers as API Gateway does when a Lambda runtime exits: 502, and the next call gets a new instance', async () => {
        const payload = { ...SEED_PAYLOAD, items: [{ item_id: sku, quantity: 3 }] };
        const first = await stack.post('/api/order', payload);
        assert.equal(first.status, 502, JSON.stringify(first.body));
        assert.equal(first.body.category, 'downstream_failure');
        traceId = String(first.body.trace_id);
        // A dead instance still on offer would leave this call waiting for a timeout (504), not crash anew.
        const second = await stack.post('/api/order', payload);
        assert.equal(second.status, 502, JSON.stringify(second.body));
        order = await eventually(
          async () =>
            (await stack.scan('orders')).find((candidate) => candidate.trace_id === traceId) as
              | OrderRecord
              | undefined,
          { what: `the order recorded by trace ${traceId}` },
        );
      });

      const settlement =
        crash.goes === 'back'
          ? 'gives the stock back once the deadline has passed, at the next reaper run'
          : "commits the stock from the orders table's stream all the same: the sale stands";
      it(settlement, async (t) => {
        assert.ok(order, 'the first test placed the order');
        const ofThisSku = async () =>
          (await stack.scan('orders')).filter((o) => JSON.stringify(o.items).includes(`"${sku}"`));
        const latestDeadline = Math.max(...(await ofThisSku()).map((o) => Date.parse(String(o.deadline))));
        const dueBy = latestDeadline + REAPER_INTERVAL_MS;
        let open: unknown[] = [];
        // Generous beyond `dueBy`: a loaded machine may start the reaper's instance late; never sooner.
        const orders = await eventually(
          async () => {
            const found = await ofThisSku();
            open = found.filter((o) => o.unsettled !== undefined);
            return found.length === 2 && open.length === 0 ? found : undefined;
          },
          {
            what: `both orders of ${sku} settled`,
            seen: () => JSON.stringify(open),
            timeoutMs: Math.max(0, dueBy - Date.now()) + 30_000,
          },
        );
        const settled = orders.find((o) => o.order_id === order.order_id) as unknown as OrderRecord;
        const stock = await stack.stock();
        // Both orders of the first test crashed the same way: all ten units are back, or six are sold.
        const left = crash.goes === 'back' ? 10 : 4;
        assert.equal(stock.inventory[sku], left, 'inventory');
        assert.equal(stock.warehouse[`${sku}@Warehouse-A`], left, 'warehouse');
        for (const table of ['inventoryReservations', 'warehouseReservations'] as const) {
          const reservation = (await stack.scan(table)).find((r) => r.order_id === order.order_id);
          const expected = crash.goes === 'back' ? 'RELEASED' : 'COMMITTED';
          assert.equal(reservation?.status, expected, `${table}: ${JSON.stringify(reservation)}`);
        }
        assert.equal(settled.status, crash.goes === 'back' ? 'FAILED' : 'COMPLETED');
        if (crash.goes === 'back') assert.equal(settled.compensated, true);
        const settledAt =
          settled.recovered_at ?? (crash.goes === 'forward' ? settled.committed_at : undefined);
        if (settledAt && crash.goes === 'back') {
          const lateMs = Date.parse(settledAt) - Date.parse(order.deadline);
          assert.ok(lateMs >= 0, 'never recovered before the deadline');
          t.diagnostic(
            `recovered ${lateMs} ms after the deadline (reaper interval ${REAPER_INTERVAL_MS} ms)`,
          );
        }
      });

      if (crash.goes === 'forward') {
        it('stays sold: a release of its committed reservation is refused with 409 and changes nothing', async () => {
          const before = await stack.stock();
          const release = await stack.post('/inventory/release', { order_id: order.order_id });
          assert.equal(release.status, 409, JSON.stringify(release.body));
          assert.equal(release.body.category, 'committed');
          assert.match(String(release.body.message), /committed/);
          assert.deepEqual(await stack.stock(), before);
          const read = await stack.get(`/order/${order.order_id}`);
          assert.equal(read.body.status, 'COMPLETED');
        });

        it("is committed by the stream's consumer, in the trace of the order whose function died", async () => {
          let spans: ReceivedSpan[] = [];
          const consumer = await eventually(
            () => {
              spans = otlp.trace(traceId);
              return spans.find((span) => span.kind === SPAN_KIND.CONSUMER);
            },
            { what: `the consumer's span in trace ${traceId}`, seen: () => describeSpans(spans) },
          );
          const producer = spans.find((span) => span.kind === SPAN_KIND.PRODUCER);
          assert.equal(consumer.serviceName, 'stock-committer');
          assert.equal(consumer.parentSpanId, producer?.spanId, 'the write of COMPLETED, before the crash');
        });
      } else if (crash.orderFunctionDies) {
        it('ends FAILED/abandoned, and the order API says when and why', async () => {
          // The internal route: the failure's reason and timing are not for anyone holding the id.
          const response = await stack.get(`/order/${order.order_id}`);
          assert.equal(response.status, 200);
          assert.equal(response.body.status, 'FAILED');
          assert.equal(response.body.failure_category, 'abandoned');
          assert.match(String(response.body.failure_reason), /stopped before the order settled/);
          assert.equal(response.body.compensated, true);
          const recoveredAt = Date.parse(String(response.body.recovered_at));
          assert.ok(recoveredAt >= Date.parse(order.deadline), 'never recovered before the deadline');
          assert.equal(response.body.deadline, order.deadline);
        });

        it('recovers in a reaper span linked to the order it rescued', async () => {
          let spans: ReceivedSpan[] = [];
          const recovery = await eventually(
            () => {
              spans = otlp.spans.filter((span) => span.name === 'reaper.recover');
              return spans.find((span) => span.attributes['order.id'] === order.order_id);
            },
            { what: `a reaper.recover span for ${order.order_id}`, seen: () => describeSpans(spans) },
          );
          assert.equal(recovery.serviceName, 'reaper');
          assert.equal(recovery.attributes['reaper.outcome'], 'recovered');
          assert.equal(recovery.attributes['order.status_before'], crash.statusAtCrash);
          assert.deepEqual(
            recovery.links.map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
            [{ traceId, spanId: order.span_id }],
          );
          assert.notEqual(recovery.traceId, traceId, 'the recovery is a trace of its own');
          const run = otlp.trace(recovery.traceId).find((span) => span.spanId === recovery.parentSpanId);
          assert.equal(run?.attributes['faas.trigger'], 'timer', 'under the scheduled invocation');
        });
      } else {
        it('is compensated by the live order function: FAILED, not abandoned', async () => {
          const current = (await stack.scan('orders')).find((o) => o.order_id === order.order_id);
          assert.equal(current?.failure_category, 'downstream_failure');
          assert.equal(current?.recovered_at, undefined, 'the reaper had nothing to do');
        });
      }
    });
  });

  // Uses the tables the stacks above created in the shared DynamoDB Local.
  describe('a reap racing a late completion', () => {
    it('ends with exactly one of the two, never both, never neither: 40 races', async () => {
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: localCredentials(),
      });
      const store = new DynamoOrderStore(DynamoDBDocumentClient.from(client), localTable('orders'));
      try {
        const past = new Date(Date.now() - 1_000).toISOString();
        for (let race = 0; race < 40; race++) {
          const orderId = `00000000-0000-4000-8000-${String(race).padStart(12, '0')}`;
          await store.create({
            order_id: orderId,
            status: 'RESERVED',
            user_id: 'racer',
            items: [{ item_id: 'race-reap', quantity: 1 }],
            payment_method: 'paypal',
            shipping_address: 'x',
            trace_id: '0'.repeat(32),
            created_at: past,
            updated_at: past,
            deadline: past,
          });
          // Alternate who starts first; both are in flight together either way.
          const complete = () =>
            store.transition(orderId, ['RESERVED'], 'COMPLETED', { authorization_id: 'late' }).then(
              () => true,
              (error: Error) => {
                if (error.name !== 'ConditionalCheckFailedException') throw error;
                return false;
              },
            );
          const reap = () => store.abandon(orderId, new Date().toISOString(), 'race');
          const [completed, reaped] =
            race % 2 === 0
              ? await Promise.all([complete(), reap()])
              : await Promise.all([reap(), complete()]).then(([r, c]) => [c, r]);
          assert.equal(
            Number(completed) + Number(reaped),
            1,
            `race ${race}: completed=${completed} reaped=${reaped}`,
          );
          const final = await store.get(orderId);
          assert.equal(final?.status, completed ? 'COMPLETED' : 'FAILED', `race ${race}`);
          assert.equal(
            final?.unsettled,
            'yes',
            `race ${race}: either way it awaits settlement: a commit if completed, a release if reaped`,
          );
        }
      } finally {
        client.destroy();
      }
    });
  });
});
