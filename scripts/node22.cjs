'use strict';
/**
 * Runs `node <args>` on the Node version in .nvmrc. When the current Node is older than the project needs
 * (the OpenTelemetry line requires 22.15+), it fetches that version's binary once from the npm registry
 * (the official `node-<platform>-<arch>` package) into .cache/ and runs the command with it instead.
 * Plain CommonJS, so it runs on any Node that can start npm.
 */
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const wanted = fs.readFileSync(path.join(root, '.nvmrc'), 'utf8').trim();
const [major, minor] = process.versions.node.split('.').map(Number);

function nodeBinary() {
  if (major === 22 && minor >= 15) return process.execPath;
  const home = path.join(root, '.cache', `node-${wanted}`);
  const binary = path.join(home, 'bin', 'node');
  if (!fs.existsSync(binary)) {
    const platform = { linux: 'linux', darwin: 'darwin' }[process.platform];
    if (!platform) throw new Error(`Install Node ${wanted} yourself (found ${process.version}); see .nvmrc.`);
    const pkg = `node-${platform}-${os.arch()}@${wanted}`;
    console.error(
      `Node ${process.version} is too old for this project; fetching ${pkg} from the npm registry (once)...`,
    );
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'node22-'));
    const tarball = execFileSync('npm', ['pack', pkg, '--silent'], { cwd: scratch, encoding: 'utf8' }).trim();
    execFileSync('tar', ['-xzf', tarball.split('\n').pop()], { cwd: scratch });
    fs.mkdirSync(home, { recursive: true });
    fs.cpSync(path.join(scratch, 'package'), home, { recursive: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return binary;
}

const child = spawn(nodeBinary(), process.argv.slice(2), { stdio: 'inherit', cwd: root });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
