/**
 * `npm start`: DynamoDB Local (unless AWS_ENDPOINT_URL_DYNAMODB already answers), tables and seed data,
 * then serverless offline. Ctrl-C stops everything it started.
 */
import { type DynamoDbLocal, isReachable, startDynamoDbLocal } from './dynamodb-local';
import { type Offline, startOffline } from './offline';

async function main(): Promise<void> {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB || 'http://localhost:8000';
  let dynamo: DynamoDbLocal | undefined;
  let offline: Offline | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await offline?.stop();
    await dynamo?.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    if (await isReachable(endpoint)) {
      console.log(`using the DynamoDB at ${endpoint}`);
    } else {
      const port = Number(new URL(endpoint).port || 8000);
      console.log(`starting DynamoDB Local on port ${port} (data in .dynamodb/data)...`);
      dynamo = await startDynamoDbLocal({ port, inMemory: false });
    }
    offline = await startOffline({
      env: { AWS_ENDPOINT_URL_DYNAMODB: endpoint },
      onLine: (line) => console.log(line),
    });
    offline.process.once('exit', (code) => void shutdown(code ?? 1));
    console.log(
      [
        '',
        `  Orders API ready: POST ${offline.url}/api/order`,
        `  Try it:           npm run order   (or ./create_order.sh)`,
        `  Read it back:     GET  ${offline.url}/api/order/<order_id>`,
        '  Traces and logs:  docker compose up observability, then open http://localhost:3000',
        '',
      ].join('\n'),
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await shutdown(1);
  }
}

void main();
