import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ErrorCategory } from '../contracts/errors';
import type { OrderRequest, PricedLine } from '../contracts/schemas';
import type { Primer } from '../runtime/priming';
import { writePathPrimers } from './dynamodb-priming';
import { guardedUpdate } from './guarded-update';

/**
 * PENDING → RESERVED → COMPLETED, or FAILED from either of the first two. A COMPLETED order stays unsettled
 * until its reservations are committed (settleCompleted).
 */
export type OrderStatus = 'PENDING' | 'RESERVED' | 'COMPLETED' | 'FAILED';

/** Why an order failed: a category a caller saw, or `abandoned` when its function died mid-saga. */
export type FailureCategory = ErrorCategory | 'abandoned';

/**
 * The sparse index the reaper reads. Only unsettled orders carry `UNSETTLED_KEY`, so the index holds
 * exactly the orders that may still hold stock, sorted by deadline: one Query finds the overdue ones.
 */
const UNSETTLED_INDEX = 'unsettled-by-deadline';
const UNSETTLED_KEY = 'unsettled';
const UNSETTLED = 'yes';

export interface OrderRecord {
  order_id: string;
  status: OrderStatus;
  user_id: string;
  items: OrderRequest['items'];
  /** The server's total in cents and the priced lines, once inventory priced the reservation. */
  total_cents?: number;
  lines?: PricedLine[];
  payment_method: string;
  shipping_address: string;
  card_last4?: string;
  trace_id: string;
  /** The span that created the order: the reaper links its recovery span to it. */
  span_id?: string;
  created_at: string;
  updated_at: string;
  /** After this instant (ISO 8601) an unsettled order counts as abandoned: its function is surely gone. */
  deadline: string;
  /** Present while the order may hold stock: not final, or failed with stock not yet given back. */
  unsettled?: string;
  authorization_id?: string;
  failure_category?: FailureCategory;
  failure_reason?: string;
  /** Whether every reservation of a failed order was given back. */
  compensated?: boolean;
  /** When the reaper gave an abandoned order's stock back. */
  recovered_at?: string;
  /**
   * The `traceparent` of the span that wrote the order's last transition, for the stream's consumer to
   * continue its trace from (shared/stream/stream-batch-handler.ts).
   */
  trace_context?: string;
  /** When payment was authorized and the order written COMPLETED: the client's 201. */
  completed_at?: string;
  /** When a completed order's reservations were committed: its stock is sold for good. */
  committed_at?: string;
  /** Why a completed order's reservations could not be committed (they had been released): for an operator. */
  commit_conflict?: string;
}

export interface OrderStore {
  /** The table's name: its stream, which carries a completed order on, is named after it. */
  readonly table: string;
  create(record: Omit<OrderRecord, 'unsettled'>): Promise<void>;
  transition(
    orderId: string,
    from: OrderStatus[],
    to: OrderStatus,
    fields?: Partial<OrderRecord>,
  ): Promise<void>;
  get(orderId: string): Promise<OrderRecord | undefined>;
  /**
   * Records that a completed order's reservations are committed (or, with `conflict`, could not be): it
   * leaves the index.
   */
  settleCompleted(orderId: string, now: string, conflict?: string): Promise<void>;
}

/** What the reaper needs beyond the order function's view of the table. */
export interface RecoveryStore extends OrderStore {
  /** Unsettled orders whose deadline is at or before `now`, oldest first. */
  overdue(now: string, limit: number): Promise<OrderRecord[]>;
  /** Marks an overdue, non-final order FAILED/abandoned; false if it settled (or was taken) meanwhile. */
  abandon(orderId: string, now: string, reason: string): Promise<boolean>;
  /** Records that a failed order's stock is back: it leaves the index. */
  settleReleased(orderId: string, now: string): Promise<void>;
}

/**
 * A failed order settles once its stock is given back. A completed one settles later, once its stock is
 * committed (settleCompleted): until then the reaper may have to finish the commit.
 */
function settles(to: OrderStatus, fields: Partial<OrderRecord>): boolean {
  return to === 'FAILED' && fields.compensated === true;
}

export class DynamoOrderStore implements RecoveryStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** The first-call primers of this table's write paths (see priming.ts), for the handler to register. */
  primers(): Primer[] {
    return writePathPrimers(this.db, this.table, 'order_id');
  }

  async create(record: Omit<OrderRecord, 'unsettled'>): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...record, [UNSETTLED_KEY]: UNSETTLED },
        ConditionExpression: 'attribute_not_exists(order_id)',
      }),
    );
  }

  /** A guarded state change: an order only moves forward from the states listed in `from`. */
  async transition(orderId: string, from: OrderStatus[], to: OrderStatus, fields: Partial<OrderRecord> = {}) {
    const set = { ...fields, status: to, updated_at: new Date().toISOString() };
    await this.db.send(
      new UpdateCommand(
        guardedUpdate(this.table, orderId, from, set, settles(to, fields) ? [UNSETTLED_KEY] : []),
      ),
    );
  }

  async get(orderId: string): Promise<OrderRecord | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: { order_id: orderId } }));
    return result.Item as OrderRecord | undefined;
  }

  async overdue(now: string, limit: number): Promise<OrderRecord[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: UNSETTLED_INDEX,
        KeyConditionExpression: '#unsettled = :yes AND #deadline <= :now',
        ExpressionAttributeNames: { '#unsettled': UNSETTLED_KEY, '#deadline': 'deadline' },
        ExpressionAttributeValues: { ':yes': UNSETTLED, ':now': now },
        Limit: limit,
      }),
    );
    return (result.Items ?? []) as OrderRecord[];
  }

  async abandon(orderId: string, now: string, reason: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { order_id: orderId },
          UpdateExpression:
            'SET #status = :failed, failure_category = :abandoned, failure_reason = :reason, compensated = :no, updated_at = :now',
          // The tombstone rule: only an order still in flight past its deadline, never one that completed.
          ConditionExpression: '#status IN (:pending, :reserved) AND #deadline <= :now',
          ExpressionAttributeNames: { '#status': 'status', '#deadline': 'deadline' },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':abandoned': 'abandoned',
            ':reason': reason,
            ':no': false,
            ':now': now,
            ':pending': 'PENDING',
            ':reserved': 'RESERVED',
          },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async settleCompleted(orderId: string, now: string, conflict?: string): Promise<void> {
    const set = conflict
      ? { commit_conflict: conflict, updated_at: now }
      : { committed_at: now, updated_at: now };
    await this.db.send(
      new UpdateCommand(guardedUpdate(this.table, orderId, ['COMPLETED'], set, [UNSETTLED_KEY])),
    );
  }

  async settleReleased(orderId: string, now: string): Promise<void> {
    const set = { compensated: true, recovered_at: now, updated_at: now };
    await this.db.send(
      new UpdateCommand(guardedUpdate(this.table, orderId, ['FAILED'], set, [UNSETTLED_KEY])),
    );
  }
}
