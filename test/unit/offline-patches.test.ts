import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { patchLambdaPool } from '#local-runtime/instance-pool.cjs';

import * as internals from '#local-runtime/offline-internals.cjs';

/** The version check and the pool patch, as local-runtime/ applies them. */
const patches = { ...internals, patchLambdaPool };

const scratch = mkdtempSync(path.join(tmpdir(), 'offline-patches-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the installed serverless-offline's package.json and src/, to break on purpose. */
function offlineCopy(version: string): string {
  const root = mkdtempSync(path.join(scratch, 'serverless-offline-'));
  cpSync(path.join(patches.offlineRoot(), 'src'), path.join(root, 'src'), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'serverless-offline', version }));
  return root;
}

/** A deferred result, to finish an invocation when the test says so. */
function deferred<T = unknown>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Stand-ins for serverless-offline's LambdaFunction and LambdaFunctionPool with the behaviour the patch
 * relies on: status BUSY from the start of runHandler to its end; the pool hands out an IDLE instance or a
 * new one; cleanup() replaces the runtime.
 */
function fakeOffline() {
  const runs: Array<{ instance: number; event: unknown; done: ReturnType<typeof deferred> }> = [];
  let created = 0;
  class LambdaFunction {
    readonly id = ++created;
    cleanups = 0;
    #status = 'IDLE';
    #event: unknown;
    get status() {
      return this.#status;
    }
    setEvent(event: unknown) {
      this.#event = event;
    }
    setClientContext() {}
    async runHandler() {
      this.#status = 'BUSY';
      const done = deferred();
      runs.push({ instance: this.id, event: this.#event, done });
      try {
        return await done.promise;
      } finally {
        this.#status = 'IDLE';
      }
    }
    async cleanup() {
      this.cleanups++;
    }
  }
  class LambdaFunctionPool {
    readonly pool = new Map<string, Set<LambdaFunction>>();
    get(key: string) {
      const instances = this.pool.get(key) ?? new Set();
      this.pool.set(key, instances);
      const idle = [...instances].find((instance) => instance.status === 'IDLE');
      if (idle) return idle;
      const instance = new LambdaFunction();
      instances.add(instance);
      return instance;
    }
  }
  return { LambdaFunction, LambdaFunctionPool, runs };
}

type Fake = ReturnType<typeof fakeOffline>;
/** serverless-offline's own use of the pool: get, set the event, run. */
function invoke(pool: InstanceType<Fake['LambdaFunctionPool']>, event: unknown) {
  const instance = pool.get('order') as unknown as {
    setEvent(e: unknown): void;
    runHandler(): Promise<unknown>;
  };
  instance.setEvent(event);
  return instance.runHandler();
}
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** Pool settings whose waits never run out within a test: the queue, without throttling. */
const queueing = (maxInstances: number) => ({ maxInstances, throttleAfterMs: 60_000, warn: () => {} });

/** An API Gateway proxy event, as serverless-offline builds one. */
const apiEvent = (requestId: string) => ({ httpMethod: 'POST', requestContext: { requestId } });

describe('serverless-offline patches: the version check', () => {
  it(`accepts the installed serverless-offline (${patches.PATCHED_VERSION}, as package.json pins it)`, () => {
    patches.assertPatchable();
  });

  it('stops on another version, naming the installed and the expected one', () => {
    assert.throws(
      () => patches.assertPatchable(offlineCopy('14.9.0')),
      (error: Error) => {
        assert.equal(error.name, 'PatchMismatchError');
        assert.match(error.message, /serverless-offline 14\.9\.0 is installed/);
        assert.match(
          error.message,
          new RegExp(`written against serverless-offline ${patches.PATCHED_VERSION}`),
        );
        assert.match(error.message, /Not starting/);
        return true;
      },
    );
  });

  it('stops when a module the patches import has moved, naming it', () => {
    const root = offlineCopy(patches.PATCHED_VERSION);
    rmSync(path.join(root, 'src/lambda/handler-runner/worker-thread-runner/workerThreadHelper.js'));
    assert.throws(() => patches.assertPatchable(root), /workerThreadHelper\.js is missing/);
  });

  it('stops when a patched member is gone, naming it', () => {
    const { LambdaFunction, LambdaFunctionPool } = fakeOffline();
    delete (LambdaFunction.prototype as { runHandler?: unknown }).runHandler;
    assert.throws(
      () => patches.assertPoolShape({ LambdaFunction, LambdaFunctionPool }, patches.PATCHED_VERSION),
      /LambdaFunction\.prototype\.runHandler is not a function/,
    );
  });
});

describe('serverless-offline patches: the instance pool', () => {
  it('caps the instances per function and queues the rest', async () => {
    const fake = fakeOffline();
    const controls = patches.patchLambdaPool(fake, queueing(2));
    const pool = new fake.LambdaFunctionPool();
    const answers = ['a', 'b', 'c'].map((event) => invoke(pool, event));
    await settled();
    assert.deepEqual(
      fake.runs.map((run) => run.event),
      ['a', 'b'],
    );
    assert.deepEqual(controls.stats(), { order: { instances: 2, waiting: 1 } });
    fake.runs[0]?.done.resolve('A');
    await settled();
    assert.deepEqual(
      fake.runs.map((run) => `${run.event}@${run.instance}`),
      ['a@1', 'b@2', 'c@1'],
    );
    fake.runs[1]?.done.resolve('B');
    fake.runs[2]?.done.resolve('C');
    assert.deepEqual(await Promise.all(answers), ['A', 'B', 'C']);
  });

  it('serves queued requests in arrival order; a newcomer never jumps the queue', async () => {
    const fake = fakeOffline();
    patches.patchLambdaPool(fake, queueing(1));
    const pool = new fake.LambdaFunctionPool();
    const answers = [invoke(pool, 'first'), invoke(pool, 'second'), invoke(pool, 'third')];
    await settled();
    fake.runs[0]?.done.resolve(1);
    // Arrives as the instance turns idle, while "third" still waits.
    answers.push(invoke(pool, 'newcomer'));
    for (let index = 1; index < 4; index++) {
      await settled();
      fake.runs[index]?.done.resolve(index + 1);
    }
    assert.deepEqual(await Promise.all(answers), [1, 2, 3, 4]);
    assert.deepEqual(
      fake.runs.map((run) => run.event),
      ['first', 'second', 'third', 'newcomer'],
    );
  });

  it("replaces a crashed instance's runtime and keeps the instance, so nothing leaks or waits on it", async () => {
    const fake = fakeOffline();
    const controls = patches.patchLambdaPool(fake, queueing(1));
    const pool = new fake.LambdaFunctionPool();
    const crashed = invoke(pool, 'dies');
    await settled();
    fake.runs[0]?.done.reject(new Error('Runtime exited with error: exit status 137'));
    await assert.rejects(crashed, /exit status 137/);
    const instance = [...(pool.pool.get('order') ?? [])][0] as unknown as { cleanups: number };
    assert.equal(instance.cleanups, 1, 'its runtime was replaced');
    const next = invoke(pool, 'next');
    await settled();
    fake.runs[1]?.done.resolve('ok');
    assert.equal(await next, 'ok');
    assert.deepEqual(controls.stats(), { order: { instances: 1, waiting: 0 } });
  });

  it('resetAll replaces idle runtimes now and busy ones when their invocation ends', async () => {
    const fake = fakeOffline();
    const controls = patches.patchLambdaPool(fake, queueing(2));
    const pool = new fake.LambdaFunctionPool();
    const first = invoke(pool, 'one');
    const second = invoke(pool, 'two');
    await settled();
    fake.runs[0]?.done.resolve('idle now');
    await first;
    const [idle, busy] = [...(pool.pool.get('order') ?? [])] as unknown as Array<{ cleanups: number }>;
    assert.equal(controls.resetAll(), 2);
    assert.equal(idle?.cleanups, 1);
    assert.equal(busy?.cleanups, 0, 'not while it runs');
    fake.runs[1]?.done.resolve('done');
    await second;
    assert.equal(busy?.cleanups, 1);
  });

  it("forgets an instance serverless-offline's idle cleaner removed, so the cap counts live ones only", async () => {
    const fake = fakeOffline();
    const controls = patches.patchLambdaPool(fake, queueing(1));
    const pool = new fake.LambdaFunctionPool();
    const only = invoke(pool, 'x');
    await settled();
    fake.runs[0]?.done.resolve('x');
    await only;
    const [instance] = [...(pool.pool.get('order') ?? [])];
    pool.pool.get('order')?.clear();
    await (instance as unknown as { cleanup(): Promise<void> }).cleanup();
    assert.deepEqual(controls.stats(), { order: { instances: 0, waiting: 0 } });
    const fresh = invoke(pool, 'y');
    await settled();
    assert.equal(fake.runs[1]?.instance, 2, 'a new instance, not a queue behind a removed one');
    fake.runs[1]?.done.resolve('y');
    assert.equal(await fresh, 'y');
  });

  it('throttles a request that finds no instance free within the wait: the API answers 429 as deployed', async () => {
    const fake = fakeOffline();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, {
      maxInstances: 1,
      throttleAfterMs: 0,
      warn: (line) => warnings.push(line),
    });
    const pool = new fake.LambdaFunctionPool();
    const busy = invoke(pool, apiEvent('req-busy'));
    await settled();
    const throttled = (await invoke(pool, apiEvent('req-throttled'))) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    assert.equal(throttled.statusCode, 429);
    assert.deepEqual(throttled.headers, { 'Content-Type': 'application/json', 'Retry-After': '1' });
    assert.deepEqual(JSON.parse(throttled.body), {
      status: 'failure',
      message:
        'Too many requests: the function is at its concurrency limit. Retry after the Retry-After seconds.',
      category: 'throttled',
      trace_id: 'req-throttled',
    });
    await assert.rejects(invoke(pool, { source: 'schedule' }), {
      name: 'TooManyRequestsException',
      message: '[429] Rate Exceeded: order is at its concurrency limit',
    });
    assert.equal(fake.runs.length, 1, 'neither throttled request ran');
    fake.runs[0]?.done.resolve('ok');
    assert.equal(await busy, 'ok');
  });

  it('answers a crashed API invocation as API Gateway does: 502 with the JSON body, in one warning line', async () => {
    const fake = fakeOffline();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, {
      maxInstances: 1,
      throttleAfterMs: 0,
      warn: (line) => warnings.push(line),
    });
    const pool = new fake.LambdaFunctionPool();
    const crashed = invoke(pool, apiEvent('req-crash'));
    await settled();
    fake.runs[0]?.done.reject(new Error('[504] - Lambda timeout.'));
    const answer = (await crashed) as { statusCode: number; body: string };
    assert.equal(answer.statusCode, 502);
    assert.equal(JSON.parse(answer.body).category, 'downstream_failure');
    assert.equal(JSON.parse(answer.body).trace_id, 'req-crash');
    assert.deepEqual(warnings, ['order: [504] - Lambda timeout.; answered 502 (request req-crash)']);
  });
});
