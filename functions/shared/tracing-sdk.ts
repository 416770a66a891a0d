/**
 * Starts the OpenTelemetry SDK in a Lambda instance; loaded by tracing.ts (the preload) only when tracing is
 * on, so an untraced instance never loads the SDK. It installs the hooks (telemetry-hooks.ts) through which
 * handlers get their invocation span and bundled modules their instrumentation. The exporter wrapper, the OTLP
 * headers and the span hooks are modules of their own.
 */
import { logs, trace } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import type { Flushable } from './flush';
import { ExplicitLambdaInstrumentation } from './lambda-instrumentation';
import { headersFromSsm } from './otlp-headers';
import {
  AWS_INSTRUMENTATION_CONFIG,
  HTTP_INSTRUMENTATION_CONFIG,
  recordHttpOutcome,
  serverSpanAttributes,
} from './span-hooks';
import { flushingLogsToo, logsEndpoint, WarnOnceExporter } from './telemetry-export';
import { installTelemetryHooks } from './telemetry-hooks';

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** instanceStartTime: when the instance started, so `faas.coldstart` is right however long serverless-offline has run. */
export function startTracing(instanceStartTime: number): void {
  const offline = process.env.IS_OFFLINE === 'true';
  // Traces and logs: the SDK would otherwise also start an OTLP metric exporter.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';

  const baseEndpoint = (process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(
    /\/$/,
    '',
  );
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${baseEndpoint}/v1/traces`;
  const headersParameter = process.env.OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER;
  const headers = headersParameter && !offline ? { headers: headersFromSsm(headersParameter) } : {};
  const exporter = new WarnOnceExporter(new OTLPTraceExporter(headers), endpoint);
  const logsUrl = logsEndpoint(process.env, baseEndpoint);

  const lambdaInstrumentation = new ExplicitLambdaInstrumentation({
    lambdaStartTime: instanceStartTime,
    requestHook: (span, { event }) => span.setAttributes(serverSpanAttributes(event)),
    responseHook: (span, info) => recordHttpOutcome(span, info),
  });

  const instrumentations = [
    lambdaInstrumentation,
    // The logger adds trace_id/span_id itself (with a fallback when tracing is off): only the sending is wanted.
    new PinoInstrumentation({ disableLogCorrelation: true, disableLogSending: !logsUrl }),
    new HttpInstrumentation(HTTP_INSTRUMENTATION_CONFIG),
    new AwsInstrumentation(AWS_INSTRUMENTATION_CONFIG),
  ];
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.namespace': 'orders',
      'deployment.environment.name': process.env.STAGE ?? 'local',
    }),
    // Only the environment detector: it honours OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    resourceDetectors: [envDetector],
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        // The processor no longer reads OTEL_BSP_*; honour the two that matter here.
        scheduledDelayMillis: numberFromEnv('OTEL_BSP_SCHEDULE_DELAY', 1_000),
        // Bounds memory when the backend is down: spans beyond this are dropped, not queued.
        maxQueueSize: numberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE', 2_048),
      }),
    ],
    // pino's lines become OTLP log records (after redaction: the sender reads the serialised line), batched
    // like spans. Loki takes service.name as the service_name label and trace_id/span_id as structured metadata.
    logRecordProcessors: logsUrl
      ? [
          new BatchLogRecordProcessor({
            exporter: new WarnOnceExporter(new OTLPLogExporter({ url: logsUrl, ...headers }), logsUrl, 'log'),
            scheduledDelayMillis: numberFromEnv('OTEL_BLRP_SCHEDULE_DELAY', 1_000),
            maxQueueSize: numberFromEnv('OTEL_BLRP_MAX_QUEUE_SIZE', 2_048),
          }),
        ]
      : [],
    instrumentations,
  });
  sdk.start();
  installTelemetryHooks({
    traceHandler: (handler) => lambdaInstrumentation.traceHandler(handler),
    patchBundledModule: bundledModulePatcher(instrumentations),
  });

  // Deployed, the sandbox freezes once the handler returns, so spans and log records are flushed before it
  // does. Offline, the process lives on and the batch processors export in the background: a response never waits.
  if (!offline) {
    lambdaInstrumentation.setTracerProvider(
      flushingLogsToo(trace.getTracerProvider(), logs.getLoggerProvider() as Flushable),
    );
  }
}

/** What an instrumentation says it patches (@opentelemetry/instrumentation's InstrumentationModuleDefinition). */
interface ModuleDefinition {
  name: string;
  patch?: (exports: unknown, version?: string) => unknown;
  files?: Array<{ name: string; patch: (exports: unknown, version?: string) => unknown }>;
}

/**
 * Patches a module that a bundle hands over (telemetry-hooks.ts) with the instrumentation that names it, as
 * the instrumentation's require hook would: the package's entry point through its module definition, an
 * inner file through its file definition. The bundler checked the version against the supported ranges.
 */
function bundledModulePatcher(instrumentations: Array<{ getModuleDefinitions(): ModuleDefinition[] }>) {
  const definitions = instrumentations.flatMap((instrumentation) => instrumentation.getModuleDefinitions());
  return (pkg: string, file: string, isMain: boolean, version: string, exports: unknown): unknown => {
    let patched = exports;
    for (const definition of definitions) {
      if (isMain && definition.name === pkg) patched = definition.patch?.(patched, version) ?? patched;
      for (const inner of definition.files ?? []) {
        if (inner.name === `${pkg}/${file}`) patched = inner.patch(patched, version) ?? patched;
      }
    }
    return patched;
  };
}
