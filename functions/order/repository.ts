import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ErrorCategory } from '../shared/errors';
import type { OrderRequest } from '../shared/schemas';

/** PENDING → RESERVED → COMPLETED, or FAILED from either of the first two. */
export type OrderStatus = 'PENDING' | 'RESERVED' | 'COMPLETED' | 'FAILED';

export interface OrderRecord {
  order_id: string;
  status: OrderStatus;
  user_id: string;
  items: OrderRequest['items'];
  amount: number;
  payment_method: string;
  shipping_address: string;
  card_last4?: string;
  trace_id: string;
  created_at: string;
  updated_at: string;
  authorization_id?: string;
  failure_category?: ErrorCategory;
  failure_reason?: string;
  /** Whether every reservation of a failed order was given back. */
  compensated?: boolean;
}

export interface OrderStore {
  create(record: OrderRecord): Promise<void>;
  transition(
    orderId: string,
    from: OrderStatus[],
    to: OrderStatus,
    fields?: Partial<OrderRecord>,
  ): Promise<void>;
  get(orderId: string): Promise<OrderRecord | undefined>;
}

export class DynamoOrderStore implements OrderStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(record: OrderRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: record,
        ConditionExpression: 'attribute_not_exists(order_id)',
      }),
    );
  }

  /** A guarded state change: an order only moves forward from the states listed in `from`. */
  async transition(orderId: string, from: OrderStatus[], to: OrderStatus, fields: Partial<OrderRecord> = {}) {
    const updates = { ...fields, status: to, updated_at: new Date().toISOString() };
    const names = Object.fromEntries(Object.keys(updates).map((key, index) => [`#f${index}`, key]));
    const values = Object.fromEntries(Object.values(updates).map((value, index) => [`:v${index}`, value]));
    const fromValues = Object.fromEntries(from.map((status, index) => [`:from${index}`, status]));
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { order_id: orderId },
        UpdateExpression: `SET ${Object.keys(names)
          .map((name, index) => `${name} = :v${index}`)
          .join(', ')}`,
        ConditionExpression: `#status IN (${Object.keys(fromValues).join(', ')})`,
        ExpressionAttributeNames: { ...names, '#status': 'status' },
        ExpressionAttributeValues: { ...values, ...fromValues },
      }),
    );
  }

  async get(orderId: string): Promise<OrderRecord | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: { order_id: orderId } }));
    return result.Item as OrderRecord | undefined;
  }
}
