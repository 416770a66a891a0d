/**
 * `npm run dynamodb`: DynamoDB Local alone, in the foreground, on the endpoint the functions use
 * (AWS_ENDPOINT_URL_DYNAMODB, default local-defaults.json), its data kept in .dynamodb/data as `npm start`
 * keeps it. For the literal `npx serverless offline start`, which expects a DynamoDB and starts none.
 * Ctrl-C stops it.
 */
import { isReachable, startDynamoDbLocal } from '../lib/dynamodb-local';
import { dynamodbEndpoint } from '../lib/endpoints';

async function main(): Promise<void> {
  const endpoint = dynamodbEndpoint();
  if (await isReachable(endpoint)) {
    console.log(`a DynamoDB already answers at ${endpoint}`);
    return;
  }
  const dynamo = await startDynamoDbLocal({ port: Number(new URL(endpoint).port), inMemory: false });
  console.log(`DynamoDB Local answers at ${dynamo.endpoint} (data in .dynamodb/data); Ctrl-C stops it`);
  const stop = () => void dynamo.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
