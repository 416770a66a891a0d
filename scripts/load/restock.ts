import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { localCredentials } from '../lib/dynamodb-local';
import { dynamodbEndpoint } from '../lib/endpoints';
import { localTable } from '../lib/local-tables';

/**
 * Tops sku001 up by 1,000 whenever it runs below 200, in the DynamoDB the functions use, so a long run keeps
 * succeeding. With no local DynamoDB reachable (e.g. a deployed API) it does nothing.
 */
export function sku001Restocker(): () => Promise<void> {
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dynamodbEndpoint(),
      region: LOCAL_DEFAULTS.region,
      credentials: localCredentials(),
      maxAttempts: 1,
    }),
  );
  return async () => {
    try {
      const item = await db.send(
        new GetCommand({ TableName: localTable('inventory'), Key: { item_id: 'sku001' } }),
      );
      if (Number(item.Item?.availability ?? 0) > 200) return;
      await db.send(
        new UpdateCommand({
          TableName: localTable('inventory'),
          Key: { item_id: 'sku001' },
          UpdateExpression: 'ADD availability :q',
          ExpressionAttributeValues: { ':q': 1000 },
        }),
      );
      await db.send(
        new UpdateCommand({
          TableName: localTable('warehouseStock'),
          Key: { item_id: 'sku001', location: 'Warehouse-A' },
          UpdateExpression: 'ADD available_quantity :q',
          ExpressionAttributeValues: { ':q': 1000 },
        }),
      );
    } catch {
      // No local DynamoDB reachable (e.g. a deployed API): traffic goes on without restocking.
    }
  };
}
