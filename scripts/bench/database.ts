/** The benches' database: DynamoDB Local in memory, with the bench's stock. */
import { DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { localCredentials, startDynamoDbLocal } from '../lib/dynamodb-local';
import { putStock } from '../lib/local-tables';
import { freePort } from '../lib/ports';

export type BenchDatabase = Awaited<ReturnType<typeof benchDatabase>>;

/** DynamoDB Local in memory, with the bench's stock and a way to start every mode from empty tables. */
export async function benchDatabase() {
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_DEFAULTS.region,
    credentials: localCredentials(),
  });
  const db = DynamoDBDocumentClient.from(client);
  return {
    endpoint: dynamo.endpoint,
    restock: () => putStock(db, 'bench', 1e9, { 'Warehouse-A': 1e9 }),
    /** Every mode starts from empty tables (recreated and seeded as it starts), so none runs on a bigger database. */
    reset: async () => {
      const { TableNames = [] } = await client.send(new ListTablesCommand({}));
      for (const name of TableNames) await client.send(new DeleteTableCommand({ TableName: name }));
    },
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
}
