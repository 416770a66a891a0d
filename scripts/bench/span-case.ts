/**
 * One per-span microbenchmark, in a process of its own so that instrumentation never leaks between variants:
 * `node bench-span-case.js <case> <on|off> <iterations>` prints { case, variant, usPerOp }.
 * "on" is the project's own tracing set-up (tracing-sdk.ts's pieces: batch processor, hooks, instrumentations)
 * with an exporter that serializes each batch as the OTLP exporter would and sends it nowhere.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, logs, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { BatchLogRecordProcessor, LoggerProvider, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import {
  AWS_INSTRUMENTATION_CONFIG,
  HTTP_INSTRUMENTATION_CONFIG,
  recordHttpOutcome,
  serverSpanAttributes,
} from '../../functions/shared/telemetry/instrumentation-config';
import type { SpanCase } from './spans';

const [caseName, variant, iterationsArgument] = process.argv.slice(2) as [SpanCase, 'on' | 'off', string];
const iterations = Number(iterationsArgument);
const on = variant === 'on';

/** The attributes the Lambda request hook sets on a SERVER span, for one of the routes an order calls. */
const SERVER_ATTRIBUTES = serverSpanAttributes({
  httpMethod: 'POST',
  resource: '/inventory/reserve',
  path: '/inventory/reserve',
});

/** The finished spans the serialization cases serialize: one order's worth. */
const SERIALIZED_SPANS = 18;

/** An exporter that serializes each batch as the OTLP/HTTP JSON exporter would, and sends it nowhere. */
function serializingExporter<Item>(serialize: (items: Item[]) => unknown) {
  return {
    export: (items: Item[], done: (result: { code: number }) => void) => {
      serialize(items);
      done({ code: 0 });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

/** The batch settings tracing-sdk.ts uses. */
const BATCH = { scheduledDelayMillis: 1_000, maxQueueSize: 2_048 };

function startTracing(): TracerProvider {
  const provider = new TracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: serializingExporter((spans: ReadableSpan[]) => JsonTraceSerializer.serializeRequest(spans)),
        ...BATCH,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  const exportLogs = (records: ReadableLogRecord[]) => JsonLogsSerializer.serializeRequest(records);
  logs.setGlobalLoggerProvider(
    new LoggerProvider({
      processors: [new BatchLogRecordProcessor({ exporter: serializingExporter(exportLogs), ...BATCH })],
    }),
  );
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation(HTTP_INSTRUMENTATION_CONFIG),
      new AwsInstrumentation(AWS_INSTRUMENTATION_CONFIG),
      // As tracing-sdk.ts has it: the logger adds the trace ids itself, the instrumentation sends the lines.
      new PinoInstrumentation({ disableLogCorrelation: true }),
    ],
  });
  return provider;
}

/** Runs `operation` inside a SERVER span, as a handler's work runs inside the invocation's span. */
function inServerSpan<T>(operation: () => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('bench');
  return tracer.startActiveSpan(
    'bench',
    { kind: SpanKind.SERVER, attributes: SERVER_ATTRIBUTES },
    async (span) => {
      try {
        return await operation();
      } finally {
        span.end();
      }
    },
  );
}

/** A local HTTP peer answering every request with `body`: the callee's cost stays out of the measurement. */
async function peer(body: string, headers: Record<string, string>): Promise<{ url: string; close(): void }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, headers).end(body));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function operationFor(name: SpanCase): Promise<{ run: () => Promise<unknown>; close(): void }> {
  const nothing = () => {};
  switch (name) {
    case 'span':
      return {
        run: async () => {
          const span = trace
            .getTracer('bench')
            .startSpan('bench', { kind: SpanKind.SERVER, attributes: SERVER_ATTRIBUTES });
          recordHttpOutcome(span, { res: { statusCode: 200 } });
          span.end();
        },
        close: nothing,
      };
    case 'propagation': {
      const carrier: Record<string, string> = {};
      return {
        run: () =>
          inServerSpan(async () => {
            propagation.inject(context.active(), carrier);
            propagation.extract(context.active(), carrier);
          }),
        close: nothing,
      };
    }
    case 'promises': {
      // A handler's async work, as promise-heavy as the AWS SDK's middleware stack: 100 awaits.
      const work = async () => {
        for (let i = 0; i < 100; i++) await Promise.resolve(i);
      };
      return { run: () => inServerSpan(work), close: nothing };
    }
    case 'http': {
      const callee = await peer('{"ok":true}', { 'content-type': 'application/json' });
      const { default: axios } = await import('axios');
      const { Agent } = await import('node:http');
      const client = axios.create({ baseURL: callee.url, httpAgent: new Agent({ keepAlive: true }) });
      return {
        run: () => inServerSpan(() => client.post('/reserve', { sku: 'bench' })),
        close: callee.close,
      };
    }
    case 'dynamodb': {
      const callee = await peer('{"Item":{"pk":{"S":"bench"},"stock":{"N":"1"}}}', {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': 'bench',
      });
      const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
      const { DynamoDBDocumentClient, GetCommand } = await import('@aws-sdk/lib-dynamodb');
      const db = DynamoDBDocumentClient.from(
        new DynamoDBClient({
          endpoint: callee.url,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      );
      const get = new GetCommand({ TableName: 'bench', Key: { pk: 'bench' } });
      return { run: () => inServerSpan(() => db.send(get)), close: callee.close };
    }
    case 'log': {
      // One line of the functions' own logger (to /dev/null; with tracing on, also sent as a log record).
      const { default: pino } = await import('pino');
      // Required now, after the instrumentations: pino must load once they are registered.
      const { createLogger } =
        require('../../functions/shared/telemetry/logger') as typeof import('../../functions/shared/telemetry/logger');
      const destination = pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 });
      await once(destination, 'ready');
      const log = createLogger({ serviceName: 'bench', level: 'info', destination });
      return {
        run: () =>
          inServerSpan(async () => log.info({ order_id: 'bench', status: 200 }, 'bench responded 200')),
        close: nothing,
      };
    }
    case 'json':
    case 'protobuf': {
      // Serializing one order's worth of finished spans, per span.
      const serializer = name === 'json' ? JsonTraceSerializer : ProtobufTraceSerializer;
      const spans: ReadableSpan[] = [];
      const recorder = new TracerProvider({
        spanProcessors: [
          {
            onStart: nothing,
            onEnd: (span: ReadableSpan) => spans.push(span),
            forceFlush: async () => {},
            shutdown: async () => {},
          },
        ],
      });
      for (let i = 0; i < SERIALIZED_SPANS; i++) {
        const span = recorder.getTracer('bench').startSpan(`span ${i}`, { attributes: SERVER_ATTRIBUTES });
        span.end();
      }
      return { run: async () => on && serializer.serializeRequest(spans), close: nothing };
    }
  }
}

async function main(): Promise<void> {
  if (on && caseName !== 'json' && caseName !== 'protobuf') startTracing();
  const { run, close } = await operationFor(caseName);
  for (let i = 0; i < Math.ceil(iterations / 5); i++) await run(); // warm-up: JIT and keep-alive connections
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await run();
  const elapsedUs = Number(process.hrtime.bigint() - started) / 1_000;
  const perSpan = caseName === 'json' || caseName === 'protobuf' ? SERIALIZED_SPANS : 1;
  close();
  process.stdout.write(
    `${JSON.stringify({ case: caseName, variant, usPerOp: elapsedUs / iterations / perSpan })}\n`,
  );
  process.exit(0);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
