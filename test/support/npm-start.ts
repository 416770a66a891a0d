import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';
import { eventually } from './eventually';

export interface StartedProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves once the ready banner is printed; fails early with the output if the process exits. */
  ready: () => Promise<void>;
}

/** `npm start` (or `npm run dev` with `--watch`), as a user runs it, from `root`'s build. */
export function runStart(
  env: NodeJS.ProcessEnv,
  { root = PROJECT_ROOT, args = [] as string[] } = {},
): StartedProcess {
  const child = spawn(process.execPath, [path.join(root, 'dist/scripts/start.js'), ...args], {
    cwd: root,
    // The seed's 5% random fraud flag is off: the orders of these tests must succeed every time.
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
  const ready = async () => {
    await eventually(() => (output.includes('Orders API') ? true : undefined), {
      what: 'the "Orders API" banner of npm start',
      seen: () => output,
      giveUpIf: () => (child.exitCode === null ? undefined : `npm start exited (${child.exitCode})`),
      timeoutMs: 120_000,
    });
  };
  return { child, output: () => output, exited, ready };
}
