import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import CODE_CACHE from '../../functions/shared/telemetry/code-cache.json';
import { isAwsSdkRequest } from '../../functions/shared/telemetry/instrumentation-config';
import { optionsOf } from '../../scripts/bench/options';
import { growthPer10k, linearFit } from '../../scripts/bench/stats';
import { freePort } from '../../scripts/lib/ports';

const PRELOAD = path.join(PROJECT_ROOT, 'dist/functions/shared/telemetry/tracing.js');

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

  it('loads no exporter, propagator or transport it does not use in a traced one, even exporting', async () => {
    const loaded = await loadedModules({ OTEL_SDK_DISABLED: 'false' });
    const packages = new Set(
      loaded.flatMap((file) => /\/node_modules\/(@opentelemetry\/[^/]+)\//.exec(file)?.[1] ?? []),
    );
    assert.ok(packages.has('@opentelemetry/sdk-node'), `NodeSDK started it: ${[...packages]}`);
    assert.ok(packages.has('@opentelemetry/sdk-trace'), `the SDK was started: ${[...packages]}`);
    const unused = [...packages].filter((name) =>
      /configuration|grpc|proto|zipkin|prometheus|propagator-b3|sdk-metrics/.test(name),
    );
    assert.deepEqual(unused, []);
  });
});

describe("the package's code cache, deployed", () => {
  const own = `${process.version}-${process.arch}`;
  const MODULE = 'dist/functions/fraud/handler.js';
  /**
   * Runs the preload as a deployed sandbox would (untraced: the cache concerns every instance), with a task root
   * holding a small CommonJS module at MODULE and, from `cache`, the files of its compile-cache/; the process
   * loads the module (first building its cache, with `build`) and prints what it exports. Answers that and stderr.
   */
  const startWith = (cache: Record<string, string | Buffer>, build = false) => {
    const taskRoot = mkdtempSync(path.join(os.tmpdir(), 'orders-cache-task-'));
    mkdirSync(path.join(taskRoot, path.dirname(MODULE)), { recursive: true });
    writeFileSync(path.join(taskRoot, MODULE), 'exports.answer = [1, 2, 3].map((n) => n * 14).at(-1);\n');
    for (const [file, content] of Object.entries(cache)) {
      mkdirSync(path.dirname(path.join(taskRoot, CODE_CACHE.directory, file)), { recursive: true });
      writeFileSync(path.join(taskRoot, CODE_CACHE.directory, file), content);
    }
    const building = build
      ? `const b = {}; globalThis[Symbol.for(${JSON.stringify(CODE_CACHE.buildSymbol)})] = b;` +
        `require(${JSON.stringify(PRELOAD)});`
      : '';
    const script = `${building} const m = require(${JSON.stringify(path.join(taskRoot, MODULE))});${
      build ? ' b.loader.write();' : ''
    } console.log(m.answer);`;
    try {
      const result = spawnSync(process.execPath, [...(build ? [] : ['--require', PRELOAD]), '-e', script], {
        env: {
          PATH: process.env.PATH,
          _HANDLER: 'dist/functions/fraud/handler.handler',
          LAMBDA_TASK_ROOT: taskRoot,
          OTEL_SDK_DISABLED: 'true',
          OTEL_SERVICE_NAME: 'fraud-service',
        },
        encoding: 'utf8',
      });
      const built = path.join(taskRoot, CODE_CACHE.directory, own, MODULE);
      return {
        answer: result.stdout.trim(),
        stderr: result.stderr,
        built: existsSync(built) ? readFileSync(built) : undefined,
      };
    } finally {
      rmSync(taskRoot, { recursive: true, force: true });
    }
  };
  const warningOf = (stderr: string) => {
    const [line, ...more] = stderr.trim().split('\n');
    assert.deepEqual(more, []);
    const record = JSON.parse(line ?? '{}') as Record<string, string>;
    assert.equal(record.level, 'warn');
    assert.equal(record.service_name, 'fraud-service');
    return record.msg ?? '';
  };

  it('is built after the module ran, and read by this Node and architecture without a word', () => {
    const { built, answer } = startWith({}, true);
    assert.equal(answer, '42');
    assert.ok(built && built.length > 0, 'the cache of the module it loaded');
    const read = startWith({ [`${own}/${MODULE}`]: built });
    assert.deepEqual(read, { answer: '42', stderr: '', built });
  });

  it('is refused by V8 in one line when it does not fit, and the module still loads', () => {
    const { answer, stderr } = startWith({ [`${own}/${MODULE}`]: Buffer.from('not a code cache') });
    assert.equal(answer, '42');
    assert.match(warningOf(stderr), new RegExp(`V8 refused the package's code cache for ${MODULE}`));
  });

  it('is left alone, in one line, when Lambda runs another Node than the one that built it', () => {
    const { answer, stderr } = startWith({ [`v24.0.0-${process.arch}/${MODULE}`]: 'x' });
    assert.equal(answer, '42');
    assert.match(
      warningOf(stderr),
      new RegExp(
        `has v24\\.0\\.0-${process.arch}, nothing for Node ${process.version.replaceAll('.', '\\.')} on ${process.arch}`,
      ),
    );
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

describe('growthPer10k', () => {
  it('expresses the slope per 10,000 orders as a share of the fitted start', () => {
    // 1,000 MB at the start, 5 MB more every 10,000 orders: 0.5% per 10,000, exactly.
    const growth = growthPer10k(
      [0, 10_000, 20_000, 30_000].map((orders) => [orders, 1_000 + orders / 2_000]),
    );
    assert.ok(Math.abs(growth.pct - 0.5) < 1e-9, JSON.stringify(growth));
    assert.equal(growth.withinGoal, true);
  });

  it('misses the goal when the whole interval lies at or above 1% per 10,000', () => {
    const growth = growthPer10k([0, 10_000, 20_000, 30_000].map((orders) => [orders, 100 + orders / 5_000]));
    assert.ok(Math.abs(growth.pct - 2) < 1e-9, JSON.stringify(growth));
    assert.equal(growth.withinGoal, false);
  });

  it('meets the goal when a noisy interval includes 0, whatever its width', () => {
    const sawtooth = [100, 112, 91, 108, 97, 110, 93, 104];
    const growth = growthPer10k(sawtooth.map((value, i) => [i * 5_000, value]));
    assert.ok(growth.interval[0] < 0 && growth.interval[1] > 1, JSON.stringify(growth));
    assert.equal(growth.withinGoal, true);
  });
});

describe('optionsOf', () => {
  it('reads a value after its name and a switch by its presence', () => {
    const options = optionsOf(['--orders', '500', '--gc', 'file.heapsnapshot']);
    assert.equal(options.value('orders'), '500');
    assert.equal(options.value('samples'), undefined);
    assert.equal(options.flag('gc'), true);
    assert.equal(options.flag('quick'), false);
  });

  it('reads a number, falls back when it is absent, and names the option it cannot read', () => {
    const options = optionsOf(['--orders', '50000', '--samples', '2O', '--settle', '0']);
    assert.equal(options.number('orders', 1), 50_000);
    assert.equal(options.number('settle', 30_000), 0);
    assert.equal(options.number('concurrency', 8), 8);
    assert.throws(() => options.number('samples', 25), /--samples must be a number, got "2O"/);
  });

  it('reads a comma-separated list of numbers as strictly, each item checked', () => {
    const options = optionsOf(['--clients', '4,8,32', '--concurrency', '1,8,3x', '--snapshots-at', '']);
    assert.deepEqual(options.numbers('clients', [1]), [4, 8, 32]);
    assert.deepEqual(options.numbers('modes', [1, 8]), [1, 8]);
    assert.deepEqual(options.numbers('snapshots-at', [5]), []);
    assert.throws(() => options.numbers('concurrency', [1]), /--concurrency must be a number, got "3x"/);
  });
});
