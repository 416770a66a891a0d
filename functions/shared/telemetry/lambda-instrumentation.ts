import { AwsLambdaInstrumentation } from '@opentelemetry/instrumentation-aws-lambda';
import type { LambdaHandler } from './handoff';

/** The release whose private handler wrapper this class calls; package.json pins it exactly. */
export const WRAPPED_RELEASE = '0.76.0';

/** The one piece of the instrumentation's inside used here: what its module hook applies to the export. */
interface HandlerWrapper {
  _getHandler(lambdaStartTime: number): (original: LambdaHandler) => LambdaHandler;
}

/**
 * The Lambda instrumentation, applied to the handler where it is made (tracedHandler) instead of by its
 * require hook on the file _HANDLER names. The nodejs24.x runtime loads that file with `import()`, which the
 * hook never sees, and a bundle has no such file to hook at all (opentelemetry-js-contrib #3314). The wrapper
 * is the instrumentation's own, so everything it gives stays: the SERVER span and its faas.* attributes,
 * faas.coldstart, context extraction from the event, the hooks, and the flush before the handler returns.
 */
export class ExplicitLambdaInstrumentation extends AwsLambdaInstrumentation {
  /** No module hook: with one, a handler loaded with `require()` would be wrapped twice. */
  override init(): ReturnType<AwsLambdaInstrumentation['init']> {
    return [];
  }

  traceHandler<H extends LambdaHandler>(handler: H): H {
    const inside = this as unknown as Partial<HandlerWrapper>;
    if (typeof inside._getHandler !== 'function') {
      throw new Error(
        `@opentelemetry/instrumentation-aws-lambda has no _getHandler: lambda-instrumentation.ts was written ` +
          `against ${WRAPPED_RELEASE} (see package.json); invocations would run without their span.`,
      );
    }
    const lambdaStartTime = this.getConfig().lambdaStartTime ?? Date.now();
    return inside._getHandler.call(this, lambdaStartTime)(handler) as H;
  }
}
