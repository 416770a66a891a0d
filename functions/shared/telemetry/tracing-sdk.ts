/**
 * Starts the OpenTelemetry SDK in a Lambda instance, through sdk-node's NodeSDK; loaded by tracing.ts (the
 * preload) only when tracing is on, so an untraced instance never loads the SDK. It installs the hooks
 * (handoff.ts) through which handlers get their invocation span and bundled modules their instrumentation. The
 * exporter wrapper, the OTLP headers and the span hooks are modules of their own.
 *
 * Everything NodeSDK could build from OTEL_* variables is given here instead (processors, exporters, sampler,
 * propagator, context manager, resource, no metric readers), so it reads none of them but the span and log
 * limits. Deployed, the bundle leaves out the exporters and loaders it could otherwise build
 * (local-runtime/esbuild-plugins.cjs, NODE_SDK_UNUSED).
 */
import { logs, type ProxyTracerProvider, type TracerProvider, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type TracerProvider as SdkTracerProvider,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import { AfterResponseExport, extensionsApiAt } from './after-response';
import { BaggageAttributes } from './baggage-attributes';
import { EdgeTraceIds, serverSpanConfig } from './edge-context';
import type { Flushable } from './flush';
import { drainExports, flushingLogsToo } from './flush';
import { installTelemetryHooks } from './handoff';
import { AWS_INSTRUMENTATION_CONFIG, HTTP_INSTRUMENTATION_CONFIG } from './instrumentation-config';
import { ExplicitLambdaInstrumentation } from './lambda-instrumentation';
import { headersFromSsm } from './otlp-headers';
import { logsEndpoint, type TelemetrySettings, telemetrySettings } from './settings';
import { telemetryLine, WarnOnceExporter } from './warn-once-exporter';

/** instanceStartTime: when the instance started, so `faas.coldstart` is right however long serverless-offline has run. */
export function startTracing(instanceStartTime: number, settings = telemetrySettings()): void {
  const offline = settings.IS_OFFLINE;
  const baseEndpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '');
  const endpoint = settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${baseEndpoint}/v1/traces`;
  const headersParameter = settings.OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER;
  const ssm = {
    region: settings.AWS_REGION,
    endpoint: settings.AWS_ENDPOINT_URL_SSM ?? settings.AWS_ENDPOINT_URL,
  };
  const headers = headersParameter && !offline ? { headers: headersFromSsm(headersParameter, ssm) } : {};
  /** Where the extension registers, when it does: deployed, exporting after the response. */
  const extensionsApi =
    !offline && settings.TELEMETRY_EXPORT === 'after-response' ? settings.AWS_LAMBDA_RUNTIME_API : undefined;
  // Exporting before the answer, the first flush would wait for SSM's round trip: asked now, during init, it
  // overlaps the handler's loading. Exporting after the answer, the first export asks for it, so init does none
  // of its work (loading https, signing, the TLS handshake). A failure is retried at the next export.
  if (!extensionsApi) headers.headers?.().catch(() => {});
  const logsUrl = logsEndpoint(settings, baseEndpoint);

  const traceIds = new EdgeTraceIds();
  const serviceName = settings.OTEL_SERVICE_NAME;
  const spanExporter = new WarnOnceExporter(new OTLPTraceExporter({ url: endpoint, ...headers }), endpoint, {
    serviceName,
  });
  const logExporter = logsUrl
    ? new WarnOnceExporter(new OTLPLogExporter({ url: logsUrl, ...headers }), logsUrl, {
        serviceName,
        signal: 'log',
      })
    : undefined;
  const lambdaInstrumentation = new ExplicitLambdaInstrumentation({
    lambdaStartTime: instanceStartTime,
    ...serverSpanConfig(settings.INBOUND_TRACE_CONTEXT, traceIds),
  });
  const instrumentations = [
    lambdaInstrumentation,
    // The logger adds trace_id/span_id itself (with a fallback when tracing is off): only the sending is wanted.
    new PinoInstrumentation({ disableLogCorrelation: true, disableLogSending: !logsUrl }),
    new HttpInstrumentation(HTTP_INSTRUMENTATION_CONFIG),
    new AwsInstrumentation(AWS_INSTRUMENTATION_CONFIG),
  ];
  new NodeSDK({
    // Our own two attributes, under OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the environment detector).
    resource: resourceFromAttributes({
      'service.namespace': 'orders',
      'deployment.environment.name': settings.STAGE,
    }),
    resourceDetectors: [envDetector],
    contextManager: new AsyncLocalStorageContextManager(),
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    idGenerator: traceIds,
    sampler: samplerOf(settings),
    spanProcessors: [
      new BaggageAttributes(),
      new BatchSpanProcessor({
        exporter: spanExporter,
        scheduledDelayMillis: settings.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: settings.OTEL_BSP_MAX_QUEUE_SIZE,
      }),
    ],
    // pino's lines become OTLP log records (after redaction: the sender reads the serialised line), batched
    // like spans. Loki takes service.name as the service_name label and trace_id/span_id as structured metadata.
    logRecordProcessors: logExporter
      ? [
          new BatchLogRecordProcessor({
            exporter: logExporter,
            scheduledDelayMillis: settings.OTEL_BLRP_SCHEDULE_DELAY,
            maxQueueSize: settings.OTEL_BLRP_MAX_QUEUE_SIZE,
          }),
        ]
      : [],
    metricReaders: [],
    instrumentations,
  }).start();
  // NodeSDK registered the providers globally (after the instrumentations, which reach them through the API).
  const tracerProvider = (
    trace.getTracerProvider() as ProxyTracerProvider
  ).getDelegate() as SdkTracerProvider;
  const loggerProvider = logs.getLoggerProvider() as Flushable;

  // Deployed, the sandbox freezes once an invocation ends. By default an internal extension holds that end
  // until the invocation's telemetry is exported, after its response (after-response.ts); with
  // TELEMETRY_EXPORT=before-response, or if the extension could not register, the instrumentation flushes
  // before the handler returns. Offline, the process lives on and the batch processors export in the
  // background: a response never waits. (The instrumentation flushes whatever provider it is given that can.)
  const afterResponse = extensionsApi
    ? new AfterResponseExport({
        api: extensionsApiAt(extensionsApi),
        drain: drainExports(
          { tracerProvider, loggerProvider },
          { spans: spanExporter, logRecords: logExporter },
        ),
        waitMs: settings.TELEMETRY_EXPORT_WAIT_MS,
        write: (level, msg, fields) =>
          process.stderr.write(`${telemetryLine(serviceName, level, msg, fields)}\n`),
      })
    : undefined;
  if (afterResponse) {
    // Registration must reach Lambda during init, before the runtime's first /invocation/next: it is asked now,
    // while the handler's module loads.
    void afterResponse.start();
    process.once('SIGTERM', () => void afterResponse.shutdown());
  }
  installTelemetryHooks({
    traceHandler: (handler) => {
      const traced = lambdaInstrumentation.traceHandler(handler);
      return afterResponse ? afterResponse.track(traced) : traced;
    },
    patchBundledModule: bundledModulePatcher(instrumentations),
  });
  lambdaInstrumentation.setTracerProvider(
    offline
      ? ({ getTracer: tracerProvider.getTracer.bind(tracerProvider) } as TracerProvider)
      : flushingLogsToo(tracerProvider, loggerProvider, () => afterResponse?.registered === true),
  );
}

/** OTEL_TRACES_SAMPLER and its argument, as the specification defines them. */
export function samplerOf({
  OTEL_TRACES_SAMPLER: name,
  OTEL_TRACES_SAMPLER_ARG: ratio,
}: Pick<TelemetrySettings, 'OTEL_TRACES_SAMPLER' | 'OTEL_TRACES_SAMPLER_ARG'>): Sampler {
  const root = {
    always_on: new AlwaysOnSampler(),
    always_off: new AlwaysOffSampler(),
    traceidratio: new TraceIdRatioBasedSampler(ratio),
  }[name.replace(/^parentbased_/, '') as 'always_on' | 'always_off' | 'traceidratio'];
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** What an instrumentation says it patches (@opentelemetry/instrumentation's InstrumentationModuleDefinition). */
interface ModuleDefinition {
  name: string;
  patch?: (exports: unknown, version?: string) => unknown;
  files?: Array<{ name: string; patch: (exports: unknown, version?: string) => unknown }>;
}

/**
 * Patches a module that a bundle hands over (handoff.ts) with the instrumentation that names it, as
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
