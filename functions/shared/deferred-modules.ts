import Module from 'node:module';
import path from 'node:path';

/**
 * What `@opentelemetry/sdk-node` requires when it loads but this project never uses: the exporters and
 * propagators it could build from OTEL_* variables (gRPC, protobuf, Zipkin, Prometheus, B3, metrics) and
 * the declarative-configuration loader (with a YAML parser), and the gRPC transport (@grpc/grpc-js). About
 * 200 files.
 */
export const SDK_NODE_EXTRAS: readonly string[] = [
  '@opentelemetry/configuration',
  '@opentelemetry/exporter-logs-otlp-grpc',
  '@opentelemetry/exporter-logs-otlp-proto',
  '@opentelemetry/exporter-metrics-otlp-grpc',
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/exporter-metrics-otlp-proto',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/exporter-trace-otlp-grpc',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/exporter-zipkin',
  '@opentelemetry/otlp-grpc-exporter-base',
  '@opentelemetry/propagator-b3',
  '@opentelemetry/sdk-metrics',
];

/** The deferred modules that something has since used (and so loaded). */
export const loadedDeferredModules = new Set<string>();

/**
 * Makes each module, as the package `requester` would resolve it, load on first use instead of when it is
 * required: a require returns a stand-in whose first property access loads the real module and forwards to it.
 * Nothing changes for code that uses one (setting OTEL_PROPAGATORS=b3, say): it only pays for the load then.
 * In a bundle there is no requester package to resolve: the bundler stubs those modules instead.
 */
export function deferModules(names: readonly string[], requesterPackage: string): void {
  let requester: string;
  try {
    requester = path.dirname(require.resolve(requesterPackage));
  } catch {
    return;
  }
  for (const name of names) {
    let filename: string;
    try {
      filename = require.resolve(name, { paths: [requester] });
    } catch {
      continue; // not installed: the requester's own require will say so, as it would have
    }
    if (require.cache[filename]) continue;
    let real: object | undefined;
    const load = (): object => {
      if (!real) {
        delete require.cache[filename];
        real = require(filename) as object;
        loadedDeferredModules.add(name);
      }
      return real;
    };
    const standIn = new Module(filename);
    standIn.filename = filename;
    standIn.loaded = true;
    standIn.exports = new Proxy(
      {},
      {
        get: (_target, key) => Reflect.get(load(), key),
        has: (_target, key) => Reflect.has(load(), key),
        ownKeys: () => Reflect.ownKeys(load()),
        // A proxy may only report configurable properties that its (empty) target lacks.
        getOwnPropertyDescriptor: (_target, key) => {
          const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
          return descriptor && { ...descriptor, configurable: true };
        },
      },
    );
    require.cache[filename] = standIn;
  }
}
