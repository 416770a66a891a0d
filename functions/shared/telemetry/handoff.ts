import HANDOFF from './handoff.json';

/**
 * The hand-off between the tracing preload and the code it traces. The preload (tracing.js) starts the SDK
 * and installs these hooks; the handler factories and the bundled modules call them. It goes through
 * `globalThis`, as the OpenTelemetry API's own registry does, because deployed the preload and each handler
 * are separate bundles with separate copies of every module. With tracing off, nothing is installed and
 * every hook is the identity. Depends on nothing but the slot's name, so any bundle may include it.
 *
 * The whole hand-off, in order (docs/architecture.md, "How an invocation is traced"):
 * 1. the preload (tracing.ts) starts tracing-sdk.ts, which builds the instrumentation and installs the hooks
 *    here, in the slot handoff.json names;
 * 2. a bundled pino or AWS SDK client, as it loads, hands its exports to `patchBundledModule` through the same
 *    slot (the wrapper local-runtime/esbuild-plugins.cjs writes around it, reading the name from handoff.json);
 * 3. a handler factory (httpRouter, scheduledHandler, streamBatchHandler) passes its handler to
 *    `tracedHandler`, which the preload's `traceHandler` wraps with the Lambda instrumentation
 *    (lambda-instrumentation.ts): the invocation's SERVER span, its flush or export after the response.
 */
const HOOKS = Symbol.for(HANDOFF.globalSymbol);

/** A Lambda handler of any event type, as the runtime calls it: (event, context). */
// biome-ignore lint/suspicious/noExplicitAny: a handler's event and answer types are the caller's own.
export type LambdaHandler = (event: any, context: any) => Promise<any>;

export interface TelemetryHooks {
  /** The handler wrapped in its invocation (SERVER) span, flushed before it returns when deployed. */
  traceHandler<H extends LambdaHandler>(handler: H): H;
  /**
   * A module an instrumentation patches (pino, the AWS SDK), handed over by the bundle that contains it
   * (local-runtime/esbuild-plugins.cjs): answers its exports, patched as a require hook would have patched them.
   * `file` is the path inside the package, `isMain` whether it is the package's entry point.
   */
  patchBundledModule(pkg: string, file: string, isMain: boolean, version: string, exports: unknown): unknown;
}

type WithHooks = typeof globalThis & { [HOOKS]?: TelemetryHooks };

export function installTelemetryHooks(hooks: TelemetryHooks): void {
  (globalThis as WithHooks)[HOOKS] = hooks;
}

/**
 * Every handler the factories make (httpRouter, scheduledHandler) passes here, so its invocation span exists
 * however the runtime loads the file: `import()` (the nodejs24.x runtime), `require()` or a bundle. The
 * instrumentation's own module hook only sees `require()`.
 */
export function tracedHandler<H extends LambdaHandler>(handler: H): H {
  return (globalThis as WithHooks)[HOOKS]?.traceHandler(handler) ?? handler;
}
