import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';
import { freePort } from '../../scripts/ports';
import { eventually } from '../support/eventually';
import { SEED_PAYLOAD } from '../support/stack';

function run(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/scripts/start.js')], {
    cwd: PROJECT_ROOT,
    // The seed's 5% random fraud flag is off: the order below must succeed every time.
    env: { ...process.env, LOKI_URL: '', OTEL_SDK_DISABLED: 'true', FRAUD_PERCENTAGE: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const isRunning = (pid: number | undefined) => {
  try {
    process.kill(pid ?? -1, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('starts DynamoDB Local and the API, serves an order, and stops everything on Ctrl-C', async () => {
    const [httpPort, dynamoPort, lambdaPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = mkdtempSync(path.join(tmpdir(), 'orders-start-'));
    const start = run({
      DYNAMODB_LOCAL_DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamoPort}`,
    });
    try {
      await eventually(() => (start.output().includes('Orders API ready') ? true : undefined), {
        what: '"Orders API ready" from npm start',
        seen: start.output,
        giveUpIf: () =>
          start.child.exitCode === null ? undefined : `npm start exited (${start.child.exitCode})`,
        timeoutMs: 90_000,
      });
      assert.match(start.output(), new RegExp(`POST http://127\\.0\\.0\\.1:${httpPort}/api/order`));
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SEED_PAYLOAD),
      });
      assert.equal(response.status, 201);
    } finally {
      start.child.kill('SIGINT');
    }
    assert.equal(await start.exited, 0);
    const dynamoAnswers = await fetch(`http://127.0.0.1:${dynamoPort}`).then(
      () => true,
      () => false,
    );
    assert.equal(dynamoAnswers, false, 'DynamoDB Local was stopped');
    const apiAnswers = await fetch(`http://127.0.0.1:${httpPort}/api/order/x`).then(
      () => true,
      () => false,
    );
    assert.equal(apiAnswers, false, 'serverless offline was stopped');
    assert.equal(isRunning(start.child.pid), false);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops with one message saying what to install when there is neither Java nor a DynamoDB', async () => {
    const start = run({
      PATH: '/nonexistent',
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(await start.exited, 1);
    assert.match(start.output(), /DynamoDB Local needs Java 17 or later/);
    assert.match(start.output(), /docker compose up -d dynamodb-local/);
    assert.match(start.output(), /AWS_ENDPOINT_URL_DYNAMODB/);
  });
});
