'use strict';
/**
 * The esbuild plugins that keep telemetry whole inside a bundle (see bundle.cjs): instrumented modules hand
 * their exports to the preload, the AWS SDK resolves as require() would load it, the preload goes without
 * what does nothing deployed, and the SDK's start stays a file of its own.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');
/** The slot the tracing preload's hooks are in, named once for both sides (functions/shared/telemetry/handoff.ts). */
const HANDOFF = require('../functions/shared/telemetry/handoff.json');

/**
 * A module an instrumentation patches: by package (`patch`) or by file (`files`), for `supportedVersions`.
 * @typedef {{ name: string, supportedVersions: string[], patch?: Function, files?: Array<{ name: string, supportedVersions: string[] }> }} ModuleDefinition
 */
/** @typedef {import('esbuild').Plugin} Plugin */

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
  const hooks = globalThis[Symbol.for(${JSON.stringify(HANDOFF.globalSymbol)})];
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
 * What sdk-node's NodeSDK imports to build from OTEL_* variables whatever the preload does not give it
 * (functions/shared/telemetry/node-sdk-unused.json: other exporters, the B3 propagator, the metrics SDK, the
 * declarative-configuration loader). The preload gives NodeSDK each component itself and no metric reader, so
 * none of these is ever built; bundled, they would be parsed and evaluated at every cold start. Each stands in
 * as an empty module, as the preload's resolve hook makes them offline.
 * @type {Record<string, string>}
 */
const NODE_SDK_UNUSED = Object.fromEntries(
  /** @type {string[]} */ (require('../functions/shared/telemetry/node-sdk-unused.json')).map((name) => [
    name,
    `// ${name}: left out (functions/shared/telemetry/node-sdk-unused.json)\nmodule.exports = {};`,
  ]),
);

/**
 * axios reads the globals `FormData`, `Request` and `Response` as its modules load: the FormData constructor for
 * `isFormData`, and the fetch adapter probes the fetch API. In Node each of those globals loads undici, its
 * fetch implementation, on first read: tens of milliseconds of every cold start of a function that calls another,
 * for an adapter it never uses (in Node it takes the http adapter) and a check that works without it (a FormData
 * is still told by its `[object FormData]` tag). In the bundles, the fetch adapter is one that is never
 * available, and `isFormData` skips the constructor. Each replacement is checked against the exact source: a
 * release of axios that moves it stops the build, naming the file.
 * @type {Plugin}
 */
const axiosWithoutFetch = {
  name: 'axios-without-fetch',
  setup(build) {
    build.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]adapters[\\/]fetch\.js$/ }, () => ({
      contents:
        "// axios's fetch adapter: never available here (local-runtime/esbuild-plugins.cjs).\nexport const getFetch = () => false;\nexport default false;\n",
      loader: 'js',
    }));
    build.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]utils\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const probe = "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;";
      if (!source.includes(probe)) {
        return {
          errors: [
            {
              text: `${args.path} no longer reads FormData as esbuild-plugins.cjs expects: re-check axiosWithoutFetch`,
            },
          ],
        };
      }
      return { contents: source.replace(probe, 'const FormDataCtor = undefined;'), loader: 'js' };
    });
  },
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

module.exports = {
  NODE_SDK_UNUSED,
  axiosWithoutFetch,
  PRELOAD_STAND_INS,
  handOverInstrumentedModules,
  instrumentedModuleDefinitions,
  keepSeparate,
  resolveAsRequire,
  standIns,
};
