import { type Link, TraceFlags, trace } from '@opentelemetry/api';
import type { OrderRecord, RecoveryStore } from '../shared/data/order-store';
import type { ServiceClient } from '../shared/http/service-client';
import { remainingMs } from '../shared/runtime/invocation';
import { commitCompleted } from '../shared/settlement/commit-completed';
import { annotate, withSpan } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';

export interface ReaperDependencies {
  store: RecoveryStore;
  inventory: Pick<ServiceClient, 'post'>;
  /** Most orders recovered per run; the next run takes the rest. */
  batchSize: number;
}

export interface ReapSummary {
  /** Unsettled orders past their deadline when the run started. */
  overdue: number;
  /** Abandoned mid-saga: marked FAILED/abandoned and their stock given back. */
  recovered: number;
  /** Already FAILED, but their own compensation had not given everything back: now it has. */
  released: number;
  /** Completed, but the stream consumer had not committed the stock: now it is committed. */
  committed: number;
  /** Completed, but their stock had been released before it could be committed: settled, and logged as an error. */
  conflicted: number;
  /** Settled between the query and the write (a late completion wins): left alone. */
  skipped: number;
  /** Could not be recovered this run (e.g. inventory unreachable); the next run retries them. */
  failed: number;
}

export const ABANDONED_REASON =
  'The order function stopped before the order settled (timeout, crash or recycled instance); the reaper gave its stock back';

/** Time kept back at the end of a run, so the last recovery is not cut off by the platform. */
const RUN_FLOOR_MS = 2_000;

/**
 * Finds orders whose function died mid-saga and gives their stock back through the same idempotent
 * release path compensation uses. Race-safe by conditional writes: an order that completes at the last
 * moment is never reaped (the abandon write requires a non-final status), and a reaped order can never
 * complete (its COMPLETED write requires RESERVED, and the reservations are tombstoned).
 */
export async function reapAbandonedOrders(deps: ReaperDependencies, now = new Date()): Promise<ReapSummary> {
  const overdue = await deps.store.overdue(now.toISOString(), deps.batchSize);
  const summary: ReapSummary = { overdue: overdue.length, ...NONE_YET, failed: 0 };
  for (const order of overdue) {
    if (remainingMs() < RUN_FLOOR_MS) break;
    try {
      summary[await recover(order, deps)]++;
    } catch (error) {
      summary.failed++;
      logger.error(
        { err: error, order_id: order.order_id },
        `reaper: could not recover order ${order.order_id}`,
      );
    }
  }
  // Every count, so a run's span answers what its log line does (conflicts and skips included).
  annotate(
    Object.fromEntries(Object.entries(summary).map(([outcome, count]) => [`reaper.${outcome}`, count])),
  );
  return summary;
}

type Outcome = 'recovered' | 'released' | 'committed' | 'conflicted' | 'skipped';

/** Each outcome's count before the run's first order. */
const NONE_YET: Record<Outcome, number> = {
  recovered: 0,
  released: 0,
  committed: 0,
  conflicted: 0,
  skipped: 0,
};

/**
 * One order, in a span linked to the trace that created it: Tempo jumps from the rescue to the order. An
 * order that died before completing goes back (its stock is released); one that completed goes forward (its
 * stock is committed): once payment is authorized and the order recorded COMPLETED, the sale stands.
 */
function recover(order: OrderRecord, deps: ReaperDependencies): Promise<Outcome> {
  return withSpan(
    'reaper.recover',
    { 'order.id': order.order_id, 'order.trace_id': order.trace_id, 'order.status_before': order.status },
    async (span) => {
      const now = new Date().toISOString();
      if (order.status === 'COMPLETED') {
        // What the stream consumer could not settle (functions/committer): the same idempotent commit.
        const outcome = await commitCompleted(order, deps, 'reaper', now);
        span.setAttribute('reaper.outcome', outcome);
        return outcome;
      }
      let abandoned = false;
      if (order.status === 'PENDING' || order.status === 'RESERVED') {
        abandoned = await deps.store.abandon(order.order_id, now, ABANDONED_REASON);
        if (!abandoned) {
          const current = await deps.store.get(order.order_id);
          if (current?.status !== 'FAILED' || current.unsettled === undefined) {
            span.setAttribute('reaper.outcome', 'skipped');
            logger.info(
              { order_id: order.order_id, status: current?.status },
              `reaper: order ${order.order_id} settled as ${current?.status} before it could be reaped`,
            );
            return 'skipped';
          }
        }
      }
      await deps.inventory.post(
        'POST /inventory/release',
        { order_id: order.order_id },
        { purpose: 'compensation' },
      );
      await deps.store.settleReleased(order.order_id, now);
      const outcome = abandoned ? 'recovered' : 'released';
      span.setAttribute('reaper.outcome', outcome);
      logger.info(
        { order_id: order.order_id, order_trace_id: order.trace_id, status_before: order.status, outcome },
        `reaper: ${outcome} order ${order.order_id} (was ${order.status}); its stock is back`,
      );
      return outcome;
    },
    linkTo(order),
  );
}

function linkTo(order: OrderRecord): Link[] {
  const context = { traceId: order.trace_id, spanId: order.span_id ?? '', traceFlags: TraceFlags.SAMPLED };
  // Orders placed with tracing off have no span to link to.
  if (!trace.isSpanContextValid(context)) return [];
  return [{ context, attributes: { 'link.reason': 'recovers_abandoned_order' } }];
}
