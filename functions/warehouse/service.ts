import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DomainError } from '../shared/contracts/errors';
import type { Allocation, ReservationRequest } from '../shared/contracts/schemas';
import { ReservationLedger, type StockWrite, stockUpdate } from '../shared/data/reservation-ledger';
import { PRIMING_KEY, type Primer } from '../shared/runtime/priming';
import { annotate } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';

interface StockRow {
  item_id: string;
  location: string;
  available_quantity: number;
}

export interface WarehouseTables {
  stock: string;
  reservations: string;
}

/** Picking races other orders; a lost race means re-reading stock, a bounded number of times. */
const MAX_ALLOCATION_ATTEMPTS = 5;

export class WarehouseService {
  private readonly ledger: ReservationLedger<Allocation>;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: WarehouseTables,
  ) {
    this.ledger = new ReservationLedger(db, tables.reservations, 'warehouse');
  }

  /** First-call primers for the handler to register: the ledger's write paths and the stock read. */
  primers(): Primer[] {
    return [...this.ledger.primers(), () => this.stockFor([PRIMING_KEY])];
  }

  /** Reserves every item of the order from one location each, all or nothing. */
  async reserve(request: ReservationRequest): Promise<Allocation[]> {
    for (let attempt = 1; attempt <= MAX_ALLOCATION_ATTEMPTS; attempt++) {
      const allocations = allocate(request, await this.stockFor(request.items.map((item) => item.item_id)));
      const outcome = await this.ledger.reserve(
        request.order_id,
        allocations,
        allocations.map((allocation) => this.take(allocation)),
        request.hold_until,
      );
      if (outcome.kind === 'stock_rejected') continue;
      if (outcome.kind === 'released') {
        throw new DomainError('conflict', `Order ${request.order_id} was already cancelled`);
      }
      annotate({
        'warehouse.location': [...new Set(outcome.lines.map((line) => line.location))].join(','),
        'warehouse.reserved_quantity': outcome.lines.reduce((sum, line) => sum + line.quantity, 0),
      });
      for (const line of outcome.lines) {
        logger.info(line, `reserved ${line.quantity} of ${line.item_id} at ${line.location}`);
      }
      return outcome.lines;
    }
    throw new DomainError('out_of_stock', 'Warehouse stock changed too often to reserve; try again');
  }

  commit(orderId: string): Promise<void> {
    return this.ledger.commit(orderId);
  }

  release(orderId: string): Promise<Allocation[]> {
    return this.ledger.release(orderId, (lines) => lines.map((line) => this.giveBack(line)));
  }

  private async stockFor(itemIds: string[]): Promise<StockRow[]> {
    const pages = await Promise.all(
      itemIds.map((itemId) =>
        this.db.send(
          new QueryCommand({
            TableName: this.tables.stock,
            KeyConditionExpression: 'item_id = :item',
            ExpressionAttributeValues: { ':item': itemId },
            ConsistentRead: true,
          }),
        ),
      ),
    );
    return pages.flatMap((page) => (page.Items ?? []) as StockRow[]);
  }

  private take({ item_id, location, quantity }: Allocation): StockWrite {
    return stockUpdate(
      this.tables.stock,
      { item_id, location },
      'SET available_quantity = available_quantity - :q ADD reserved_quantity :q',
      { ':q': quantity },
      { ConditionExpression: 'available_quantity >= :q' },
    );
  }

  private giveBack({ item_id, location, quantity }: Allocation): StockWrite {
    return stockUpdate(
      this.tables.stock,
      { item_id, location },
      'ADD available_quantity :q, reserved_quantity :negative',
      { ':q': quantity, ':negative': -quantity },
    );
  }
}

/**
 * Chooses, for each item, the first location (by name) that can supply all of it: a pure function of the
 * stock read, so the conditional writes decide the races.
 */
export function allocate(request: ReservationRequest, stock: StockRow[]): Allocation[] {
  return request.items.map(({ item_id, quantity }) => {
    const location = stock
      .filter((row) => row.item_id === item_id && row.available_quantity >= quantity)
      .sort((a, b) => a.location.localeCompare(b.location))[0]?.location;
    if (!location) {
      throw new DomainError(
        'out_of_stock',
        `Insufficient warehouse stock for ${item_id}: ${quantity} requested`,
      );
    }
    return { item_id, location, quantity };
  });
}
