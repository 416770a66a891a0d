import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { DomainError } from '../contracts/errors';
import type { Primer } from '../runtime/priming';
import { backOff } from '../runtime/retry';
import { withSpan } from '../telemetry/api';
import { logger } from '../telemetry/logger';
import { writePathPrimers } from './dynamodb-priming';
import { guardedUpdate } from './guarded-update';

/** A stock write inside a reservation transaction, in DocumentClient form. */
export type StockWrite = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

type StockUpdate = NonNullable<StockWrite['Update']>;

/** A stock row's update inside a reservation transaction: the row, the expression and its values. */
export function stockUpdate(
  TableName: string,
  Key: StockUpdate['Key'],
  UpdateExpression: string,
  ExpressionAttributeValues: StockUpdate['ExpressionAttributeValues'],
  condition: Pick<StockUpdate, 'ConditionExpression' | 'ReturnValuesOnConditionCheckFailure'> = {},
): StockWrite {
  return { Update: { TableName, Key, UpdateExpression, ExpressionAttributeValues, ...condition } };
}

export interface ReservationRecord<Line> {
  order_id: string;
  /** RESERVED holds stock for an order in flight; COMMITTED is sold and final; RELEASED gave it back. */
  status: 'RESERVED' | 'COMMITTED' | 'RELEASED';
  lines: Line[];
  created_at: string;
  /** The order's deadline, when its caller gave one: the hold is abandoned past it unless the order completed. */
  hold_until?: string;
  released_at?: string;
  committed_at?: string;
}

export type ReserveOutcome<Line> =
  | { kind: 'reserved'; lines: Line[] }
  /** A retry of a reservation that already happened: same lines, nothing written. */
  | { kind: 'already_reserved'; lines: Line[] }
  /** The order was released (or tombstoned) before this reservation arrived: it must not happen. */
  | { kind: 'released' }
  /** Stock write `index` failed its condition; `current` is the stock item, absent if it does not exist. */
  | { kind: 'stock_rejected'; index: number; current?: Record<string, { N?: string; S?: string }> };

const MAX_CONFLICT_RETRIES = 8;

/**
 * Reservations of stock for an order, kept next to the stock they hold. A reservation and its stock
 * changes commit in one transaction, guarded by conditions, never read-modify-write. Release is safe to
 * repeat and may arrive first: a release with nothing to release leaves a tombstone, so that a slow
 * reservation landing afterwards is refused instead of holding stock no one will give back. Once the order
 * completes, its reservation is committed: sold stock is final, and a release of it is refused.
 */
export class ReservationLedger<Line extends { quantity: number }> {
  /** `owner` names the spans and log lines: "inventory" gives an `inventory.release` span. */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly owner: string,
  ) {}

  /** The first-call primers of this table's write paths (see priming.ts), for the handler to register. */
  primers(): Primer[] {
    return writePathPrimers(this.db, this.table, 'order_id');
  }

  async reserve(
    orderId: string,
    lines: Line[],
    stockWrites: StockWrite[],
    holdUntil?: string,
  ): Promise<ReserveOutcome<Line>> {
    const record: ReservationRecord<Line> = {
      order_id: orderId,
      status: 'RESERVED',
      lines,
      created_at: new Date().toISOString(),
      ...(holdUntil ? { hold_until: holdUntil } : {}),
    };
    const recordIndex = stockWrites.length;
    try {
      await this.transact([
        ...stockWrites,
        {
          Put: { TableName: this.table, Item: record, ConditionExpression: 'attribute_not_exists(order_id)' },
        },
      ]);
      return { kind: 'reserved', lines };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      if (reasons[recordIndex]?.Code === 'ConditionalCheckFailed') {
        const existing = await this.get(orderId);
        if (existing?.status === 'RESERVED') return { kind: 'already_reserved', lines: existing.lines };
        return { kind: 'released' };
      }
      const index = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
      if (index < 0) throw error;
      return { kind: 'stock_rejected', index, current: reasons[index]?.Item };
    }
  }

  /**
   * Marks the order's reservation sold. Safe to repeat; it never touches stock, which the reservation took
   * already. A reservation that was released, or never made, cannot be committed: that is a conflict.
   */
  async commit(orderId: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand(
          guardedUpdate(this.table, orderId, ['RESERVED'], { status: 'COMMITTED', committed_at: now() }),
        ),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const existing = await this.get(orderId);
      if (existing?.status === 'COMMITTED') return;
      throw new DomainError(
        'conflict',
        existing
          ? `The ${this.owner} reservation of order ${orderId} was released and cannot be committed`
          : `Order ${orderId} has no ${this.owner} reservation to commit`,
      );
    }
  }

  /**
   * Compensation: gives the stock back once, in a span of its own so a failed order's trace shows what was
   * released. Returns the lines released, or none when there was nothing (left) to release.
   */
  release(orderId: string, restock: (lines: Line[]) => StockWrite[]): Promise<Line[]> {
    return withSpan(`${this.owner}.release`, { 'order.id': orderId }, async (span) => {
      const released = await this.releaseOnce(orderId, restock);
      span.setAttribute(
        `${this.owner}.released_quantity`,
        released.reduce((sum, line) => sum + line.quantity, 0),
      );
      logger.info({ released }, `compensation: released ${this.owner} reservation of order ${orderId}`);
      return released;
    });
  }

  private async releaseOnce(orderId: string, restock: (lines: Line[]) => StockWrite[]): Promise<Line[]> {
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      const existing = await this.get(orderId);
      if (existing?.status === 'RELEASED') return [];
      if (existing?.status === 'COMMITTED') {
        throw new DomainError(
          'committed',
          `The ${this.owner} reservation of order ${orderId} is committed: its order completed, and sold stock is not released`,
        );
      }
      if (!existing) {
        const tombstoned = await this.putTombstone(orderId);
        if (tombstoned) return [];
        continue; // a reservation landed in between: release it
      }
      try {
        await this.transact([
          {
            Update: guardedUpdate(this.table, orderId, ['RESERVED'], {
              status: 'RELEASED',
              released_at: now(),
            }),
          },
          ...restock(existing.lines),
        ]);
        return existing.lines;
      } catch (error) {
        // Released or committed meanwhile: the next read says which.
        if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') continue;
        throw error;
      }
    }
    throw new Error(`release of ${orderId} kept racing`);
  }

  async get(orderId: string): Promise<ReservationRecord<Line> | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { order_id: orderId }, ConsistentRead: true }),
    );
    return result.Item as ReservationRecord<Line> | undefined;
  }

  private async putTombstone(orderId: string): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { order_id: orderId, status: 'RELEASED', lines: [], created_at: now(), released_at: now() },
          ConditionExpression: 'attribute_not_exists(order_id)',
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Transactions touching a hot item conflict under load; those are retried with jitter, nothing else is. */
  private async transact(items: StockWrite[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        const conflict =
          (error as Error).name === 'TransactionConflictException' ||
          (cancellationReasons(error)?.some((reason) => reason.Code === 'TransactionConflict') ?? false);
        if (!conflict || attempt >= MAX_CONFLICT_RETRIES) throw error;
        await backOff('conflict', attempt);
      }
    }
  }
}

type CancellationReason = { Code?: string; Item?: Record<string, { N?: string; S?: string }> };

function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if ((error as Error)?.name !== 'TransactionCanceledException') return undefined;
  return (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons;
}

function now(): string {
  return new Date().toISOString();
}
