import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

/** Table names of the local stage, as serverless.yml names them (`${service}-${stage}-…`). */
export const LOCAL_TABLES = {
  inventory: 'orders-local-inventory',
  inventoryReservations: 'orders-local-inventory-reservations',
  warehouseStock: 'orders-local-warehouse-stock',
  warehouseReservations: 'orders-local-warehouse-reservations',
  orders: 'orders-local-orders',
  idempotency: 'orders-local-idempotency',
} as const;

/** Sets an item's inventory and its stock per warehouse location, replacing what was there. */
export async function putStock(
  db: DynamoDBDocumentClient,
  itemId: string,
  inventory: number,
  warehouse: Record<string, number>,
): Promise<void> {
  await db.send(
    new PutCommand({ TableName: LOCAL_TABLES.inventory, Item: { item_id: itemId, availability: inventory } }),
  );
  for (const [location, quantity] of Object.entries(warehouse)) {
    await db.send(
      new PutCommand({
        TableName: LOCAL_TABLES.warehouseStock,
        Item: { item_id: itemId, location, available_quantity: quantity, reserved_quantity: 0 },
      }),
    );
  }
}
