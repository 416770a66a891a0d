import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  deferModules,
  loadedDeferredModules,
  SDK_NODE_EXTRAS,
} from '../../functions/shared/deferred-modules';
import { isAwsSdkRequest } from '../../functions/shared/span-hooks';
import { linearFit } from '../../scripts/bench-stats';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';
import { freePort } from '../../scripts/ports';

const PRELOAD = path.join(PROJECT_ROOT, 'dist/functions/shared/tracing.js');

/**
 * Starts a Lambda-like process with the tracing preload, makes a span and a log record, exports both to a
 * local receiver, and reports which modules it loaded.
 */
async function loadedModules(env: NodeJS.ProcessEnv): Promise<string[]> {
  const port = await freePort();
  const script = `
    const api = require('@opentelemetry/api');
    api.trace.getTracer('test').startSpan('test').end();
    api.logs.getLogger('test').emit({ body: 'test' });
    const receiver = require('node:http').createServer((request, response) => request.resume().on('end', () => response.end('{}')));
    receiver.listen(Number(process.env.RECEIVER_PORT), '127.0.0.1', async () => {
      await api.trace.getTracerProvider().getDelegate?.().forceFlush?.();
      await api.logs.getLoggerProvider().forceFlush?.();
      console.log(JSON.stringify(Object.keys(require.cache)));
      process.exit(0);
    });`;
  const output = execFileSync(process.execPath, ['--require', PRELOAD, '-e', script], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      _HANDLER: 'dist/functions/fraud/handler.handler',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      LOKI_URL: `http://127.0.0.1:${port}`,
      RECEIVER_PORT: String(port),
      ...env,
    },
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').at(-1) ?? '[]') as string[];
}

describe('what tracing loads', () => {
  it('loads no OpenTelemetry SDK module in an untraced instance', async () => {
    const sdk = (await loadedModules({ OTEL_SDK_DISABLED: 'true' })).filter((file) =>
      /@opentelemetry\/(sdk-|instrumentation|exporter-)/.test(file),
    );
    assert.deepEqual(sdk, []);
  });

  it("loads none of sdk-node's unused exporters, propagators or config loader in a traced one, even exporting", async () => {
    const loaded = await loadedModules({ OTEL_SDK_DISABLED: 'false' });
    assert.ok(
      loaded.some((file) => file.includes('@opentelemetry/sdk-node')),
      'the SDK was started',
    );
    // A stand-in sits in the cache under the real entry file's name; the module's other files never load.
    const filesOf = (name: string) => loaded.filter((file) => file.includes(`/node_modules/${name}/`));
    const loadedForReal = SDK_NODE_EXTRAS.filter((name) => filesOf(name).length > 1);
    assert.deepEqual(loadedForReal, []);
  });
});

describe('deferModules', () => {
  it('loads a deferred module on first use and forwards to it', () => {
    const requester = path.dirname(require.resolve('@opentelemetry/sdk-node'));
    const name = '@opentelemetry/propagator-b3';
    deferModules([name], '@opentelemetry/sdk-node');
    const standIn = require(require.resolve(name, { paths: [requester] })) as { B3Propagator?: unknown };
    assert.equal(loadedDeferredModules.has(name), false, 'required, not yet used');
    assert.equal(typeof standIn.B3Propagator, 'function');
    assert.equal(loadedDeferredModules.has(name), true, 'used, so loaded');
    assert.ok(Object.keys(standIn).includes('B3Propagator'), 'its keys are the real module’s');
  });
});

describe('isAwsSdkRequest', () => {
  it("recognises the AWS SDK's own HTTP requests, and only those", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"TableNames":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await client.send(new ListTablesCommand({}));
    } finally {
      client.destroy();
      server.close();
    }
    assert.equal(seen.length, 1);
    assert.equal(isAwsSdkRequest({ headers: seen[0] }), true, 'a DynamoDB call');
    assert.equal(
      isAwsSdkRequest({ headers: { 'content-type': 'application/json', traceparent: '00-…' } }),
      false,
      'a call between functions',
    );
    assert.equal(isAwsSdkRequest({}), false, 'no headers');
  });
});

describe('linearFit', () => {
  it('recovers an exact line, with a zero-width interval', () => {
    const fit = linearFit([0, 1, 2, 3], [1, 3, 5, 7]);
    assert.equal(fit.slope, 2);
    assert.equal(fit.intercept, 1);
    assert.equal(fit.slopeLow, 2);
    assert.equal(fit.slopeHigh, 2);
  });

  it("puts 0 inside a flat sawtooth's interval and outside a rising one's", () => {
    const xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const sawtooth = [10, 12, 9, 11, 13, 10, 12, 9, 11, 10];
    const flat = linearFit(xs, sawtooth);
    assert.ok(flat.slopeLow < 0 && flat.slopeHigh > 0, JSON.stringify(flat));
    const rising = linearFit(
      xs,
      sawtooth.map((y, i) => y + i),
    );
    assert.ok(rising.slopeLow > 0, JSON.stringify(rising));
  });

  it('refuses fewer than three points', () => {
    assert.throws(() => linearFit([1, 2], [1, 2]), /3 or more/);
  });
});
