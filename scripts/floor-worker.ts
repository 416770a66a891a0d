/**
 * One function of the benchmark's floor: loads a handler in its own worker thread (with its own environment,
 * like a Lambda instance) and runs the API Gateway events the floor server posts to it.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

interface FloorWorkerData {
  handler: string;
  functionName: string;
  timeoutMs: number;
  root: string;
}

const { handler, functionName, timeoutMs, root } = workerData as FloorWorkerData;
const exportName = handler.slice(handler.lastIndexOf('.') + 1);
const modulePath = path.join(root, handler.slice(0, handler.lastIndexOf('.')));
// The handlers are CommonJS modules, loaded by path as the Lambda runtime does.
const run = require(modulePath)[exportName] as (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

parentPort?.on('message', async ({ id, event }: { id: number; event: APIGatewayProxyEvent }) => {
  const deadline = Date.now() + timeoutMs;
  const context = {
    functionName,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as Context;
  try {
    parentPort?.postMessage({ id, result: await run(event, context) });
  } catch (error) {
    parentPort?.postMessage({ id, error: String(error) });
  }
});
