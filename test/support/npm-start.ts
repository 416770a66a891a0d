import { type ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { eventually } from '../../scripts/lib/eventually';

export interface StartedProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves once the ready banner is printed; fails early with the output if the process exits. */
  ready: () => Promise<void>;
}

/** A compiled script run as a user runs it, with everything it prints kept. */
export function runScript(
  script: string,
  env: NodeJS.ProcessEnv,
  { root = PROJECT_ROOT, args = [] as string[] } = {},
): Omit<StartedProcess, 'ready'> {
  const child = spawn(process.execPath, [path.join(root, script), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
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

/** `npm start` (or `npm run dev` with `--watch`), as a user runs it, from `root`'s build. */
export function runStart(
  env: NodeJS.ProcessEnv,
  { root = PROJECT_ROOT, args = [] as string[] } = {},
): StartedProcess {
  // The seed's 5% random fraud flag is off: the orders of these tests must succeed every time.
  const started = runScript(
    'dist/scripts/dev/start.js',
    { LOKI_URL: '', OTEL_SDK_DISABLED: 'true', FRAUD_PERCENTAGE: '0', ...env },
    { root, args },
  );
  const { child, output } = started;
  const ready = async () => {
    await eventually(() => (output().includes('Orders API') ? true : undefined), {
      what: 'the "Orders API" banner of npm start',
      seen: output,
      giveUpIf: () => (child.exitCode === null ? undefined : `npm start exited (${child.exitCode})`),
      timeoutMs: 120_000,
    });
  };
  return { ...started, ready };
}

/**
 * A copy of the project to run `npm start` from, so a test may edit it without touching the real one.
 * node_modules is shared, except that `offlineVersion` gives the copy its own serverless-offline that says it
 * is that version (everything else about it the same).
 */
export function projectCopy({ offlineVersion }: { offlineVersion?: string } = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), 'orders-copy-'));
  for (const entry of [
    'functions',
    'scripts',
    'test',
    'local-runtime',
    'dist',
    'serverless.yml',
    'tsconfig.json',
    'package.json',
    '.nvmrc',
  ]) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(root, entry), { recursive: true });
  }
  const modules = path.join(PROJECT_ROOT, 'node_modules');
  if (!offlineVersion) {
    symlinkSync(modules, path.join(root, 'node_modules'));
    return root;
  }
  mkdirSync(path.join(root, 'node_modules'));
  for (const entry of readdirSync(modules)) {
    if (entry !== 'serverless-offline')
      symlinkSync(path.join(modules, entry), path.join(root, 'node_modules', entry));
  }
  const offline = path.join(root, 'node_modules', 'serverless-offline');
  cpSync(path.join(modules, 'serverless-offline'), offline, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(offline, 'package.json'), 'utf8'));
  writeFileSync(path.join(offline, 'package.json'), JSON.stringify({ ...manifest, version: offlineVersion }));
  return root;
}
