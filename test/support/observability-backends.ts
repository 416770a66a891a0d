import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { eventually } from '../../scripts/lib/eventually';
import { freePort } from '../../scripts/lib/ports';

/** Where the acceptance tier's real Tempo, Loki and Prometheus come from. */
export type RealStackSource =
  | { kind: 'binaries'; tempo: string; loki: string; prometheus: string }
  | { kind: 'docker' }
  | { kind: 'none'; reason: string };

export interface RealStack {
  /** Tempo's query API (Grafana's Tempo datasource URL). */
  tempoUrl: string;
  /** Tempo's OTLP/HTTP receiver: where the functions send spans. */
  otlpUrl: string;
  lokiUrl: string;
  prometheusUrl: string;
  /** What the servers printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export const HOW_TO_ENABLE =
  'set TEMPO_BIN, LOKI_BIN and PROMETHEUS_BIN (e.g. eval "$(../shared/realstack/unpack .cache/realstack)"), ' +
  'or install Docker';

const SERVERS = ['tempo', 'loki', 'prometheus'] as const;
type Server = (typeof SERVERS)[number];

export function findRealStack(env: NodeJS.ProcessEnv = process.env): RealStackSource {
  const binaries = { tempo: env.TEMPO_BIN, loki: env.LOKI_BIN, prometheus: env.PROMETHEUS_BIN };
  const named = Object.entries(binaries).filter(([, file]) => file);
  if (named.length > 0) {
    const missing = Object.entries(binaries).filter(([, file]) => !file || !existsSync(file));
    if (missing.length > 0) {
      return { kind: 'none', reason: `${missing.map(([name]) => name).join(', ')} binary not found` };
    }
    return { kind: 'binaries', ...(binaries as Record<Server, string>) };
  }
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    return { kind: 'docker' };
  } catch {
    return { kind: 'none', reason: 'no TEMPO_BIN/LOKI_BIN/PROMETHEUS_BIN and no docker compose' };
  }
}

interface ComposeService {
  command?: string[];
  volumes?: string[];
}

/**
 * A compose service's command, run natively: each container path it names is replaced by what compose
 * mounts there (a project file, or a fresh directory for a named volume). The flags themselves are written
 * once, in docker-compose.yml.
 */
export function nativeCommand(
  service: ComposeService,
  dataDir: string,
  replacedMounts: Record<string, string> = {},
): string[] {
  const mounts = (service.volumes ?? []).map((volume) => {
    const [source = '', target = ''] = volume.split(':');
    const isBind = source.startsWith('.') || source.startsWith('/');
    const host = replacedMounts[target] ?? (isBind ? path.resolve(PROJECT_ROOT, source) : dataDir);
    return { target, host };
  });
  const hostPath = (value: string) => {
    const mount = mounts.find(({ target }) => value === target || value.startsWith(`${target}/`));
    return mount ? mount.host + value.slice(mount.target.length) : value;
  };
  // A path is an argument of its own or the value of a --flag=value.
  return (service.command ?? []).map((argument) => {
    const separator = argument.indexOf('=');
    return separator < 0
      ? hostPath(argument)
      : argument.slice(0, separator + 1) + hostPath(argument.slice(separator + 1));
  });
}

function composeServices(): Record<string, ComposeService> {
  const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  return compose.services;
}

/**
 * How a test may change the stack: a folder mounted in place of one of compose's (the SLO test's copy of
 * observability/prometheus with its rules' windows scaled), and variables the configs expand.
 */
export interface RealStackOptions {
  replacedMounts?: Record<string, string>;
  env?: Record<string, string>;
}

export async function startRealStack(
  source: RealStackSource,
  options: RealStackOptions = {},
): Promise<RealStack> {
  if (source.kind === 'none') throw new Error(`no real stack: ${source.reason}; ${HOW_TO_ENABLE}`);
  if (source.kind === 'docker' && (options.replacedMounts || options.env)) {
    throw new Error(
      'this test changes the stack, which it can do with TEMPO_BIN, LOKI_BIN and PROMETHEUS_BIN only',
    );
  }
  return source.kind === 'docker' ? startWithDocker() : startBinaries(source, options);
}

async function startBinaries(
  binaries: Record<Server, string>,
  options: RealStackOptions,
): Promise<RealStack> {
  const services = composeServices();
  const root = mkdtempSync(path.join(tmpdir(), 'orders-realstack-'));
  const ports = {
    tempo: await freePort(),
    tempoGrpc: await freePort(),
    otlpHttp: await freePort(),
    otlpGrpc: await freePort(),
    loki: await freePort(),
    lokiGrpc: await freePort(),
    prometheus: await freePort(),
  };
  // The configs read these (-config.expand-env=true); in compose they keep their defaults.
  const env = {
    TEMPO_LISTEN_ADDRESS: '127.0.0.1',
    TEMPO_HTTP_PORT: String(ports.tempo),
    TEMPO_GRPC_PORT: String(ports.tempoGrpc),
    TEMPO_OTLP_HTTP_PORT: String(ports.otlpHttp),
    TEMPO_OTLP_GRPC_PORT: String(ports.otlpGrpc),
    TEMPO_DATA_DIR: path.join(root, 'tempo'),
    PROMETHEUS_HOSTPORT: `127.0.0.1:${ports.prometheus}`,
    LOKI_LISTEN_ADDRESS: '127.0.0.1',
    LOKI_HTTP_PORT: String(ports.loki),
    LOKI_GRPC_PORT: String(ports.lokiGrpc),
    LOKI_DATA_DIR: path.join(root, 'loki'),
    ...options.env,
  };
  const extraArguments: Record<Server, string[]> = {
    tempo: [],
    loki: [],
    prometheus: [`--web.listen-address=127.0.0.1:${ports.prometheus}`],
  };
  let output = '';
  const children: ChildProcess[] = SERVERS.map((server) => {
    const args = [
      ...nativeCommand(services[server] ?? {}, path.join(root, server), options.replacedMounts),
      ...extraArguments[server],
    ];
    const child = spawn(binaries[server], args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output += `[${server}] ${chunk.toString('utf8')}`;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  });
  const stack: RealStack = {
    tempoUrl: `http://127.0.0.1:${ports.tempo}`,
    otlpUrl: `http://127.0.0.1:${ports.otlpHttp}`,
    lokiUrl: `http://127.0.0.1:${ports.loki}`,
    prometheusUrl: `http://127.0.0.1:${ports.prometheus}`,
    output: () => output,
    async stop() {
      await Promise.all(children.map(stopProcess));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilReady(stack, () => {
      const exited = children.find((child) => child.exitCode !== null);
      return exited ? `${exited.spawnfile} exited (${exited.exitCode})` : undefined;
    });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

async function startWithDocker(): Promise<RealStack> {
  const compose = (...args: string[]) =>
    execFileSync('docker', ['compose', '-p', 'orders-acceptance', ...args], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
  compose('up', '-d', '--wait', ...SERVERS);
  // The ports compose publishes on loopback.
  const stack: RealStack = {
    tempoUrl: 'http://127.0.0.1:3200',
    otlpUrl: 'http://127.0.0.1:4318',
    lokiUrl: 'http://127.0.0.1:3100',
    prometheusUrl: 'http://127.0.0.1:9090',
    output: () => compose('logs', '--no-color', ...SERVERS),
    async stop() {
      compose('down', '-v');
    },
  };
  await waitUntilReady(stack, () => undefined);
  return stack;
}

/** Each server's own readiness endpoint answers 200. */
async function waitUntilReady(stack: RealStack, giveUpIf: () => string | undefined): Promise<void> {
  const endpoints = [`${stack.tempoUrl}/ready`, `${stack.lokiUrl}/ready`, `${stack.prometheusUrl}/-/ready`];
  const status: Record<string, string> = {};
  await eventually(
    async () => {
      const answers = await Promise.all(
        endpoints.map((url) =>
          fetch(url).then(
            async (response) => `${response.status} ${(await response.text()).trim().slice(0, 80)}`,
            (error: Error) => `unreachable (${error.message})`,
          ),
        ),
      );
      endpoints.forEach((url, index) => {
        status[url] = answers[index] ?? '';
      });
      return answers.every((answer) => answer.startsWith('200')) ? true : undefined;
    },
    {
      what: 'Tempo, Loki and Prometheus to report ready',
      seen: () => `${JSON.stringify(status, null, 2)}\n${stack.output().slice(-4_000)}`,
      giveUpIf,
      timeoutMs: 120_000,
      intervalMs: 500,
    },
  );
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
