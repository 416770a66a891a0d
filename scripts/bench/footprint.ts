/**
 * `npm run bench:footprint`: the memory of everything `npm start` runs (npm, the Node-version launcher,
 * start.js, serverless offline with its instances, DynamoDB Local), summed over the process tree, in four
 * states: ready and idle; after a burst of 200 orders from 32 clients; during a 20/s load; quiet again after it.
 * Telemetry is on and exported to receivers on loopback, as with the observability stack up.
 *   npm run bench:footprint -- [--idle-seconds 45] [--load-seconds 30] [--rate 20] [--quiet-seconds 80]
 * Settings under test go in the environment (OFFLINE_MAX_INSTANCES=2 npm run bench:footprint). The last line
 * printed is a JSON summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { localCredentials } from '../lib/dynamodb-local';
import { eventually } from '../lib/eventually';
import { OtlpLogsReceiver, OtlpReceiver } from '../lib/otlp-receivers';
import { freePort } from '../lib/ports';
import { flashSale } from './hot-item';
import { optionsOf } from './options';

interface ProcessMemory {
  pid: number;
  role: string;
  rssMb: number;
}

/** `pid` and every process below it, with their resident memory, from /proc (Linux). */
function processTree(pid: number): ProcessMemory[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      names.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  const tree: ProcessMemory[] = [];
  const visit = (current: number) => {
    tree.push({ pid: current, role: roleOf(names.get(current) ?? ''), rssMb: rssOf(current) });
    for (const [child, parent] of parents) if (parent === current) visit(child);
  };
  visit(pid);
  return tree.filter((entry) => Number.isFinite(entry.rssMb));
}

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

function roleOf(commandLine: string): string {
  if (/DynamoDBLocal|LoopbackDynamoDB/.test(commandLine)) return 'DynamoDB Local';
  if (/serverless\.js offline/.test(commandLine)) return 'serverless offline';
  if (/start\.js/.test(commandLine) && /project-node/.test(commandLine)) return 'Node-version launcher';
  if (/dist\/scripts\/dev\/start\.js/.test(commandLine)) return 'start.js';
  if (/npm/.test(commandLine)) return 'npm start';
  return commandLine.split(' ')[0] ?? 'other';
}

interface Snapshot {
  state: string;
  totalMb: number;
  byRole: Record<string, number>;
}

function snapshot(state: string, pid: number): Snapshot {
  const byRole: Record<string, number> = {};
  for (const entry of processTree(pid)) byRole[entry.role] = (byRole[entry.role] ?? 0) + entry.rssMb;
  const totalMb = Object.values(byRole).reduce((sum, mb) => sum + mb, 0);
  return { state, totalMb, byRole };
}

const options = optionsOf(process.argv);

async function main(): Promise<void> {
  // Idle is read after the reaper's first scheduled run (offline: every 30 s, functions/reaper/function.yml), which
  // leaves its instance loaded from then on, as a one-minute schedule keeps a deployed reaper warm.
  const idleSeconds = options.number('idle-seconds', 45);
  const loadSeconds = options.number('load-seconds', 30);
  const rate = options.number('rate', 20);
  // Quiet again: past the retirement of idle instances (serverless.yml's retireIdleSeconds) and the release after it.
  const quietSeconds = options.number('quiet-seconds', 80);
  const [httpPort, lambdaPort, dynamoPort] = [await freePort(), await freePort(), await freePort()];
  const traces = await new OtlpReceiver({ keepSpans: false }).start();
  const logs = await new OtlpLogsReceiver({ keepRecords: false }).start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'footprint-'));
  const endpoint = `http://127.0.0.1:${dynamoPort}`;
  const env = {
    ...process.env,
    HTTP_PORT: String(httpPort),
    OFFLINE_LAMBDA_PORT: String(lambdaPort),
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    DYNAMODB_LOCAL_DATA_DIR: dataDir,
    OTEL_EXPORTER_OTLP_ENDPOINT: traces.url,
    LOKI_URL: logs.url,
    FRAUD_PERCENTAGE: '0',
  };
  // `npm start`, as a user runs it.
  const start = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  start.stdout.on('data', (chunk) => {
    output += chunk;
  });
  start.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const snapshots: Snapshot[] = [];
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: LOCAL_DEFAULTS.region, credentials: localCredentials() }),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await eventually(() => (output.includes('Orders API') ? true : undefined), {
      what: 'npm start to get ready',
      seen: () => output,
      giveUpIf: () => (start.exitCode === null ? undefined : `npm start exited (${start.exitCode})`),
      timeoutMs: 180_000,
      intervalMs: 200,
    });
    await sleep(idleSeconds * 1000);
    snapshots.push(snapshot('ready and idle', Number(start.pid)));

    process.stderr.write('burst: 200 orders from 32 clients\n');
    const burst = await flashSale({ url, db, itemId: 'footprint', stock: 1_000, orders: 200, clients: 32 });
    snapshots.push(snapshot('after the burst', Number(start.pid)));

    process.stderr.write(`load: ${rate}/s for ${loadSeconds} s\n`);
    const load = spawn(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist/scripts/load/main.js'),
        '--rate',
        String(rate),
        '--duration',
        String(loadSeconds),
        '--url',
        url,
      ],
      { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let loadOutput = '';
    load.stdout.on('data', (chunk) => {
      loadOutput += chunk;
    });
    const during: Snapshot[] = [];
    while (load.exitCode === null) {
      await sleep(2_000);
      during.push(snapshot(`during ${rate}/s`, Number(start.pid)));
    }
    // The peak of the samples taken during the load.
    const peak = during.reduce((max, sample) => (sample.totalMb > max.totalMb ? sample : max));
    snapshots.push(peak);
    await sleep(quietSeconds * 1000);
    snapshots.push(snapshot(`quiet ${quietSeconds} s after the load`, Number(start.pid)));

    const roles = [...new Set(snapshots.flatMap((entry) => Object.keys(entry.byRole)))];
    console.log(`| state | total MB | ${roles.join(' | ')} |`);
    console.log(`|---|---|${roles.map(() => '---').join('|')}|`);
    for (const entry of snapshots) {
      console.log(
        `| ${entry.state} | ${entry.totalMb.toFixed(0)} | ${roles.map((role) => (entry.byRole[role] ?? 0).toFixed(0)).join(' | ')} |`,
      );
    }
    console.log(`burst answers: ${JSON.stringify(burst.finalStatuses)}, p99 ${burst.p99Ms.toFixed(0)} ms`);
    console.log(loadOutput.trim().split('\n').slice(-12).join('\n'));
    console.log(
      JSON.stringify({ footprint: snapshots, burst: { statuses: burst.finalStatuses, p99Ms: burst.p99Ms } }),
    );
  } finally {
    start.kill('SIGINT');
    await new Promise((resolve) => start.once('exit', resolve));
    db.destroy();
    await traces.stop();
    await logs.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
