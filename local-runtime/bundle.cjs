'use strict';
/**
 * The deployed artifact: one zip per function (package.individually), holding esbuild bundles at the paths
 * tsc would give them (so the handler string and NODE_OPTIONS are the same offline and deployed):
 * - dist/functions/<name>/handler.js: the handler and everything it imports;
 * - dist/functions/shared/telemetry/tracing.js: the tracing preload that NODE_OPTIONS names, and tracing-sdk.js, the
 *   SDK's start, which it requires only when tracing is on.
 * They are built from the TypeScript sources, so that packages resolve to their ES module builds, which esbuild
 * can tree-shake (zod's CommonJS build alone is 550 KB, most of it locales no function uses). The AWS SDK is
 * the exception: it resolves to its CommonJS builds, as require() would load them (see below).
 *
 * Telemetry stays whole inside a bundle:
 * - the invocation span does not depend on a file to hook: the handler factories wrap the handler
 *   (functions/shared/telemetry/handoff.ts);
 * - Node's built-ins (http) stay real `require`s, which the instrumentations' require hooks see;
 * - the modules an instrumentation patches (pino, the AWS SDK's middleware stack and client) cannot be seen by
 *   a require hook once bundled, so each one hands its exports to the preload when it loads
 *   (`patchBundledModule`), which patches them with the very instrumentation instances the SDK runs. Which
 *   modules those are, and whether their versions are supported, is read from the instrumentations' own module
 *   definitions at build time: a supported module is never bundled unpatched, an unsupported version stops
 *   the build.
 */
const {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CODE_CACHE = require('../functions/shared/telemetry/code-cache.json');
const { buildCompileCache, cacheNodes } = require('./compile-cache.cjs');
const plugins = require('./esbuild-plugins.cjs');
const { PROJECT_ROOT, TRACING_PRELOAD } = require('./project.cjs');

/** The preload, at the path NODE_OPTIONS names under the task root. */
const PRELOAD = path.relative(PROJECT_ROOT, TRACING_PRELOAD).split(path.sep).join('/');
/** The SDK's start, which the preload requires only when tracing is on. */
const PRELOAD_SDK = PRELOAD.replace(/tracing\.js$/, 'tracing-sdk.js');
/** The source a bundle at `output` (dist/functions/…/x.js) is built from (functions/…/x.ts). */
const sourceOf = (/** @type {string} */ output) => output.replace(/^dist\//, '').replace(/\.js$/, '.ts');
/** The runtime the bundles are compiled for: serverless.yml's provider.runtime, as an esbuild target. */
const targetOf = (/** @type {string} */ runtime) => `node${/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? '24'}`;
/** Fixed file times, so that the same code gives the same zip (and CloudFormation sees no change). */
const ZIP_DATE = new Date('2000-01-01T00:00:00Z');

/** @typedef {import('./esbuild-plugins.cjs').ModuleDefinition} ModuleDefinition */
/** @typedef {import('esbuild').Plugin} Plugin */
/**
 * @typedef {{
 *   zip: string,
 *   bytes: number,
 *   handedOver: string[],
 *   compileCache: { built: string[], skipped: Record<string, string> },
 * }} Bundle
 */

/**
 * The esbuild options of one bundle.
 * @param {{ entry: string, outfile: string, runtime: string, plugins: Plugin[] }} options
 * @returns {import('esbuild').BuildOptions & { metafile: true }}
 */
function bundleOptions({ entry, outfile, runtime, plugins }) {
  return {
    entryPoints: [path.join(PROJECT_ROOT, sourceOf(entry))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: targetOf(runtime),
    mainFields: ['module', 'main'],
    minify: true,
    // Error classes keep their names: they are what logs and error bodies report.
    keepNames: true,
    legalComments: 'eof',
    logLevel: 'warning',
    plugins,
    metafile: true,
  };
}

/**
 * Bundles and zips every function into `outDir/<functionKey>.zip`; answers { functionKey: { zip, bytes,
 * handedOver } }. `handlerOf(functionKey)` is the function's handler string ("dist/functions/fraud/handler.handler").
 * @param {BundleRequest} request
 * @returns {Promise<Record<string, Bundle>>}
 */
async function bundleFunctions(request) {
  const esbuild = require('esbuild');
  const JSZip = require('jszip');
  const definitions = plugins.instrumentedModuleDefinitions();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'orders-bundles-'));
  try {
    return await bundleInto(scratch, { esbuild, JSZip, definitions, ...request });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * @typedef {{
 *   functionKeys: string[],
 *   handlerOf: (functionKey: string) => string,
 *   environmentOf: (functionKey: string) => Record<string, string>,
 *   runtime: string,
 *   architecture: 'arm64' | 'x86_64',
 *   cacheForThisMachine: boolean,
 *   outDir: string,
 * }} BundleRequest
 */

/**
 * @param {string} scratch
 * @param {BundleRequest & { esbuild: typeof import('esbuild'), JSZip: typeof import('jszip'), definitions: ModuleDefinition[] }} tools
 * @returns {Promise<Record<string, Bundle>>}
 */
async function bundleInto(
  scratch,
  {
    esbuild,
    JSZip,
    definitions,
    functionKeys,
    handlerOf,
    environmentOf,
    runtime,
    architecture,
    cacheForThisMachine,
    outDir,
  },
) {
  /**
   * Bundles `entry` (an output path under dist/) into `dir`; answers the file and what it handed over. A
   * handler's bundle holds the AWS SDK clients, so it resolves the AWS SDK to its CommonJS builds; the
   * preload's holds no client (only the SigV4 signer), and takes every package's ES module build.
   * @param {string} entry
   * @param {string} dir
   * @param {{ separate?: string[], awsSdkAsRequire?: boolean, stand?: Record<string, string> }} [options]
   */
  const bundle = async (entry, dir, { separate = [], awsSdkAsRequire = true, stand = {} } = {}) => {
    const outfile = path.join(dir, entry);
    /** @type {string[]} */
    const handedOver = [];
    await esbuild.build(
      bundleOptions({
        entry,
        outfile,
        runtime,
        plugins: [
          plugins.keepSeparate(separate),
          plugins.standIns(stand),
          plugins.axiosWithoutFetch,
          ...(awsSdkAsRequire ? [plugins.resolveAsRequire(definitions)] : []),
          plugins.handOverInstrumentedModules(definitions, handedOver),
        ],
      }),
    );
    return { content: readFileSync(outfile), handedOver };
  };
  // The preload is two files: an untraced instance (OTEL_SDK_DISABLED=true) never even parses the SDK's.
  const preloadDir = path.join(scratch, 'preload');
  const preload = await bundle(PRELOAD, preloadDir, {
    separate: [`./${path.basename(PRELOAD_SDK, '.js')}`],
    awsSdkAsRequire: false,
  });
  const sdk = await bundle(PRELOAD_SDK, preloadDir, {
    awsSdkAsRequire: false,
    stand: { ...plugins.PRELOAD_STAND_INS, ...plugins.NODE_SDK_UNUSED },
  });
  /**
   * Each function's files as its task root holds them: its bundle, the preload, and then the compile cache.
   * @type {Array<{ functionKey: string, handlerString: string, entry: string, taskRoot: string, handedOver: string[], files: Record<string, string | Buffer> }>}
   */
  const tasks = [];
  for (const functionKey of functionKeys) {
    const handlerString = handlerOf(functionKey);
    const entry = `${handlerString.slice(0, handlerString.lastIndexOf('.'))}.js`;
    const handler = await bundle(entry, path.join(scratch, functionKey));
    const taskRoot = path.join(scratch, functionKey, 'task');
    /** @type {Record<string, string | Buffer>} */
    const files = {
      // The bundles are CommonJS: said once here rather than left to Node's syntax detection.
      'package.json': '{"type":"commonjs"}\n',
      [entry]: handler.content,
      [PRELOAD]: preload.content,
      [PRELOAD_SDK]: sdk.content,
    };
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(taskRoot, name)), { recursive: true });
      writeFileSync(path.join(taskRoot, name), content);
    }
    tasks.push({ functionKey, handlerString, entry, taskRoot, handedOver: handler.handedOver, files });
  }
  // The caches are built by child processes (under qemu-user for a foreign architecture): one per core.
  const nodes = cacheNodes(architecture, cacheForThisMachine);
  const caches = await inParallel(tasks, os.availableParallelism(), (task) =>
    buildCompileCache({
      taskRoot: task.taskRoot,
      handler: task.handlerString,
      preload: PRELOAD,
      handlerFile: task.entry,
      env: environmentOf(task.functionKey),
      nodes,
    }),
  );
  /** @type {Record<string, Bundle>} */
  const results = {};
  for (const [index, { functionKey, taskRoot, handedOver, files }] of tasks.entries()) {
    for (const file of listFiles(path.join(taskRoot, CODE_CACHE.directory))) {
      files[path.relative(taskRoot, file).split(path.sep).join('/')] = readFileSync(file);
    }
    const zip = new JSZip();
    for (const [name, content] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
      zip.file(name, content, { date: ZIP_DATE, unixPermissions: 0o644, createFolders: false });
    }
    const content = await zip.generateAsync({
      type: 'nodebuffer',
      compression: 'DEFLATE',
      compressionOptions: { level: 9 },
      platform: 'UNIX',
    });
    const zipPath = path.join(outDir, `${functionKey}.zip`);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(zipPath, content);
    results[functionKey] = {
      zip: zipPath,
      bytes: content.length,
      compileCache: /** @type {Bundle['compileCache']} */ (caches[index]),
      handedOver: [...new Set([...handedOver, ...sdk.handedOver])],
    };
  }
  return results;
}

/**
 * `work` for each item, at most `limit` at once; answers the results in the items' order.
 * @template T, R
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T) => Promise<R>} work
 * @returns {Promise<R[]>}
 */
async function inParallel(items, limit, work) {
  /** @type {R[]} */
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(/** @type {T} */ (items[index]));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Every file under `dir`, if it exists.
 * @param {string} dir
 * @returns {string[]}
 */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

module.exports = { bundleFunctions };
