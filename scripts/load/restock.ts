import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { localCredentials } from '../lib/dynamodb-local';
import { dynamodbEndpoint } from '../lib/endpoints';
import { localTable } from '../lib/local-tables';

/**
 * Tops sku001 up by 1,000 whenever it runs below 200, in the DynamoDB the functions use, so a long run keeps
 * succeeding. With no local DynamoDB reachable (e.g. a deployed API) it does nothing, and says so once: a run
 * against a stack whose DynamoDB is elsewhere would otherwise measure nothing but 409s once sku001 sells out.
 */
export function sku001Restocker({
  endpoint = dynamodbEndpoint(),
  say = (line: string) => console.error(line),
}: {
  endpoint?: string;
  say?: (line: string) => void;
} = {}): () => Promise<void> {
  let said = false;
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint,
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
    } catch (error) {
      // Traffic goes on without restocking.
      if (said) return;
      said = true;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      say(
        `restock: no DynamoDB answers at ${endpoint} (${reason}), so sku001 is not topped up and the run will ` +
          'see 409s once it sells out. Against a local stack, set AWS_ENDPOINT_URL_DYNAMODB to its DynamoDB.',
      );
    }
  };
}
