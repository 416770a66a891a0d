/**
 * `npm start`: DynamoDB Local (unless AWS_ENDPOINT_URL_DYNAMODB already answers), tables and seed data,
 * then serverless offline, whose instances start on first use as deployed. Ctrl-C stops everything it started.
 * `npm run dev` (`--watch`) also runs `tsc --watch`, and each rebuild reaches the next request.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { TELEMETRY_STATUS } from '#local-runtime/ready-lines.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { type DynamoDbLocal, isReachable, startDynamoDbLocal } from '../lib/dynamodb-local';
import { dynamodbEndpoint, grafanaUrl } from '../lib/endpoints';
import { MALLOC_ARENAS, type Offline, startOffline } from '../lib/offline';
import { lineFormatter, terminalOptions } from '../lib/terminal';

/** `tsc --watch`; resolves once its first build is done, so the API starts on current code. */
async function startCompilerWatch(): Promise<ChildProcess> {
  const tsc = spawn(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', PROJECT_ROOT, '--watch', '--preserveWatchOutput'],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let pending = '';
    tsc.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines.filter((text) => text.trim())) {
        console.log(`tsc | ${line.replace(/^\[[^\]]+\] /, '')}`);
        if (/Watching for file changes/.test(line)) resolve();
      }
    });
    tsc.once('exit', (code) => reject(new Error(`tsc --watch exited (${code})`)));
  });
  return tsc;
}

/**
 * Restarts DynamoDB Local on its data on disk whenever it exits on its own, with one line when it exits and one
 * when it answers again. Meanwhile the functions answer their 5xx with its body, as they would deployed with
 * DynamoDB unreachable.
 */
function superviseDynamoDb(
  first: DynamoDbLocal,
  restart: () => Promise<DynamoDbLocal>,
  isStopping: () => boolean,
) {
  let current = first;
  const watch = (dynamo: DynamoDbLocal) =>
    dynamo.process.once('exit', async (code, signal) => {
      if (isStopping()) return;
      console.log(
        `DynamoDB Local exited (${signal ?? `exit code ${code}`}); restarting it on its data on disk`,
      );
      for (let attempt = 1; ; attempt++) {
        try {
          current = await restart();
          console.log(`DynamoDB Local answers again at ${current.endpoint}`);
          watch(current);
          return;
        } catch (error) {
          const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
          console.error(`DynamoDB Local did not restart (attempt ${attempt}): ${reason}`);
          if (attempt >= RESTART_ATTEMPTS || isStopping()) return;
          await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
        }
      }
    });
  watch(first);
  return { current: () => current };
}

/** How often a DynamoDB Local that exited is started again before npm start gives up on it. */
const RESTART_ATTEMPTS = 3;

async function main(): Promise<void> {
  const endpoint = dynamodbEndpoint();
  const watching = process.argv.includes('--watch');
  const terminal = terminalOptions(process.env, process.argv, Boolean(process.stdout.isTTY));
  const show = lineFormatter(terminal);
  let dynamo: { current(): DynamoDbLocal } | undefined;
  let offline: Offline | undefined;
  let compiler: ChildProcess | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    compiler?.kill('SIGTERM');
    await offline?.stop();
    await dynamo?.current().stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    if (watching) compiler = await startCompilerWatch();
    if (await isReachable(endpoint)) {
      console.log(`using the DynamoDB at ${endpoint}`);
    } else {
      const port = Number(new URL(endpoint).port || new URL(LOCAL_DEFAULTS.dynamodbEndpoint).port);
      console.log(`starting DynamoDB Local on port ${port} (data in .dynamodb/data)...`);
      const startDynamo = () => startDynamoDbLocal({ port, inMemory: false });
      dynamo = superviseDynamoDb(await startDynamo(), startDynamo, () => stopping);
    }
    let telemetry = `${TELEMETRY_STATUS} unknown`;
    offline = await startOffline({
      env: {
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        // One process with a worker thread per instance: glibc would give each thread a malloc arena of its own,
        // which holds on to what the thread freed (BENCHMARKS.md, "Footprint").
        MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? MALLOC_ARENAS,
        ...(watching ? { OFFLINE_RELOAD: 'true' } : {}),
      },
      // Long-running: what was printed is shown, not kept.
      keepOutput: false,
      onLine: (line) => {
        if (line.startsWith(TELEMETRY_STATUS)) {
          telemetry = line;
          return;
        }
        const shown = show(line);
        if (shown !== undefined) console.log(shown);
      },
    });
    offline.process.once('exit', (code) => void shutdown(code ?? 1));
    const logs =
      terminal.format === 'pretty'
        ? 'pretty (LOG_FORMAT=json prints the JSON lines)'
        : 'JSON lines (LOG_FORMAT=pretty makes them readable)';
    console.log(
      [
        '',
        `  Orders API   POST ${offline.url}/api/order   (GET ${offline.url}/api/order/<order_id> reads it back)`,
        '  Try it       npm run order   (or ./create_order.sh): prints the trace and its Grafana link',
        `  Grafana      ${grafanaUrl()}   (dashboard "Orders")`,
        `  Telemetry    ${telemetry.slice(TELEMETRY_STATUS.length).trim()}`,
        `  Logs         ${logs}${terminal.verbose ? '' : "; --verbose shows serverless-offline's own"}`,
        watching ? '  Reload       on: saving a .ts file rebuilds it, and the next request runs it' : '',
        '',
      ]
        .filter((line, index, lines) => line !== '' || index === 0 || index === lines.length - 1)
        .join('\n'),
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await shutdown(1);
  }
}

void main();
