'use strict';
/**
 * Runs `node <args>` on the Node major in .nvmrc, the one the functions' Lambda runtime runs (nodejs24.x).
 * When the current Node is another major, it fetches the .nvmrc version's binary once from the npm registry
 * (the official `node-<platform>-<arch>` package) into .cache/ and runs the command with it instead, so that
 * what passes here is what runs deployed. Plain CommonJS, so it runs on any Node that can start npm.
 * `--which` prints that binary instead of running it.
 */
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const wanted = fs.readFileSync(path.join(root, '.nvmrc'), 'utf8').trim();
const wantedMajor = Number(wanted.split('.')[0]);
const major = Number(process.versions.node.split('.')[0]);

function nodeBinary() {
  if (major === wantedMajor) return process.execPath;
  const home = path.join(root, '.cache', `node-${wanted}`);
  const binary = path.join(home, 'bin', 'node');
  if (!fs.existsSync(binary)) {
    const platform = /** @type {Record<string, string>} */ ({ linux: 'linux', darwin: 'darwin' })[
      process.platform
    ];
    if (!platform) throw new Error(`Install Node ${wanted} yourself (found ${process.version}); see .nvmrc.`);
    const pkg = `node-${platform}-${os.arch()}@${wanted}`;
    console.error(
      `Node ${process.version} is not the functions' runtime (Node ${wantedMajor}); fetching ${pkg} from the npm registry (once)...`,
    );
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'project-node-'));
    const tarball = execFileSync('npm', ['pack', pkg, '--silent'], { cwd: scratch, encoding: 'utf8' }).trim();
    execFileSync('tar', ['-xzf', String(tarball.split('\n').pop())], { cwd: scratch });
    fs.mkdirSync(home, { recursive: true });
    fs.cpSync(path.join(scratch, 'package'), home, { recursive: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return binary;
}

// `--which`: only print the binary, for a script that execs it and so leaves no launcher process behind (npm start).
if (process.argv[2] === '--which') {
  console.log(nodeBinary());
  process.exit(0);
}

const child = spawn(nodeBinary(), process.argv.slice(2), { stdio: 'inherit', cwd: root });
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM']))
  process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
