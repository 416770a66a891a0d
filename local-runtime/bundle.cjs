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

const PROJECT_ROOT = path.resolve(__dirname, '..');
const PRELOAD = 'dist/functions/shared/telemetry/tracing.js';
/** The SDK's start, which the preload requires only when tracing is on. */
const PRELOAD_SDK = 'dist/functions/shared/telemetry/tracing-sdk.js';
/** The source a bundle at `output` (dist/functions/…/x.js) is built from (functions/…/x.ts). */
const sourceOf = (/** @type {string} */ output) => output.replace(/^dist\//, '').replace(/\.js$/, '.ts');
/** The runtime the bundles are compiled for: serverless.yml's provider.runtime, as an esbuild target. */
const targetOf = (/** @type {string} */ runtime) => `node${/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? '24'}`;
/** Fixed file times, so that the same code gives the same zip (and CloudFormation sees no change). */
const ZIP_DATE = new Date('2000-01-01T00:00:00Z');

/**
 * A module an instrumentation patches: by package (`patch`) or by file (`files`), for `supportedVersions`.
 * @typedef {{ name: string, supportedVersions: string[], patch?: Function, files?: Array<{ name: string, supportedVersions: string[] }> }} ModuleDefinition
 */
/** @typedef {import('esbuild').Plugin} Plugin */
/** @typedef {{ zip: string, bytes: number, handedOver: string[] }} Bundle */

/**
 * The instrumentations the preload runs whose modules a bundle contains.
 * @returns {ModuleDefinition[]}
 */
function instrumentedModuleDefinitions() {
  const { PinoInstrumentation } = require('@opentelemetry/instrumentation-pino');
  const { AwsInstrumentation } = require('@opentelemetry/instrumentation-aws-sdk');
  return [new PinoInstrumentation({ enabled: false }), new AwsInstrumentation({ enabled: false })].flatMap(
    (instrumentation) => instrumentation.getModuleDefinitions(),
  );
}

/**
 * "/x/node_modules/@smithy/core/dist-cjs/index.js" → { pkg: "@smithy/core", file: "dist-cjs/index.js" }.
 * @param {string} file
 */
function packageOf(file) {
  const marker = `${path.sep}node_modules${path.sep}`;
  const index = file.lastIndexOf(marker);
  if (index < 0) return undefined;
  const parts = file.slice(index + marker.length).split(path.sep);
  const scoped = parts[0]?.startsWith('@');
  const pkg = (scoped ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
  const root = file.slice(0, index + marker.length) + pkg;
  return { pkg, root, file: parts.slice(scoped ? 2 : 1).join('/') };
}

/**
 * The esbuild plugin that makes each instrumented module hand its exports to the preload. Answers, through
 * `handedOver`, which modules it wrapped (`serverless package` prints them).
 * @param {ModuleDefinition[]} definitions
 * @param {string[]} handedOver
 * @returns {Plugin}
 */
function handOverInstrumentedModules(definitions, handedOver) {
  const semver = require('semver');
  const supported = (/** @type {string[]} */ ranges, /** @type {string} */ version) =>
    ranges.some((range) => semver.satisfies(version, range));
  return {
    name: 'hand-over-instrumented-modules',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
        const found = packageOf(args.path);
        if (!found) return undefined;
        const { pkg, root, file } = found;
        // A definition without a patch of its own only names the package its files belong to.
        const byPackage = definitions.filter(
          (definition) => definition.name === pkg && typeof definition.patch === 'function',
        );
        const byFile = definitions.flatMap((definition) =>
          (definition.files ?? []).filter((inner) => inner.name === `${pkg}/${file}`),
        );
        let isMain = false;
        if (byPackage.length > 0) {
          try {
            isMain = require.resolve(pkg, { paths: [path.dirname(root)] }) === args.path;
          } catch {}
        }
        if (!isMain && byFile.length === 0) return undefined;
        const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
        const ranges = [
          ...(isMain ? byPackage.flatMap((d) => d.supportedVersions) : []),
          ...byFile.flatMap((f) => f.supportedVersions),
        ];
        if (!supported(ranges, version)) {
          throw new Error(
            `${pkg}@${version} is instrumented for ${ranges.join(' || ')} only: the bundle would run it untraced`,
          );
        }
        const source = readFileSync(args.path, 'utf8');
        if (/^\s*(import|export)\s/m.test(source) && !/\bmodule\.exports\b|\bexports\./.test(source)) {
          throw new Error(`${args.path} is an ES module: it cannot hand its exports over once bundled`);
        }
        handedOver.push(`${pkg}/${file}@${version}`);
        const hand = JSON.stringify([pkg, file, isMain, version]).slice(1, -1);
        return {
          contents: `(function () {\n${source}\n}).call(this);
{
  const hooks = globalThis[Symbol.for('orders.telemetry-hooks')];
  if (hooks) module.exports = hooks.patchBundledModule(${hand}, module.exports);
}\n`,
          loader: 'js',
          resolveDir: path.dirname(args.path),
        };
      });
    },
  };
}

/**
 * The packages that resolve to their CommonJS builds, as require() would load them: those an instrumentation
 * patches (their hand-over works on `module.exports`, and the instrumentations name their CommonJS files), and
 * the rest of the AWS SDK with them, so that no @smithy or @aws-sdk package is bundled twice (once per build)
 * with classes that would not recognise each other's instances.
 * @param {ModuleDefinition[]} definitions
 * @returns {Plugin}
 */
function resolveAsRequire(definitions) {
  const named = new Set(definitions.map((definition) => definition.name));
  const packageName = (/** @type {string} */ specifier) => {
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : String(parts[0]);
  };
  return {
    name: 'resolve-as-require',
    setup(build) {
      build.onResolve({ filter: /^[@a-z]/ }, (args) => {
        const pkg = packageName(args.path);
        if (!named.has(pkg) && !/^@(aws-sdk|smithy)\//.test(pkg)) return undefined;
        try {
          return { path: require.resolve(args.path, { paths: [args.resolveDir] }) };
        } catch {
          return undefined;
        }
      });
    },
  };
}

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
  const definitions = instrumentedModuleDefinitions();
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
          keepSeparate(separate),
          standIns(stand),
          ...(awsSdkAsRequire ? [resolveAsRequire(definitions)] : []),
          handOverInstrumentedModules(definitions, handedOver),
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
  const sdk = await bundle(PRELOAD_SDK, preloadDir, { awsSdkAsRequire: false, stand: PRELOAD_STAND_INS });
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

/**
 * What the deployed preload does without: sources of a cold start's cost that do nothing there.
 * - import-in-the-middle: the ES module hook, which is inert unless registered as a loader (`--import`), and
 *   no deployed NODE_OPTIONS registers it; the instrumentations still create its Hook, which does nothing.
 * - debug: the require hook's diagnostics, printed only with DEBUG=require-in-the-middle; loading it loads
 *   tty and os.
 */
const PRELOAD_STAND_INS = {
  'import-in-the-middle': `class Hook { unhook() {} }
module.exports = Hook; module.exports.Hook = Hook;
module.exports.addHook = () => {}; module.exports.removeHook = () => {};`,
  debug: `const debug = () => Object.assign(() => {}, { enabled: false, extend: debug });
module.exports = Object.assign(debug, { enable() {}, disable() {}, enabled: () => false });`,
};

/**
 * @param {Record<string, string>} modules
 * @returns {Plugin}
 */
function standIns(modules) {
  const names = Object.keys(modules);
  return {
    name: 'stand-ins',
    setup(build) {
      build.onResolve({ filter: /^[a-z@]/ }, (args) =>
        names.includes(args.path) ? { path: args.path, namespace: 'stand-in' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'stand-in' }, (args) => ({
        contents: modules[args.path],
        loader: 'js',
      }));
    },
  };
}

/**
 * Leaves the given relative imports (e.g. "./tracing-sdk") as requires of a file bundled on its own.
 * @param {string[]} specifiers
 * @returns {Plugin}
 */
function keepSeparate(specifiers) {
  return {
    name: 'keep-separate',
    setup(build) {
      build.onResolve({ filter: /^\./ }, (args) =>
        specifiers.includes(args.path) ? { path: `${args.path}.js`, external: true } : undefined,
      );
    },
  };
}

module.exports = { bundleFunctions };
