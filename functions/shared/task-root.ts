import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * serverless-offline sets LAMBDA_TASK_ROOT to /var/task, which does not exist locally; the Lambda
 * instrumentation resolves the handler file from it and would silently wrap nothing.
 */
export function fixTaskRootOffline(): void {
  const handler = process.env._HANDLER ?? '';
  const moduleFile = `${handler.slice(0, handler.lastIndexOf('.'))}.js`;
  const taskRoot = process.env.LAMBDA_TASK_ROOT ?? '';
  if (taskRoot && existsSync(path.resolve(taskRoot, moduleFile))) return;
  process.env.LAMBDA_TASK_ROOT = path.resolve(__dirname, '..', '..', '..');
}
