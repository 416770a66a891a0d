import type { Context, ScheduledEvent } from 'aws-lambda';
import { commonSettings } from '../config/settings';
import { runInvocation } from '../runtime/invocation';
import { resolveTraceId } from '../telemetry/api';
import { tracedHandler } from '../telemetry/handoff';
import { logger } from '../telemetry/logger';

/**
 * The scheduled counterpart of `httpRouter`: one Lambda handler for EventBridge schedule events (and the
 * local runtime's timer, which sends the same event). It runs `job` inside an invocation, so log lines
 * carry the trace id and downstream calls know their deadline, and returns the job's summary.
 */
export function scheduledHandler<Summary extends Record<string, unknown>>(
  job: (event: ScheduledEvent) => Promise<Summary>,
) {
  return tracedHandler(
    async (event: ScheduledEvent, context: Context): Promise<Summary & { trace_id: string }> => {
      const traceId = resolveTraceId({});
      const deadline = Date.now() + context.getRemainingTimeInMillis();
      return runInvocation({ traceId, deadline }, async () => {
        const started = performance.now();
        const summary = await job(event);
        logger.info(
          { ...summary, duration_ms: Math.round(performance.now() - started) } as Record<string, unknown>,
          `${commonSettings().OTEL_SERVICE_NAME} finished its scheduled run`,
        );
        return { ...summary, trace_id: traceId };
      });
    },
  );
}
