'use strict';
/**
 * The deployed artifact: one zip per function (package.individually), each holding two esbuild bundles
 * built from the compiled dist/ (CommonJS, so packages resolve to their `require` builds):
 * - dist/functions/<name>/handler.js: the handler and everything it imports;
 * - dist/functions/shared/tracing.js: the tracing preload that NODE_OPTIONS names.
 *
 * Telemetry stays whole inside a bundle:
 * - the invocation span does not depend on a file to hook: the handler factories wrap the handler
 *   (functions/shared/telemetry-hooks.ts);
 * - Node's built-ins (http) stay real `require`s, which the instrumentations' require hooks see;
 * - the modules an instrumentation patches (pino, the AWS SDK's middleware stack and client) cannot be seen by
 *   a require hook once bundled, so each one hands its exports to the preload when it loads
 *   (`patchBundledModule`), which patches them with the very instrumentation instances the SDK runs. Which
 *   modules those are, and whether their versions are supported, is read from the instrumentations' own module
 *   definitions at build time: a supported module is never bundled unpatched, an unsupported version stops
 *   the build;
 * - the modules sdk-node requires but never uses here (gRPC, protobuf, Zipkin, metrics...) are left out as
 *   stand-ins that fail loudly if anything ever uses one.
 */
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const PRELOAD = 'dist/functions/shared/tracing.js';
/** The runtime the bundles are compiled for: serverless.yml's provider.runtime, as an esbuild target. */
const targetOf = (runtime) => `node${/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? '24'}`;
/** Fixed file times, so that the same code gives the same zip (and CloudFormation sees no change). */
const ZIP_DATE = new Date('2000-01-01T00:00:00Z');

/** The instrumentations the preload runs whose modules a bundle contains. */
function instrumentedModuleDefinitions() {
  const { PinoInstrumentation } = require('@opentelemetry/instrumentation-pino');
  const { AwsInstrumentation } = require('@opentelemetry/instrumentation-aws-sdk');
  return [new PinoInstrumentation({ enabled: false }), new AwsInstrumentation({ enabled: false })].flatMap(
    (instrumentation) => instrumentation.getModuleDefinitions(),
  );
}

/** "/x/node_modules/@smithy/core/dist-cjs/index.js" → { pkg: "@smithy/core", file: "dist-cjs/index.js" }. */
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
 * `handedOver`, which modules it wrapped (the build report and the tests read it).
 */
function handOverInstrumentedModules(definitions, handedOver) {
  const semver = require('semver');
  const supported = (ranges, version) => ranges.some((range) => semver.satisfies(version, range));
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

/** Stand-ins for modules a bundle leaves out: requiring one works, using one fails with its name. */
function leaveOut(names) {
  const filter = new RegExp(
    `^(${names.map((name) => name.replace(/[/\\^$*+?.()|[\]{}-]/g, '\\$&')).join('|')})$`,
  );
  return {
    name: 'leave-out',
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'left-out' }));
      build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
        contents: `module.exports = new Proxy({}, {
  get(_target, key) {
    if (typeof key === 'symbol' || key === '__esModule') return undefined;
    throw new Error(${JSON.stringify(`${args.path} is not in the deployed bundle (plugins/bundle.cjs leaves it out)`)});
  },
});\n`,
        loader: 'js',
      }));
    },
  };
}

/** The esbuild options of one bundle. */
function bundleOptions({ entry, outfile, runtime, plugins }) {
  return {
    entryPoints: [path.join(PROJECT_ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: targetOf(runtime),
    // CommonJS builds of every package, as Node's require would load them.
    mainFields: ['main', 'module'],
    conditions: ['require', 'node', 'default'],
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
 */
async function bundleFunctions({ functionKeys, handlerOf, runtime, outDir, leftOut }) {
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
      leftOut,
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function bundleInto(
  scratch,
  { esbuild, JSZip, definitions, functionKeys, handlerOf, runtime, outDir, leftOut },
) {
  const preloadHandedOver = [];
  const preloadFile = path.join(scratch, PRELOAD);
  await esbuild.build(
    bundleOptions({
      entry: PRELOAD,
      outfile: preloadFile,
      runtime,
      plugins: [leaveOut(leftOut), handOverInstrumentedModules(definitions, preloadHandedOver)],
    }),
  );
  const preload = readFileSync(preloadFile);
  const results = {};
  for (const functionKey of functionKeys) {
    const handlerString = handlerOf(functionKey);
    const entry = `${handlerString.slice(0, handlerString.lastIndexOf('.'))}.js`;
    const outfile = path.join(scratch, functionKey, entry);
    const handedOver = [];
    await esbuild.build(
      bundleOptions({
        entry,
        outfile,
        runtime,
        plugins: [leaveOut(leftOut), handOverInstrumentedModules(definitions, handedOver)],
      }),
    );
    const zip = new JSZip();
    const add = (name, content) =>
      zip.file(name, content, { date: ZIP_DATE, unixPermissions: 0o644, createFolders: false });
    // The bundles are CommonJS: said once here rather than left to Node's syntax detection.
    add('package.json', '{"type":"commonjs"}\n');
    add(entry, readFileSync(outfile));
    add(PRELOAD, preload);
    const content = await zip.generateAsync({
      type: 'nodebuffer',
      compression: 'DEFLATE',
      compressionOptions: { level: 9 },
      platform: 'UNIX',
    });
    const zipPath = path.join(outDir, `${functionKey}.zip`);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(zipPath, content);
    results[functionKey] = { zip: zipPath, bytes: content.length, handedOver: [...new Set(handedOver)] };
  }
  return results;
}

module.exports = { PRELOAD, bundleFunctions, packageOf, targetOf };
