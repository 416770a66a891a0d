import { randomUUID } from 'node:crypto';
import { DomainError, isAmbiguousFailure } from '../shared/contracts/errors';
import { formatCents, type OrderRequest, type PricedLine } from '../shared/contracts/schemas';
import type { OrderRecord, OrderStore } from '../shared/data/order-store';
import { crashPoint } from '../shared/faults/chaos';
import type { ServiceClient } from '../shared/http/service-client';
import { currentInvocation, remainingMs } from '../shared/runtime/invocation';
import { backOff } from '../shared/runtime/retry';
import { activeSpanId, annotate, withProducerSpan, withSpan } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';

export interface OrderDependencies {
  store: OrderStore;
  inventory: Pick<ServiceClient, 'post'>;
  payment: Pick<ServiceClient, 'post'>;
  /**
   * How long after this invocation's own end an unsettled order counts as abandoned. By then the platform
   * has certainly stopped the function, so the reaper never races a live saga.
   */
  abandonMarginMs: number;
}

export interface CreatedOrder {
  order_id: string;
  authorization_id: string;
  /** The total payment authorized, and its lines, as decimal strings. */
  total: string;
  lines: PricedLine[];
}

/** Each line's unit price and total as decimal strings, from the reservation's cents. */
function pricedLines(
  items: Array<{ item_id: string; quantity: number; unit_price_cents: number }>,
): PricedLine[] {
  return items.map(({ item_id, quantity, unit_price_cents }) => ({
    item_id,
    quantity,
    unit_price: formatCents(unit_price_cents),
    line_total: formatCents(quantity * unit_price_cents),
  }));
}

/** Compensation keeps retrying the (idempotent) release while this much time is left before the deadline. */
const COMPENSATION_FLOOR_MS = 300;

/** Outside Lambda (unit tests, scripts) there is no platform deadline; a saga is given this long. */
const MAX_SAGA_MS = 15 * 60 * 1000;

/**
 * The order saga: record the order, reserve stock (inventory, which reserves in the warehouse), authorize
 * payment (which consults fraud), record the outcome, commit the stock. Any failure that may leave stock
 * held releases it before the order is marked FAILED.
 */
export async function createOrder(request: OrderRequest, deps: OrderDependencies): Promise<CreatedOrder> {
  const orderId = randomUUID();
  const invocation = currentInvocation();
  if (invocation) invocation.orderId = orderId;
  annotate({
    'order.id': orderId,
    'user.id': request.user_id,
    ...(request.amount === undefined ? {} : { 'order.expected_total_cents': request.amount }),
    'order.payment_method': request.payment_method,
    'order.item_count': request.items.length,
  });
  const now = new Date().toISOString();
  const deadline = new Date(
    Date.now() + Math.min(remainingMs(), MAX_SAGA_MS) + deps.abandonMarginMs,
  ).toISOString();
  const spanId = activeSpanId();
  await deps.store.create({
    order_id: orderId,
    status: 'PENDING',
    user_id: request.user_id,
    items: request.items,
    payment_method: request.payment_method,
    shipping_address: request.shipping_address,
    card_last4: request.card?.number.slice(-4),
    trace_id: invocation?.traceId ?? '',
    ...(spanId ? { span_id: spanId } : {}),
    created_at: now,
    updated_at: now,
    deadline,
  });
  // The logger redacts the card and the address; the rest of the order is what an operator needs.
  logger.info({ order: request }, `order ${orderId} recorded as PENDING`);

  let mayHoldStock = true;
  try {
    const reservation = await deps.inventory
      .post('POST /inventory/reserve', {
        order_id: orderId,
        items: request.items,
        hold_until: deadline,
        ...(request.amount === undefined ? {} : { expected_total_cents: request.amount }),
      })
      .catch((error: unknown) => {
        // A definite refusal (sold out, unknown item) comes after inventory gave back whatever it took, so a
        // sold-out order costs no release round trip; only an unknown outcome needs compensation.
        mayHoldStock = isAmbiguousFailure(error);
        throw error;
      });
    await crashPoint('reserved');
    // The server's price: the catalog's, as inventory priced the reservation.
    const priced = { total_cents: reservation.total_cents, lines: pricedLines(reservation.items) };
    annotate({ 'order.total_cents': priced.total_cents });
    await deps.store.transition(orderId, ['PENDING'], 'RESERVED', priced);
    const { authorization_id } = await deps.payment.post('POST /payment/authorize', {
      order_id: orderId,
      user_id: request.user_id,
      amount_cents: priced.total_cents,
      payment_method: request.payment_method,
      ...(request.card ? { card_last4: request.card.number.slice(-4) } : {}),
    });
    await crashPoint('authorized');
    // The stream of the orders table carries the completion on: its consumer commits the stock
    // (functions/committer), in the same trace, and the reaper commits what it could not.
    await withProducerSpan(
      `publish ${deps.store.table}`,
      {
        'messaging.system': 'aws_dynamodb_streams',
        'messaging.operation.type': 'send',
        'messaging.destination.name': deps.store.table,
        'order.id': orderId,
      },
      (traceparent) =>
        deps.store.transition(orderId, ['RESERVED'], 'COMPLETED', {
          authorization_id,
          completed_at: new Date().toISOString(),
          ...(traceparent ? { trace_context: traceparent } : {}),
        }),
    );
    annotate({ 'order.status': 'success' });
    logger.info(`order ${orderId} completed`);
    await crashPoint('completed');
    return {
      order_id: orderId,
      authorization_id,
      total: formatCents(priced.total_cents),
      lines: priced.lines,
    };
  } catch (error) {
    const failure =
      error instanceof DomainError ? error : new DomainError('internal', 'The order could not be completed');
    const compensated = mayHoldStock ? await compensate(orderId, failure, deps) : true;
    await deps.store
      .transition(orderId, ['PENDING', 'RESERVED'], 'FAILED', {
        failure_category: failure.category,
        failure_reason: failure.message,
        compensated,
      })
      .catch((storeError) => logger.error({ err: storeError }, `could not mark order ${orderId} FAILED`));
    annotate({ 'order.status': 'failed', 'order.failure_category': failure.category });
    throw error;
  }
}

async function compensate(orderId: string, failure: DomainError, deps: OrderDependencies): Promise<boolean> {
  return withSpan(
    'order.compensate',
    { 'order.id': orderId, 'order.failure_category': failure.category },
    async (span) => {
      logger.warn({ reason: failure.message }, `compensation: releasing reservations of order ${orderId}`);
      for (let attempt = 1; remainingMs() > COMPENSATION_FLOOR_MS; attempt++) {
        try {
          await deps.inventory.post(
            'POST /inventory/release',
            { order_id: orderId },
            { purpose: 'compensation' },
          );
          span.setAttributes({ 'order.compensation.attempts': attempt, 'order.compensated': true });
          return true;
        } catch (error) {
          logger.warn(
            { err: error, attempt },
            `compensation: release attempt ${attempt} for order ${orderId} failed`,
          );
          await backOff('peer', attempt);
        }
      }
      span.setAttributes({ 'order.compensated': false });
      logger.error(`compensation: reservations of order ${orderId} could not be released`);
      return false;
    },
  );
}

/** The stored record as callers see it: no address or card digits, and the creating trace as `order_trace_id`. */
export type OrderView = Omit<
  OrderRecord,
  'shipping_address' | 'card_last4' | 'trace_id' | 'span_id' | 'unsettled' | 'total_cents' | 'trace_context'
> & {
  /** The server's total as a decimal string, once the order was priced. */
  total?: string;
  order_trace_id: string;
};

export async function findOrder(orderId: string, store: OrderStore): Promise<OrderView> {
  const record = await store.get(orderId);
  if (!record) throw new DomainError('not_found', `Order ${orderId} not found`);
  return {
    order_id: record.order_id,
    status: record.status,
    user_id: record.user_id,
    items: record.items,
    ...(record.total_cents === undefined ? {} : { total: formatCents(record.total_cents) }),
    ...(record.lines ? { lines: record.lines } : {}),
    payment_method: record.payment_method,
    created_at: record.created_at,
    updated_at: record.updated_at,
    deadline: record.deadline,
    ...(record.authorization_id ? { authorization_id: record.authorization_id } : {}),
    ...(record.failure_category ? { failure_category: record.failure_category } : {}),
    ...(record.failure_reason ? { failure_reason: record.failure_reason } : {}),
    ...(record.compensated === undefined ? {} : { compensated: record.compensated }),
    ...(record.recovered_at ? { recovered_at: record.recovered_at } : {}),
    order_trace_id: record.trace_id,
  };
}
