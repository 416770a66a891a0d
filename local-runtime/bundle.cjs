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
 *   (functions/shared/telemetry/hooks.ts);
 * - Node's built-ins (http) stay real `require`s, which the instrumentations' require hooks see;
 * - the modules an instrumentation patches (pino, the AWS SDK's middleware stack and client) cannot be seen by
 *   a require hook once bundled, so each one hands its exports to the preload when it loads
 *   (`patchBundledModule`), which patches them with the very instrumentation instances the SDK runs. Which
 *   modules those are, and whether their versions are supported, is read from the instrumentations' own module
 *   definitions at build time: a supported module is never bundled unpatched, an unsupported version stops
 *   the build.
 */
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

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
/** @typedef {{ zip: string, bytes: number, handedOver: string[] }} Bundle */

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
async function bundleFunctions({ functionKeys, handlerOf, runtime, outDir }) {
  const esbuild = require('esbuild');
  const JSZip = require('jszip');
  const definitions = plugins.instrumentedModuleDefinitions();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'orders-bundles-'));
  try {
    return await bundleInto(scratch, {
      esbuild,
      JSZip,
      definitions,
      functionKeys,
      handlerOf,
      runtime,
      outDir,
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * @typedef {{ functionKeys: string[], handlerOf: (functionKey: string) => string, runtime: string, outDir: string }} BundleRequest
 */

/**
 * @param {string} scratch
 * @param {BundleRequest & { esbuild: typeof import('esbuild'), JSZip: typeof import('jszip'), definitions: ModuleDefinition[] }} tools
 * @returns {Promise<Record<string, Bundle>>}
 */
async function bundleInto(
  scratch,
  { esbuild, JSZip, definitions, functionKeys, handlerOf, runtime, outDir },
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
    stand: plugins.PRELOAD_STAND_INS,
  });
  /** @type {Record<string, Bundle>} */
  const results = {};
  for (const functionKey of functionKeys) {
    const handlerString = handlerOf(functionKey);
    const entry = `${handlerString.slice(0, handlerString.lastIndexOf('.'))}.js`;
    const handler = await bundle(entry, path.join(scratch, functionKey));
    const zip = new JSZip();
    const add = (/** @type {string} */ name, /** @type {string | Buffer} */ content) =>
      zip.file(name, content, { date: ZIP_DATE, unixPermissions: 0o644, createFolders: false });
    // The bundles are CommonJS: said once here rather than left to Node's syntax detection.
    add('package.json', '{"type":"commonjs"}\n');
    add(entry, handler.content);
    add(PRELOAD, preload.content);
    add(PRELOAD_SDK, sdk.content);
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
      handedOver: [...new Set([...handler.handedOver, ...sdk.handedOver])],
    };
  }
  return results;
}

module.exports = { bundleFunctions };
