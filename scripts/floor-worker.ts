/**
 * One function of the benchmark's floor: loads a handler in its own worker thread (with its own environment,
 * like a Lambda instance) and runs the API Gateway events the floor server posts to it. It first posts when
 * its script started (after any preload) and when the handler had loaded, for the cold-start benchmark.
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

const now = () => performance.timeOrigin + performance.now();
const scriptStartAt = now();
const { handler, functionName, timeoutMs, root } = workerData as FloorWorkerData;
const exportName = handler.slice(handler.lastIndexOf('.') + 1);
const modulePath = path.join(root, handler.slice(0, handler.lastIndexOf('.')));
// The handlers are CommonJS modules, loaded by path as the Lambda runtime does.
const run = require(modulePath)[exportName] as (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;
parentPort?.postMessage({ id: -1, scriptStartAt, loadedAt: now() });

type Message = { id: number; event: APIGatewayProxyEvent } | { id: number; memoryUsage: true };

parentPort?.on('message', async (message: Message) => {
  if ('memoryUsage' in message) {
    parentPort?.postMessage({ id: message.id, memory: process.memoryUsage() });
    return;
  }
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  // What the Lambda runtime (and serverless-offline) give a handler; the Lambda instrumentation reads the ARN.
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as Context;
  try {
    const result = await run(message.event, context);
    parentPort?.postMessage({ id: message.id, result, invokeMs: performance.now() - started });
  } catch (error) {
    parentPort?.postMessage({ id: message.id, error: String(error), invokeMs: performance.now() - started });
  }
});
