/**
 * Preloaded (`--require`) into every Lambda instance before its handler loads, so that the instrumentations'
 * hooks are in place when the handler's modules load. It does nothing outside a Lambda runtime (no `_HANDLER`,
 * e.g. the serverless CLI's own process). With OTEL_SDK_DISABLED=true it loads no OpenTelemetry module at
 * all: the SDK is required only when it is started.
 */
import { readdirSync } from 'node:fs';
import { enableCompileCache, registerHooks } from 'node:module';
import path from 'node:path';
import { readFlag } from '../config/flag';
import {
  CODE_CACHE_BUILD,
  CODE_CACHE_DIR,
  type CodeCacheLoader,
  codeCacheFolder,
  loadWithCodeCache,
} from './code-cache';
import NODE_SDK_UNUSED from './node-sdk-unused.json';

const instanceStartTime = Date.now();

/**
 * OTEL_SDK_DISABLED, read as every other flag is (config/flag.ts) but without loading zod, which an untraced
 * instance never needs: a value that is neither stops the instance with the variable's name.
 */
export function sdkDisabled(value?: string): boolean {
  return readFlag('OTEL_SDK_DISABLED', value, false);
}

/** The scheme of a module left out: resolved to it, loaded as an empty CommonJS module. */
const LEFT_OUT = 'orders-left-out:';

/**
 * NodeSDK requires at load every exporter, propagator and loader it could build from OTEL_* variables.
 * tracing-sdk.ts gives it each component itself, so these are never built: `packages` (node-sdk-unused.json)
 * resolve to an empty module instead of loading hundreds of files into every instance. The deployed bundle
 * leaves the same list out at build time (local-runtime/esbuild-plugins.cjs), so there the hook finds nothing.
 */
function leaveOut(packages: string[]): void {
  const unused = new Set(packages);
  registerHooks({
    resolve: (specifier, context, nextResolve) =>
      unused.has(specifier)
        ? { url: `${LEFT_OUT}${specifier}`, format: 'commonjs', shortCircuit: true }
        : nextResolve(specifier, context),
    load: (url, context, nextLoad) =>
      url.startsWith(LEFT_OUT)
        ? { format: 'commonjs', source: 'module.exports = {};', shortCircuit: true }
        : nextLoad(url, context),
  });
}

/** The shape of warn-once-exporter.ts's telemetryLine, written here: the preload loads no module an untraced instance skips. */
function warn(msg: string): void {
  process.stderr.write(
    `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), service_name: process.env.OTEL_SERVICE_NAME, msg })}\n`,
  );
}

/**
 * Deployed: the code cache the package brings (`compile-cache/` under the task root, built at packaging by
 * local-runtime/compile-cache.cjs after init had run; code-cache.ts), read-only. It fits only the Node version and
 * architecture that built it: when the package has none for this one (Lambda's Node patch release moved on since
 * packaging), or V8 refuses it, modules compile as they load, as without a cache, and one line says so.
 */
function useShippedCodeCache(taskRoot: string): void {
  const building = (globalThis as { [CODE_CACHE_BUILD]?: { loader?: CodeCacheLoader } })[CODE_CACHE_BUILD];
  if (building) {
    building.loader = loadWithCodeCache(taskRoot, codeCacheFolder(), { build: true });
    return;
  }
  let folders: string[];
  try {
    folders = readdirSync(path.join(taskRoot, CODE_CACHE_DIR));
  } catch {
    return;
  }
  if (folders.includes(codeCacheFolder())) {
    loadWithCodeCache(taskRoot, codeCacheFolder(), {
      onRejected: (file) =>
        warn(
          `V8 refused the package's code cache for ${file} (${process.version} on ${process.arch}): it compiles as it loads`,
        ),
    });
    return;
  }
  warn(
    `the package's code cache has ${folders.join(', ')}, nothing for Node ${process.version} on ${process.arch}: modules compile as they load (repackage on this Node to use one)`,
  );
}

if (process.env._HANDLER) {
  // Offline, the instances of every function load the same files: V8's compiled code is cached on disk
  // (os.tmpdir()/node-compile-cache) and reused by the next instance and the next start. Deployed, each
  // sandbox starts with an empty /tmp: the package brings its own cache.
  if (process.env.IS_OFFLINE === 'true') enableCompileCache();
  else useShippedCodeCache(process.env.LAMBDA_TASK_ROOT ?? '');
  if (!sdkDisabled(process.env.OTEL_SDK_DISABLED)) {
    leaveOut(NODE_SDK_UNUSED);
    (require('./tracing-sdk') as typeof import('./tracing-sdk')).startTracing(instanceStartTime);
  }
}
