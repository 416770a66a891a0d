import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { telemetrySettings } from '../../functions/shared/telemetry/settings';
import { sdkDisabled } from '../../functions/shared/telemetry/tracing';
import { samplerOf } from '../../functions/shared/telemetry/tracing-sdk';

describe('the tracing preload’s settings', () => {
  it('takes what serverless.yml writes for "not given" (empty strings) as the defaults', () => {
    const settings = telemetrySettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
      OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER: '',
      LOKI_URL: '',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_TRACES_SAMPLER_ARG: '',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_LOGS_EXPORTER: 'otlp',
    });
    assert.equal(settings.OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER, undefined);
    assert.equal(settings.LOKI_URL, undefined);
    assert.equal(settings.OTEL_TRACES_SAMPLER_ARG, 1);
    assert.equal(settings.OTEL_BSP_MAX_QUEUE_SIZE, 2_048);
    assert.equal(settings.STAGE, 'local');
    assert.equal(settings.IS_OFFLINE, false);
  });

  it('reads OTEL_SDK_DISABLED as every other flag, and refuses a value that is neither true nor false', () => {
    assert.equal(sdkDisabled('true'), true);
    assert.equal(sdkDisabled('1'), true);
    assert.equal(sdkDisabled(''), false);
    assert.equal(sdkDisabled(undefined), false);
    assert.equal(sdkDisabled('false'), false);
    assert.throws(() => sdkDisabled('yes'), /OTEL_SDK_DISABLED: must be true or false, got "yes"/);
  });

  it('stops the start with the variable’s name on a malformed value, instead of a silent fallback', () => {
    assert.throws(() => telemetrySettings({ OTEL_TRACES_SAMPLER: 'xray' }), /OTEL_TRACES_SAMPLER/);
    assert.throws(() => telemetrySettings({ OTEL_TRACES_SAMPLER_ARG: '1.5' }), /OTEL_TRACES_SAMPLER_ARG/);
    assert.throws(() => telemetrySettings({ OTEL_BSP_SCHEDULE_DELAY: 'soon' }), /OTEL_BSP_SCHEDULE_DELAY/);
    assert.throws(
      () => telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it('builds the sampler OTEL_TRACES_SAMPLER names, with its ratio', () => {
    assert.ok(
      samplerOf({ OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_TRACES_SAMPLER_ARG: 1 }) instanceof
        ParentBasedSampler,
    );
    const ratio = samplerOf({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 0.25 });
    assert.ok(ratio instanceof TraceIdRatioBasedSampler);
    assert.match(ratio.toString(), /0\.25/);
    assert.match(
      samplerOf({ OTEL_TRACES_SAMPLER: 'parentbased_always_off', OTEL_TRACES_SAMPLER_ARG: 1 }).toString(),
      /ParentBased\{root=AlwaysOffSampler/,
    );
  });
});
