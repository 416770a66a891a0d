/** What the bench measures: the four modes, each started as its own process on a free port. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { startOffline } from './offline';
import { freePort } from './ports';

export type Mode = 'a' | 'b' | 'c' | 'd';
export const MODE_NAMES: Record<Mode, string> = {
  a: 'floor (node:http router, no telemetry)',
  b: 'serverless-offline, telemetry off',
  c: 'serverless-offline, traces + logs on',
  d: 'serverless-offline, backends down',
};

export interface Target {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Each mode's environment: telemetry off, on to the local receivers, or on to a backend that is down. */
export function modeEnvironments(
  base: NodeJS.ProcessEnv,
  receivers: { otlp: string; loki: string; deadPort: number },
): Record<Mode, NodeJS.ProcessEnv> {
  const dead = `http://127.0.0.1:${receivers.deadPort}`;
  return {
    a: { ...base, OTEL_SDK_DISABLED: 'true', LOKI_URL: '' },
    b: { ...base, OTEL_SDK_DISABLED: 'true', LOKI_URL: '' },
    c: {
      ...base,
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receivers.otlp,
      LOKI_URL: receivers.loki,
    },
    d: { ...base, OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: dead, LOKI_URL: dead },
  };
}

async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${pattern}" within ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (pattern.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
}

export async function startTarget(mode: Mode, env: NodeJS.ProcessEnv): Promise<Target> {
  const port = await freePort();
  if (mode === 'a') {
    const child = spawn(process.execPath, [path.join(__dirname, 'floor-server.js')], {
      env: { ...process.env, ...env, FLOOR_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitForLine(child, /floor ready/, 60_000);
    child.stdout?.resume();
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid ?? 0,
      stop: async () => {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      },
    };
  }
  const offline = await startOffline({
    env: { ...env, HTTP_PORT: String(port), OFFLINE_LAMBDA_PORT: String(await freePort()) },
    keepOutput: false,
  });
  return { url: offline.url, pid: offline.process.pid ?? 0, stop: offline.stop };
}
