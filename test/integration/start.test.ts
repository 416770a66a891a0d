import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PATCHED_VERSION } from '#local-runtime/offline-internals.cjs';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { PRIMING_KEY } from '../../functions/shared/runtime/priming';
import { isReachable, localCredentials } from '../../scripts/lib/dynamodb-local';
import { eventually } from '../../scripts/lib/eventually';
import { startOffline } from '../../scripts/lib/offline';
import { freePort } from '../../scripts/lib/ports';
import { projectCopy, runStart as run, runScript } from '../support/npm-start';
import { getItem, SEED_PAYLOAD, TABLES, TRACE_ID } from '../support/offline-stack';

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
      OFFLINE_PREWARM: 'true',
    });
    try {
      await start.ready();
      assert.match(start.output(), new RegExp(`POST http://127\\.0\\.0\\.1:${httpPort}/api/order`));
      // A start that says only what matters: each table reported once, no SDK warnings, one ready banner.
      for (const table of Object.values(TABLES)) {
        assert.equal(start.output().split(`created table ${table}\n`).length - 1, 1, table);
      }
      assert.doesNotMatch(start.output(), /\[WARN\]|requestTimeout/);
      assert.match(start.output(), /Grafana {6}http:\/\/localhost:3000/);
      assert.match(start.output(), /Telemetry {4}off \(OTEL_SDK_DISABLED=true\)/);
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SEED_PAYLOAD),
      });
      assert.equal(response.status, 201);
      const { order_id: orderId } = (await response.json()) as { order_id: string };
      // create_order.sh sends the same seed order (read from local-defaults.json) and prints the trace's link.
      const script = execFileSync(path.join(PROJECT_ROOT, 'create_order.sh'), {
        env: { ...process.env, HTTP_PORT: String(httpPort) },
        encoding: 'utf8',
      });
      assert.match(script, /"status":"success"/);
      assert.match(script, /Trace in Grafana: http:\/\/localhost:3000\/explore\?schemaVersion=1&panes=/);
      // Prewarming primed every table's write paths with conditions that fail: nothing was written.
      const db = DynamoDBDocumentClient.from(
        new DynamoDBClient({
          endpoint: `http://127.0.0.1:${dynamoPort}`,
          region: LOCAL_DEFAULTS.region,
          credentials: localCredentials(),
        }),
      );
      for (const table of ['orders', 'inventoryReservations', 'warehouseReservations']) {
        assert.equal(await getItem(db, table, { order_id: PRIMING_KEY }), undefined, table);
      }
      db.destroy();
      // Piped, not a terminal: the functions' lines stay JSON, for whatever reads them.
      await eventually(
        () =>
          start
            .output()
            .split('\n')
            .find((line) => line.startsWith('{') && line.includes(`order ${orderId} completed`)),
        { what: `the JSON line "order ${orderId} completed"`, seen: start.output },
      ).then((line) => assert.equal(JSON.parse(line).service_name, 'order-service'));
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

  it('restarts DynamoDB Local on its data when it dies, saying so, and orders succeed again', async () => {
    const [httpPort, dynamoPort, lambdaPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = mkdtempSync(path.join(tmpdir(), 'orders-supervise-'));
    const start = run({
      DYNAMODB_LOCAL_DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamoPort}`,
    });
    const order = async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(SEED_PAYLOAD),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      await start.ready();
      const placed = await order();
      assert.equal(placed.status, 201, JSON.stringify(placed.body));
      const java = childrenOf(Number(start.child.pid)).find((child) => child.command === 'java');
      assert.ok(java, 'npm start runs DynamoDB Local as its child');
      process.kill(java.pid, 'SIGKILL');
      await eventually(
        () => /DynamoDB Local exited \(SIGKILL\); restarting it/.test(start.output()) || undefined,
        {
          what: 'the line saying DynamoDB Local exited',
          seen: start.output,
        },
      );
      // Until it answers again, an order fails as it would deployed with DynamoDB unreachable: a 5xx with its body.
      const meanwhile = await order();
      assert.ok([201, 502, 503, 504].includes(meanwhile.status), JSON.stringify(meanwhile));
      assert.match(String(meanwhile.body.trace_id), TRACE_ID);
      await eventually(
        () => /DynamoDB Local answers again at http:\/\/127\.0\.0\.1:\d+/.test(start.output()) || undefined,
        {
          what: 'the line saying DynamoDB Local answers again',
          seen: start.output,
          timeoutMs: 60_000,
        },
      );
      const after = await order();
      assert.equal(after.status, 201, JSON.stringify(after.body));
      // On its data: the order placed before the crash is still there.
      const read = await fetch(`http://127.0.0.1:${httpPort}/api/order/${placed.body.order_id}`);
      assert.equal(read.status, 200);
    } finally {
      start.child.kill('SIGINT');
    }
    assert.equal(await start.exited, 0);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops, naming the expected version, when serverless-offline is not the one its patches were written for', async () => {
    const root = projectCopy({ offlineVersion: '14.9.0' });
    try {
      const start = run({ AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await freePort()}` }, { root });
      assert.equal(await start.exited, 1, start.output());
      assert.match(start.output(), /serverless-offline 14\.9\.0 is installed/);
      assert.match(
        start.output(),
        new RegExp(`written against serverless-offline ${PATCHED_VERSION.replaceAll('.', '\\.')}`),
      );
      assert.doesNotMatch(start.output(), /Orders API/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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

describe('npm run dynamodb, for the literal `serverless offline start`', () => {
  it('starts DynamoDB Local alone on the functions’ endpoint, on loopback only, and Ctrl-C stops it', async (t) => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const data = mkdtempSync(path.join(tmpdir(), 'orders-dynamodb-'));
    const { child, output, exited } = runScript('dist/scripts/dev/dynamodb.js', {
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      DYNAMODB_LOCAL_DATA_DIR: data,
    });
    try {
      await eventually(
        () => (output().includes(`DynamoDB Local answers at ${endpoint}`) ? true : undefined),
        {
          what: 'npm run dynamodb saying it answers',
          seen: output,
          giveUpIf: () => (child.exitCode === null ? undefined : `it exited (${child.exitCode})`),
          timeoutMs: 60_000,
        },
      );
      assert.ok(await isReachable(endpoint), `DynamoDB answers at ${endpoint}`);
      const external = externalAddress();
      if (external) {
        const outside = `http://${external}:${port}`;
        assert.equal(await isReachable(outside), false, `not on ${outside}: it binds to 127.0.0.1`);
      } else t.diagnostic('this machine has no address but loopback: nothing else to try');
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.equal(await isReachable(endpoint), false, 'Ctrl-C stopped it');
    } finally {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('is what `serverless offline start` names when it finds no DynamoDB', async () => {
    await assert.rejects(
      startOffline({
        env: {
          HTTP_PORT: String(await freePort()),
          OFFLINE_LAMBDA_PORT: String(await freePort()),
          AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await freePort()}`,
          OFFLINE_PREWARM: 'false',
        },
      }),
      /DynamoDB is not reachable at http:\/\/127\.0\.0\.1:\d+ .*`npm run dynamodb`/s,
    );
  });
});

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): Array<{ pid: number; command: string }> {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        // pid (comm) state ppid ...: comm may hold spaces, so the fields are read after its closing parenthesis.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === pid ? [{ pid: Number(entry), command }] : [];
      } catch {
        return [];
      }
    });
}

/** An IPv4 address of this machine other than loopback, if it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}
