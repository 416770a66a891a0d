/**
 * Preloaded (`--require`) into every Lambda instance before its handler loads, so that the instrumentations'
 * hooks are in place when the handler's modules load. It does nothing outside a Lambda runtime (no `_HANDLER`,
 * e.g. the serverless CLI's own process). With OTEL_SDK_DISABLED=true it loads no OpenTelemetry module at
 * all: the SDK is required only when it is started.
 */
import { enableCompileCache } from 'node:module';

const instanceStartTime = Date.now();

/**
 * OTEL_SDK_DISABLED, read as every other flag is (env.ts's booleanFlag) but without loading zod, which an
 * untraced instance never needs: a value that is neither stops the instance with the variable's name.
 */
export function sdkDisabled(value = ''): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0' || value === '') return false;
  throw new Error(`Invalid environment: OTEL_SDK_DISABLED: must be true or false, got "${value}"`);
}

if (process.env._HANDLER) {
  // Offline, the instances of every function load the same files: V8's compiled code is cached on disk
  // (os.tmpdir()/node-compile-cache) and reused by the next instance and the next start. Deployed, each
  // sandbox starts with an empty /tmp, so it would only cost the writing.
  if (process.env.IS_OFFLINE === 'true') enableCompileCache();
  if (!sdkDisabled(process.env.OTEL_SDK_DISABLED)) {
    (require('./tracing-sdk') as typeof import('./tracing-sdk')).startTracing(instanceStartTime);
  }
}
