'use strict';
/**
 * A V8 code cache for each function's package, built at packaging: the preload, the SDK and the handler, taken
 * after the package's init has run, so it holds the functions init compiles lazily as well as the top level
 * (functions/shared/telemetry/code-cache.ts). The preload reads it from `compile-cache/` under the task root
 * (read-only deployed).
 *
 * A cache fits one Node version and architecture (one folder each, e.g. `v24.22.3-arm64`), and V8 checks its
 * version and flags again: a Lambda whose Node patch release differs from the one that built the cache
 * compiles as if there were none, and the preload says so in one line. So the cache
 * is built with the Node that runs the packaging, at its exact version, for the architecture the functions
 * deploy on (under qemu-user with npm's `node-linux-<arch>` of that version when the machine's differs) and,
 * for a package that runs here (the deployed-contract tier, the benches), for the machine's own. A zip carries
 * only the deployed one: a cache taken after init is about three times the size of the bundle it is for.
 */
const { execFileSync, spawn } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, renameSync, rmSync } = require('node:fs');
const path = require('node:path');
const { PROJECT_ROOT } = require('./project.cjs');
const { LAMBDA_NODE_FLAGS } = require('./runtimes.cjs');

const BUILDER = path.join(__dirname, 'compile-cache-builder.cjs');
/** Where npm's Node builds for other architectures are unpacked, once. */
const NODE_BUILDS = path.join(PROJECT_ROOT, '.cache', 'node-builds');
/** Node's architecture name for each of Lambda's. */
const NODE_ARCH = /** @type {const} */ ({ arm64: 'arm64', x86_64: 'x64' });
/** qemu-user and the C libraries a foreign Linux Node needs, by Node architecture. */
const FOREIGN = /** @type {Record<string, { qemu: string, sysroot: string, packages: string }>} */ ({
  arm64: {
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu',
    packages: 'qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross',
  },
  x64: {
    qemu: 'qemu-x86_64-static',
    sysroot: '/usr/x86-64-linux-gnu',
    packages: 'qemu-user-static libc6-amd64-cross libstdc++6-amd64-cross',
  },
});

/** Where npm's build of this Node version for `arch` is unpacked. */
const nodeBuildHome = (/** @type {string} */ arch) =>
  path.join(NODE_BUILDS, `node-linux-${arch}-${process.version.slice(1)}`);

/**
 * The command that runs this Node version on `arch`: this process's Node on its own architecture, else npm's
 * build of the same version (fetched beforehand: packaging uses no network) under qemu-user. Answers why not
 * when it cannot.
 * @param {string} arch
 * @returns {{ command: string[] } | { missing: string }}
 */
function nodeFor(arch) {
  if (arch === process.arch) return { command: [process.execPath] };
  const foreign = FOREIGN[arch];
  if (!foreign) return { missing: `no way to run Node for ${arch} here` };
  const onPath = (/** @type {string} */ name) =>
    (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, name)));
  if (!onPath(foreign.qemu) || !existsSync(foreign.sysroot))
    return {
      missing: `${foreign.qemu} and ${foreign.sysroot} are needed (apt-get install ${foreign.packages})`,
    };
  const node = path.join(nodeBuildHome(arch), 'bin', 'node');
  if (!existsSync(node))
    return {
      missing: `npm's node-linux-${arch}@${process.version.slice(1)} is not fetched (npm run fetch:node-builds)`,
    };
  return { command: [foreign.qemu, '-L', foreign.sysroot, node] };
}

/**
 * `npm run fetch:node-builds`: fetches npm's build of this Node version for every architecture the functions
 * may deploy on that is not this machine's, into .cache/, unpacked beside its final place and moved there whole.
 */
function fetchNodeBuilds() {
  for (const arch of Object.values(NODE_ARCH)) {
    if (arch === process.arch) continue;
    const home = nodeBuildHome(arch);
    if (existsSync(path.join(home, 'bin', 'node'))) continue;
    const version = process.version.slice(1);
    const scratch = `${home}.${process.pid}`;
    mkdirSync(scratch, { recursive: true });
    try {
      execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--silent'], {
        cwd: scratch,
        stdio: 'pipe',
      });
      const tarball = readdirSync(scratch).find((file) => file.endsWith('.tgz'));
      if (!tarball) throw new Error(`npm pack node-linux-${arch}@${version} gave no tarball`);
      execFileSync('tar', ['-xzf', tarball], { cwd: scratch });
      rmSync(home, { recursive: true, force: true });
      renameSync(path.join(scratch, 'package'), home);
      process.stdout.write(
        `fetched node-linux-${arch}@${version} into ${path.relative(PROJECT_ROOT, home)}\n`,
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * Runs the builder on one Node: it runs the package's init (preload, tracing on, and handler) from `taskRoot`,
 * as a cold start does, and writes the code cache into `taskRoot/compile-cache`.
 * @param {string[]} command
 * @param {{ taskRoot: string, preload: string, handlerFile: string, env: Record<string, string> }} target
 * @returns {Promise<void>}
 */
function runBuilder(command, { taskRoot, preload, handlerFile, env }) {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    // With Lambda's flags: V8 refuses a cache built under other ones. The heap sizes do not enter its check.
    const child = spawn(
      /** @type {string} */ (file),
      [...args, ...LAMBDA_NODE_FLAGS, BUILDER, taskRoot, preload, handlerFile],
      {
        cwd: taskRoot,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`the compile cache builder exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

/** @typedef {{ commands: Record<string, string[]>, missing: Record<string, string> }} CacheNodes */

/**
 * The Nodes a packaging builds its caches on: one for the architecture the functions deploy on and, with
 * `forThisMachine` (a package to run here: the deployed-contract tier, the benches), one for this machine's;
 * each resolved once (a foreign one fetched once), before the functions' caches are built in parallel.
 * Answers their commands by Node architecture and, for one that cannot run here, why.
 * @param {'arm64' | 'x86_64'} architecture
 * @param {boolean} forThisMachine
 * @returns {CacheNodes}
 */
function cacheNodes(architecture, forThisMachine) {
  /** @type {CacheNodes} */
  const nodes = { commands: {}, missing: {} };
  const archs = forThisMachine ? [NODE_ARCH[architecture], process.arch] : [NODE_ARCH[architecture]];
  for (const arch of new Set(archs)) {
    const node = nodeFor(arch);
    if ('missing' in node) nodes.missing[arch] = node.missing;
    else nodes.commands[arch] = node.command;
  }
  return nodes;
}

/**
 * Builds `taskRoot/compile-cache` on each of `nodes`. `env` is the function's own environment as the template
 * gives it (the handler validates it as it loads); nothing reaches the network: no extension, no SSM read.
 * `handler` is its handler string, `preload` and `handlerFile` the files under the task root. Answers the
 * architectures built and, for one that could not be, why.
 * @param {{ taskRoot: string, handler: string, preload: string, handlerFile: string, env: Record<string, string>, nodes: CacheNodes }} request
 * @returns {Promise<{ built: string[], skipped: Record<string, string> }>}
 */
async function buildCompileCache({ taskRoot, handler, preload, handlerFile, env, nodes }) {
  const builderEnv = {
    PATH: process.env.PATH ?? '',
    ...env,
    _HANDLER: handler,
    LAMBDA_TASK_ROOT: taskRoot,
    // Load the SDK too (its module is cached with the rest), but start nothing that talks to anyone.
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER: '',
    NODE_OPTIONS: '',
  };
  for (const command of Object.values(nodes.commands)) {
    await runBuilder(command, { taskRoot, preload, handlerFile, env: builderEnv });
  }
  return { built: Object.keys(nodes.commands), skipped: nodes.missing };
}

module.exports = { buildCompileCache, cacheNodes };

if (require.main === module) fetchNodeBuilds();
