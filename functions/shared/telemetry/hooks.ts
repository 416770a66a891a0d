/**
 * The hand-off between the tracing preload and the code it traces. The preload (tracing.js) starts the SDK
 * and installs these hooks; the handler factories and the bundled modules call them. It goes through
 * `globalThis`, as the OpenTelemetry API's own registry does, because deployed the preload and each handler
 * are separate bundles with separate copies of every module. With tracing off, nothing is installed and
 * every hook is the identity. Depends on nothing, so any bundle may include it.
 */
const HOOKS = Symbol.for('orders.telemetry-hooks');

/** A Lambda handler of any event type, as the runtime calls it: (event, context). */
// biome-ignore lint/suspicious/noExplicitAny: a handler's event and answer types are the caller's own.
export type LambdaHandler = (event: any, context: any) => Promise<any>;

export interface TelemetryHooks {
  /** The handler wrapped in its invocation (SERVER) span, flushed before it returns when deployed. */
  traceHandler<H extends LambdaHandler>(handler: H): H;
  /**
   * A module an instrumentation patches (pino, the AWS SDK), handed over by the bundle that contains it
   * (see plugins/bundle.cjs): answers its exports, patched as a require hook would have patched them.
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
