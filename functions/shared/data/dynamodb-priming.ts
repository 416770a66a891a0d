import { type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { PRIMING_KEY, type Primer } from '../runtime/priming';

/**
 * Primers for a table's write paths that never write: a transaction and an update whose condition (the item exists)
 * fails on PRIMING_KEY. The SDK's serializers and DynamoDB Local's JVM then run those paths for the first time
 * before the first request, not during it.
 */
export function writePathPrimers(db: DynamoDBDocumentClient, table: string, keyName: string): Primer[] {
  const target = {
    TableName: table,
    Key: { [keyName]: PRIMING_KEY },
    ConditionExpression: 'attribute_exists(#key)',
    ExpressionAttributeNames: { '#key': keyName },
  };
  return [
    () => db.send(new TransactWriteCommand({ TransactItems: [{ ConditionCheck: target }] })),
    () =>
      db.send(
        new UpdateCommand({
          ...target,
          UpdateExpression: 'SET #key = :key',
          ExpressionAttributeValues: { ':key': PRIMING_KEY },
        }),
      ),
  ];
}
