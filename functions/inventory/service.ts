import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DomainError, isAmbiguousFailure } from '../shared/contracts/errors';
import {
  type Allocation,
  formatCents,
  type InventoryReservation,
  type ReservationRequest,
  type ReservedLine,
} from '../shared/contracts/schemas';
import { ReservationLedger, type StockWrite, stockUpdate } from '../shared/data/reservation-ledger';
import { crashPoint } from '../shared/faults/chaos';
import type { ServiceClient } from '../shared/http/service-client';
import { PRIMING_KEY, type Primer } from '../shared/runtime/priming';
import { annotate } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';

/** An item's row: its stock, and its catalog price in cents (an item without one is not for sale). */
interface StockRow {
  availability: number;
  unit_price_cents?: number;
}

/** What the lines cost together, in cents. */
export function totalOf(lines: Array<{ quantity: number; unit_price_cents: number }>): number {
  return lines.reduce((sum, line) => sum + line.quantity * line.unit_price_cents, 0);
}

export interface InventoryTables {
  inventory: string;
  reservations: string;
}

export class InventoryService {
  private readonly ledger: ReservationLedger<ReservedLine>;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: InventoryTables,
    private readonly warehouse: Pick<ServiceClient, 'post'>,
  ) {
    this.ledger = new ReservationLedger(db, tables.reservations, 'inventory');
  }

  /** First-call primers for the handler to register: the ledger's write paths and the stock read. */
  primers(): Primer[] {
    return [...this.ledger.primers(), () => this.stockOf([PRIMING_KEY])];
  }

  /**
   * Reserves every item in the inventory table, then asks the warehouse to reserve the same. If the
   * warehouse refuses or fails, this function's own reservation is released before answering.
   */
  async reserve(request: ReservationRequest): Promise<InventoryReservation> {
    const lines = await this.priced(request);
    const outcome = await this.ledger.reserve(
      request.order_id,
      lines,
      lines.map((line) => this.take(line)),
      request.hold_until,
    );
    if (outcome.kind === 'released')
      throw new DomainError('conflict', `Order ${request.order_id} was already cancelled`);
    if (outcome.kind === 'stock_rejected') {
      const available = outcome.current?.availability?.N;
      throw refusal(
        lines[outcome.index] as ReservedLine,
        available === undefined ? undefined : Number(available),
      );
    }

    // What is left after this reservation does not depend on the warehouse: read it while the warehouse works.
    const availabilityRead = this.stockOf(lines.map((line) => line.item_id)).catch(
      () => new Map<string, StockRow>(),
    );
    let allocations: Allocation[];
    try {
      ({ allocations } = await this.warehouse.post('POST /warehouse/reserve', request));
    } catch (error) {
      await this.compensate(request.order_id, isAmbiguousFailure(error));
      throw error;
    }
    await crashPoint('warehouse_reserved');

    const availability = await availabilityRead;
    const items = lines.map((line) => ({
      ...line,
      availability: availability.get(line.item_id)?.availability,
    }));
    annotate({
      'inventory.item_id': items.map((item) => item.item_id).join(','),
      'inventory.requested_quantity': items.reduce((sum, item) => sum + item.quantity, 0),
      ...(items.length === 1 && items[0]?.availability !== undefined
        ? { 'inventory.availability': items[0].availability }
        : {}),
    });
    for (const item of items) {
      logger.info(
        item,
        `the availability in the inventory db is ${item.availability} after reserving ${item.quantity} of ${item.item_id}`,
      );
    }
    return { status: 'reserved', items, total_cents: totalOf(lines), allocations };
  }

  /**
   * Marks this order's inventory and warehouse reservations sold, once its order completed; safe to repeat.
   * Inventory commits first: a release, which starts here too, is refused from then on.
   */
  async commit(orderId: string): Promise<void> {
    await this.ledger.commit(orderId);
    await this.warehouse.post('POST /warehouse/commit', { order_id: orderId });
  }

  /**
   * Prices the order's lines from the catalog, on one read of the stock rows, before any transaction. A
   * sold-out item is refused here: on a hot item, the orders that cannot be served answer at once instead of
   * queueing in transaction conflicts behind the ones that can (the transaction's own conditions still decide
   * every order that passes this read). A client's expected total that differs from the catalog's is refused
   * too: the client's amount is a check, never an input.
   */
  private async priced(request: ReservationRequest): Promise<ReservedLine[]> {
    const stock = await this.stockOf(request.items.map((item) => item.item_id));
    const lines = request.items.map(({ item_id, quantity }) => {
      const row = stock.get(item_id);
      const line = { item_id, quantity, unit_price_cents: row?.unit_price_cents ?? 0 };
      if (row?.unit_price_cents === undefined) throw refusal(line, undefined);
      if (row.availability < quantity) throw refusal(line, row.availability);
      return line;
    });
    const total = totalOf(lines);
    const expected = request.expected_total_cents;
    if (expected !== undefined && expected !== total) {
      throw new DomainError(
        'amount_mismatch',
        `The order totals ${formatCents(total)} at catalog prices, not ${formatCents(expected)}`,
      );
    }
    return lines;
  }

  /** Releases this order's inventory and warehouse reservations; safe to call any number of times. */
  async release(orderId: string): Promise<ReservedLine[]> {
    const released = await this.releaseOwn(orderId);
    await this.warehouse.post('POST /warehouse/release', { order_id: orderId }, { purpose: 'compensation' });
    return released;
  }

  private async compensate(orderId: string, warehouseOutcomeUnknown: boolean): Promise<void> {
    await this.releaseOwn(orderId);
    if (!warehouseOutcomeUnknown) return;
    try {
      await this.warehouse.post(
        'POST /warehouse/release',
        { order_id: orderId },
        { purpose: 'compensation' },
      );
    } catch (error) {
      // The order function's own compensation calls /inventory/release, which retries this.
      logger.warn(
        { err: error },
        `compensation: warehouse release for order ${orderId} failed; the caller retries`,
      );
    }
  }

  private releaseOwn(orderId: string): Promise<ReservedLine[]> {
    return this.ledger.release(orderId, (lines) => lines.map((line) => this.giveBack(line)));
  }

  private async stockOf(itemIds: string[]): Promise<Map<string, StockRow>> {
    const result = await this.db.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tables.inventory]: { Keys: itemIds.map((item_id) => ({ item_id })), ConsistentRead: true },
        },
      }),
    );
    const rows = (result.Responses?.[this.tables.inventory] ?? []) as Array<StockRow & { item_id: string }>;
    return new Map(rows.map((row) => [row.item_id, row]));
  }

  private take({ item_id, quantity }: ReservedLine): StockWrite {
    return stockUpdate(
      this.tables.inventory,
      { item_id },
      'SET availability = availability - :q, updated_at = :now',
      { ':q': quantity, ':now': new Date().toISOString() },
      {
        ConditionExpression: 'attribute_exists(item_id) AND availability >= :q',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    );
  }

  private giveBack({ item_id, quantity }: ReservedLine): StockWrite {
    return stockUpdate(this.tables.inventory, { item_id }, 'ADD availability :q SET updated_at = :now', {
      ':q': quantity,
      ':now': new Date().toISOString(),
    });
  }
}

/** Why a line cannot be reserved: its item is unknown (`available` undefined) or has too little stock. */
function refusal(
  line: Pick<ReservedLine, 'item_id' | 'quantity'>,
  available: number | undefined,
): DomainError {
  annotate({ 'inventory.item_id': line.item_id, 'inventory.requested_quantity': line.quantity });
  if (available === undefined) return new DomainError('not_found', `Unknown item ${line.item_id}`);
  return new DomainError(
    'out_of_stock',
    `Insufficient stock for ${line.item_id}: ${available} available, ${line.quantity} requested`,
  );
}
