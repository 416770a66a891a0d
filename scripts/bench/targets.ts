/** What the bench measures: the four modes, each started as its own process on a free port. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startOffline } from '../lib/offline';
import { freePort } from '../lib/ports';
import type { FloorRequest } from './floor-process';
import type { ColdStart } from './floor-server';

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

/** The floor's new instances, started in its process (floor-process.ts). */
export interface RemoteInstance {
  coldStart(): Promise<ColdStart>;
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
}

export interface FloorTarget extends Target {
  /** serverless.yml's custom.instanceNodeOptions, as argv. */
  instanceNodeOptions: string[];
  newInstance(key: string, env: NodeJS.ProcessEnv): Promise<RemoteInstance>;
}

/** The floor (mode (a)) in a process of its own, on a free port. */
export async function startFloorTarget(env: NodeJS.ProcessEnv): Promise<FloorTarget> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, 'floor-process.js')], {
    env: { ...process.env, ...env, FLOOR_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.resume();
  const ready = await new Promise<{ ready: string; instanceNodeOptions: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the floor was not ready within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the floor exited with ${code}`)));
    child.on('message', (message: { ready?: string; instanceNodeOptions: string[] }) => {
      if (message.ready === undefined) return;
      clearTimeout(timer);
      resolve({ ready: message.ready, instanceNodeOptions: message.instanceNodeOptions });
    });
  });
  let nextId = 0;
  const call = <T>(request: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      const onMessage = (message: { id?: number; value: T }) => {
        if (message.id !== id) return;
        child.off('message', onMessage);
        resolve(message.value);
      };
      child.on('message', onMessage);
      child.send({ id, ...request } as FloorRequest);
    });
  return {
    url: ready.ready,
    pid: child.pid ?? 0,
    instanceNodeOptions: ready.instanceNodeOptions,
    async newInstance(key, instanceEnv) {
      const id = await call<number>({ newInstance: { key, env: instanceEnv } });
      return {
        coldStart: () => call<ColdStart>({ coldStart: id }),
        memoryUsage: () => call<NodeJS.MemoryUsage>({ memoryUsage: id }),
      };
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
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

export async function startTarget(mode: Mode, env: NodeJS.ProcessEnv): Promise<Target> {
  if (mode === 'a') return startFloorTarget(env);
  const offline = await startOffline({
    env: { ...env, HTTP_PORT: String(await freePort()), OFFLINE_LAMBDA_PORT: String(await freePort()) },
    keepOutput: false,
  });
  return { url: offline.url, pid: offline.process.pid ?? 0, stop: offline.stop };
}
