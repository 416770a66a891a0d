/**
 * V8's code cache for the package's bundles, made after init has run (local-runtime/compile-cache.cjs builds it
 * at packaging; the preload reads it deployed).
 *
 * Node's own compile cache (`module.enableCompileCache`) is made when a file is compiled, before it runs, so it
 * holds only the code V8 compiles eagerly: every function that init calls for the first time (the SDK's start,
 * the AWS SDK's clients, zod building the schemas) is still compiled lazily in each cold start. A cache made by
 * `vm.Script#createCachedData()` after init has run holds those functions too: order's traced load 111 → 79 ms
 * (BENCHMARKS.md, "Cold start").
 *
 * The cache is `compile-cache/<Node version>-<arch>/<the file's path under the task root>`. V8 checks its own
 * version, flags and the source against each file and rejects a cache that does not match; then the file
 * compiles as it would without one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import CODE_CACHE from './code-cache.json';

/** Under the task root. */
export const CODE_CACHE_DIR = CODE_CACHE.directory;

/** Set by local-runtime/compile-cache-builder.cjs, which loads the package at packaging to build its code cache. */
export const CODE_CACHE_BUILD = Symbol.for(CODE_CACHE.buildSymbol);

/** The folder of the Node that reads it: only its exact version and architecture can use the cache. */
export const codeCacheFolder = (version = process.version, arch = process.arch): string =>
  `${version}-${arch}`;

/** The CommonJS wrapper, as Node's loader gives it: a bundle's `require`, `module` and `exports`. */
const wrap = (source: string) =>
  `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

type Loader = (module: NodeJS.Module, filename: string) => void;

export interface CodeCacheLoader {
  /** Building: writes each loaded file's cache, as compiled so far, under its folder; answers the files written. */
  write(): string[];
}

/**
 * Loads every `.js` file under `taskRoot/dist/` through V8's code cache in `taskRoot/compile-cache/<folder>`:
 * with it when the cache has the file, else compiled as Node would. With `build`, none is read, and `write()`
 * saves what the loaded files' code holds by then. Registered as the `.js` loader, so the files load with their
 * own `require` and `module` as Node's loader gives them (an instrumentation's require hook sees their requires).
 * `onRejected` hears of the first file whose cache V8 refused (another V8, or other flags, than the ones that
 * built it).
 */
export function loadWithCodeCache(
  taskRoot: string,
  folder: string,
  { build = false, onRejected }: { build?: boolean; onRejected?: (file: string) => void },
): CodeCacheLoader {
  const root = path.join(taskRoot, 'dist') + path.sep;
  const cacheRoot = path.join(taskRoot, CODE_CACHE_DIR, folder);
  const scripts = new Map<string, vm.Script>();
  let refused = false;
  const extensions = require.extensions;
  const nodeLoader = extensions['.js'] as Loader;
  extensions['.js'] = (module: NodeJS.Module, filename: string) => {
    if (!filename.startsWith(root)) return nodeLoader(module, filename);
    const cacheFile = path.join(cacheRoot, path.relative(taskRoot, filename));
    const cachedData = build || !existsSync(cacheFile) ? undefined : readFileSync(cacheFile);
    if (!build && !cachedData) return nodeLoader(module, filename);
    const script = new vm.Script(wrap(readFileSync(filename, 'utf8')), {
      filename,
      cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (script.cachedDataRejected && !refused) {
      refused = true;
      onRejected?.(path.relative(taskRoot, filename));
    }
    scripts.set(cacheFile, script);
    const moduleRequire = Object.assign((id: string) => module.require(id), {
      resolve: (request: string) => require.resolve(request, { paths: [path.dirname(filename)] }),
      cache: require.cache,
      main: require.main,
    });
    const compiled = script.runInThisContext() as (...args: unknown[]) => void;
    compiled.call(module.exports, module.exports, moduleRequire, module, filename, path.dirname(filename));
  };
  return {
    write: () =>
      [...scripts].map(([cacheFile, script]) => {
        mkdirSync(path.dirname(cacheFile), { recursive: true });
        writeFileSync(cacheFile, script.createCachedData());
        return path.relative(taskRoot, cacheFile);
      }),
  };
}
