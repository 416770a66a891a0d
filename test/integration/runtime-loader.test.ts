import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { memoryReportOf } from '../../scripts/bench/memory';
import { eventually } from '../../scripts/lib/eventually';
import { type Offline, startOffline } from '../../scripts/lib/offline';
import { freePort } from '../../scripts/lib/ports';

/**
 * Offline, a handler is loaded and called as the function's runtime (nodejs24.x) does it, not as
 * serverless-offline's own loader does: a callback handler is refused at init, a handler only `import()` can
 * load runs, and the context is the runtime's. A handler that would break deployed breaks here.
 */
describe("serverless offline refuses a Node other than the functions' runtime", () => {
  it('stops, naming both versions, when the functions run on nodejs22.x and it runs on Node 24', async () => {
    await assert.rejects(
      startOffline({
        cwd: path.join(PROJECT_ROOT, 'test', 'fixtures', 'runtime-loader'),
        env: {
          HTTP_PORT: String(await freePort()),
          OFFLINE_LAMBDA_PORT: String(await freePort()),
          FIXTURE_RUNTIME: 'nodejs22.x',
        },
      }),
      new RegExp(
        `running on Node ${process.version.replaceAll('.', '\\.')}, but the functions run on nodejs22\\.x \\(Node 22\\)`,
      ),
    );
  });
});

describe('serverless offline loads handlers as the nodejs24.x runtime does', () => {
  let offline: Offline;
  const memoryReportFile = path.join(mkdtempSync(path.join(tmpdir(), 'memory-report-')), 'memory.json');

  before(async () => {
    offline = await startOffline({
      cwd: path.join(PROJECT_ROOT, 'test', 'fixtures', 'runtime-loader'),
      env: {
        HTTP_PORT: String(await freePort()),
        OFFLINE_LAMBDA_PORT: String(await freePort()),
        OFFLINE_MEMORY_REPORT: memoryReportFile,
      },
    });
  });
  after(async () => {
    await offline?.stop();
    rmSync(path.dirname(memoryReportFile), { recursive: true, force: true });
  });

  const get = async (route: string) => {
    const response = await fetch(`${offline.url}/${route}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('refuses a callback handler with Runtime.CallbackHandlerDeprecated, as Lambda does on Node 24', async () => {
    const response = await fetch(`${offline.url}/callback`);
    // The init error fails the invocation: API Gateway answers 502, and the terminal names the runtime's error.
    assert.equal(response.status, 502);
    await eventually(
      () =>
        /Runtime\.CallbackHandlerDeprecated: ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node\.js 24/.test(
          offline.output(),
        ) || undefined,
      {
        what: "the runtime's CallbackHandlerDeprecated error in the terminal",
        seen: () => offline.output().slice(-2000),
      },
    );
  });

  it('runs a handler that only import() can load, with the runtime’s AWS_EXECUTION_ENV', async () => {
    const { status, body } = await get('import-only');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { greeting: 'loaded with import()', executionEnv: 'AWS_Lambda_nodejs24.x' });
  });

  it('calls an async handler with the runtime’s context: a deadline, no callback-era members', async () => {
    const { status, body } = await get('async');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.legacyMembers, []);
    assert.ok(
      Number(body.remainingMs) > 0 && Number(body.remainingMs) <= 6_000,
      `${body.remainingMs} ms left`,
    );
  });

  it("bounds an instance's heap as Lambda's bootstrap bounds its function's memory size", async () => {
    assert.equal((await get('async')).status, 200);
    const report = await memoryReportOf(offline.process.pid ?? 0, memoryReportFile);
    const limitsMb = report.instances.map((instance) => [
      instance.function,
      Math.round(instance.heapSizeLimit / 2 ** 20),
    ]);
    const asyncLimit = limitsMb.find(([name]) => name === 'asyncHandler')?.[1];
    // 128 MB: --max-old-space-size=116 and --max-semi-space-size=6 in Lambda, about 134 MB of heap in all.
    // Without the limits, V8 sizes the heap for this machine: gigabytes.
    assert.ok(
      typeof asyncLimit === 'number' && asyncLimit >= 116 && asyncLimit <= 150,
      `heap limits by instance, MB: ${JSON.stringify(limitsMb)}`,
    );
  });

  it("holds an instance's young generation to the local setting (6 MB by default), below Lambda's 18 MB at 128 MB", async () => {
    assert.equal((await get('churn')).status, 200);
    const report = await memoryReportOf(offline.process.pid ?? 0, memoryReportFile);
    const instance = report.instances.find((candidate) => candidate.function === 'churn');
    const newSpaceMb = (instance?.heapSpacesCommitted.new_space ?? 0) / 2 ** 20;
    // At Lambda's size (youngGeneration: lambda) this churn grows the new space to 16 MiB committed; held to
    // 6 MB, its semi-spaces are 2 MiB.
    assert.ok(newSpaceMb > 0 && newSpaceMb <= 6, `churn's new space: ${newSpaceMb} MiB committed`);
  });

  it('stops an instance that runs out of its heap: its invocation fails, the others carry on', async () => {
    const response = await fetch(`${offline.url}/leak`);
    assert.equal(response.status, 502, 'a function error, as API Gateway answers it');
    await eventually(
      () => /leak: an instance stopped \(ERR_WORKER_OUT_OF_MEMORY\)/.test(offline.output()) || undefined,
      {
        what: 'the out-of-memory line in the terminal',
        seen: () => offline.output().slice(-2000),
      },
    );
    assert.equal((await get('async')).status, 200, 'the offline process is still up');
  });
});
