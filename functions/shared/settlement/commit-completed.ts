import { DomainError } from '../contracts/errors';
import type { OrderStore } from '../data/order-store';
import { crashPoint } from '../faults/chaos';
import type { ServiceClient } from '../http/service-client';
import { logger } from '../telemetry/logger';

export interface SettlementDependencies {
  store: Pick<OrderStore, 'settleCompleted'>;
  inventory: Pick<ServiceClient, 'post'>;
}

/** How a completed order's settlement ended. */
export type CommitOutcome = 'committed' | 'conflicted';

/**
 * A completed order is sold: its reservations become final through inventory's idempotent commit (which
 * commits the warehouse's too), and the order leaves the unsettled index. Called by the stream consumer for
 * every order that turns COMPLETED, and by the reaper for one the stream could not settle; a second call for
 * the same order commits nothing twice. Stock released before it could be committed settles the order all
 * the same (retrying cannot bring it back), with the reason for an operator.
 */
export async function commitCompleted(
  order: { order_id: string; trace_id: string },
  deps: SettlementDependencies,
  by: string,
  now = new Date().toISOString(),
): Promise<CommitOutcome> {
  try {
    await deps.inventory.post(
      'POST /inventory/commit',
      { order_id: order.order_id },
      { purpose: 'settlement' },
    );
  } catch (error) {
    if (!(error instanceof DomainError && error.category === 'conflict')) throw error;
    await deps.store.settleCompleted(order.order_id, now, error.message);
    logger.error(
      { order_id: order.order_id, order_trace_id: order.trace_id, reason: error.message },
      `${by}: completed order ${order.order_id} could not be committed: ${error.message}`,
    );
    return 'conflicted';
  }
  await crashPoint('stock_committed');
  await deps.store.settleCompleted(order.order_id, now);
  logger.info(
    { order_id: order.order_id, order_trace_id: order.trace_id, outcome: 'committed' },
    `${by}: committed the stock of completed order ${order.order_id}`,
  );
  return 'committed';
}
