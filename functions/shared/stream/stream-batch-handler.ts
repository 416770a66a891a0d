import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type Link, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { commonSettings } from '../config/settings';
import { armCrash, ChaosMonkey } from '../faults/chaos';
import { runInvocation } from '../runtime/invocation';
import { resolveTraceId } from '../telemetry/api';
import { tracedHandler } from '../telemetry/handoff';
import { logger } from '../telemetry/logger';

/** The attribute of a table item that holds the `traceparent` of the span that wrote it (see order-store.ts). */
export const TRACE_CONTEXT_ATTRIBUTE = 'trace_context';
/** What OpenTelemetry's messaging conventions call this system: the consumer's spans say so. */
const MESSAGING_SYSTEM = 'aws_dynamodb_streams';

const tracer = trace.getTracer(commonSettings().OTEL_SERVICE_NAME);
const chaos = ChaosMonkey.ofThisFunction();
// Created once: Powertools' processor is reused across invocations, as its documentation does.
const processor = new BatchProcessor(EventType.DynamoDBStreams);

/**
 * The stream counterpart of `httpRouter`: one Lambda handler for a batch of DynamoDB stream records. Each
 * record is handled in a CONSUMER span that continues the trace of the write that produced it (the item's
 * `trace_context`), with its log lines on that trace; the invocation's own span links every record's
 * context. Failures are reported per record through Powertools' batch processing (ReportBatchItemFailures):
 * Lambda retries from the first failed record, and a batch whose every record failed is an error (bisected).
 */
export function streamBatchHandler<Item>(handleItem: (item: Item, record: DynamoDBRecord) => Promise<void>) {
  return tracedHandler(
    async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
      const deadline = Date.now() + context.getRemainingTimeInMillis();
      const producers = event.Records.map(producerContextOf);
      const invocationSpan = trace.getActiveSpan();
      invocationSpan?.addLinks(
        producers.flatMap((producer): Link[] => {
          const spanContext = producer && trace.getSpanContext(producer);
          return spanContext
            ? [{ context: spanContext, attributes: { 'link.reason': 'stream_record' } }]
            : [];
        }),
      );
      invocationSpan?.setAttributes({
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.batch.message_count': event.Records.length,
      });
      return runInvocation({ traceId: resolveTraceId({}), deadline }, () =>
        processPartialResponse(
          event,
          (record: DynamoDBRecord) => {
            const producer = producerContextOf(record) ?? ROOT_CONTEXT;
            return tracer.startActiveSpan(
              `process ${streamNameOf(record)}`,
              {
                kind: SpanKind.CONSUMER,
                attributes: {
                  'messaging.system': MESSAGING_SYSTEM,
                  'messaging.operation.type': 'process',
                  'messaging.operation.name': 'process',
                  'messaging.destination.name': streamNameOf(record),
                  'messaging.message.id': String(record.eventID),
                },
              },
              producer,
              async (span) => {
                const traceId = trace.isSpanContextValid(span.spanContext())
                  ? span.spanContext().traceId
                  : resolveTraceId({});
                try {
                  await runInvocation({ traceId, deadline }, async () => {
                    // Injected faults (CHAOS), per record: a delay, a failure before or after, a crash point.
                    const plan = chaos.plan();
                    armCrash(plan.crashAt);
                    await ChaosMonkey.delay(plan.delayMs);
                    if (plan.failAt === 'before') throw ChaosMonkey.failure();
                    await handleItem(unmarshall(imageOf(record)) as Item, record);
                    if (plan.failAt === 'after') throw ChaosMonkey.failure();
                  });
                } catch (error) {
                  span.setStatus({
                    code: SpanStatusCode.ERROR,
                    message: error instanceof Error ? error.message : 'error',
                  });
                  logger.warn(
                    { err: error, event_id: record.eventID },
                    'a stream record failed; Lambda retries it',
                  );
                  throw error;
                } finally {
                  span.end();
                }
              },
            );
          },
          processor,
          { context },
        ),
      );
    },
  );
}

/** The new image of a record (the old one for a removal). */
function imageOf(record: DynamoDBRecord) {
  return (record.dynamodb?.NewImage ?? record.dynamodb?.OldImage ?? {}) as Parameters<typeof unmarshall>[0];
}

/** The context of the span that wrote the record's item, if it stored one. */
function producerContextOf(record: DynamoDBRecord) {
  const traceparent = record.dynamodb?.NewImage?.[TRACE_CONTEXT_ATTRIBUTE]?.S;
  if (!traceparent) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, { traceparent });
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** "arn:…:table/orders-local-orders/stream/2026-…" → "orders-local-orders". */
function streamNameOf(record: DynamoDBRecord): string {
  return /table\/([^/]+)/.exec(String(record.eventSourceARN))?.[1] ?? 'stream';
}
