import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { LAMBDA_INSTANCES_READY } from '#local-runtime/ready-lines.cjs';
import { eventually } from './eventually';
import { freePort } from './ports';

/** glibc's malloc arenas for the offline process, which `npm start` sets unless the shell does. */
export const MALLOC_ARENAS = '2';

export interface OfflineOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Called with every line serverless-offline prints. */
  onLine?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Keep everything printed for output(); off for long runs, where it would only grow. */
  keepOutput?: boolean;
  /** The service folder (its serverless.yml); the project root by default. */
  cwd?: string;
}

export interface Offline {
  url: string;
  process: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  stop(): Promise<void>;
}

const SERVERLESS_CLI = path.join(PROJECT_ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
/** The plugin's last start-up line: after it, every function has its instances (prewarmed or not). */

/** What a benchmark measuring the functions themselves runs offline with: no telemetry, no random fraud, no chaos. */
export const FUNCTIONS_ALONE = { OTEL_SDK_DISABLED: 'true', LOKI_URL: '', FRAUD_PERCENTAGE: '0', CHAOS: '' };

/** Free loopback ports for serverless offline's API and its Lambda invoke API. */
export async function offlinePorts(): Promise<{ HTTP_PORT: string; OFFLINE_LAMBDA_PORT: string }> {
  return { HTTP_PORT: String(await freePort()), OFFLINE_LAMBDA_PORT: String(await freePort()) };
}

/** Runs `serverless offline start` with this Node and resolves once the API listens and its instances are set up. */
export async function startOffline(options: OfflineOptions = {}): Promise<Offline> {
  const env = { ...process.env, ...options.env };
  const child = spawn(process.execPath, [SERVERLESS_CLI, 'offline', 'start'], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let pending = '';
  let url: string | undefined;
  let serverUrl: string | undefined;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (options.keepOutput !== false || !url) output += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const ready = /Server ready: (https?:\/\/\S+)/.exec(line);
      if (ready?.[1]) serverUrl = ready[1].replace(/\/$/, '');
      if (line.includes(LAMBDA_INSTANCES_READY)) url = serverUrl;
      options.onLine?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await Promise.race([exited, sleep(5_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  try {
    const ready = await eventually(() => url, {
      what: 'serverless offline to be ready',
      seen: () => output,
      giveUpIf: () => (child.exitCode === null ? undefined : `serverless offline exited (${child.exitCode})`),
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      intervalMs: 50,
    });
    return { url: ready, process: child, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
