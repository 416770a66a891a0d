/**
 * Preloaded (`--require`) into every Lambda instance before its handler loads, so that the instrumentations'
 * hooks are in place when the handler's modules load. It does nothing outside a Lambda runtime (no `_HANDLER`,
 * e.g. the serverless CLI's own process). With OTEL_SDK_DISABLED=true it loads no OpenTelemetry module at
 * all: the SDK is required only when it is started.
 */
import { enableCompileCache } from 'node:module';

const instanceStartTime = Date.now();

if (process.env._HANDLER) {
  // Offline, the instances of every function load the same files: V8's compiled code is cached on disk
  // (os.tmpdir()/node-compile-cache) and reused by the next instance and the next start. Deployed, each
  // sandbox starts with an empty /tmp, so it would only cost the writing.
  if (process.env.IS_OFFLINE === 'true') enableCompileCache();
  if (process.env.OTEL_SDK_DISABLED !== 'true') {
    (require('./tracing-sdk') as typeof import('./tracing-sdk')).startTracing(instanceStartTime);
  }
}
