import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { patchLambdaPool } from '#local-runtime/instance-pool.cjs';
import * as internals from '#local-runtime/offline-internals.cjs';
import { instanceCapsOf } from '#local-runtime/plugin.cjs';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { derive } from '../../scripts/lib/manifests';

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

/** Deployed limits for the pool: a function without reserved concurrency and with long timeouts, unless given. */
const limits = ({
  reservedConcurrency = undefined as number | undefined,
  timeoutMs = 60_000,
  integrationTimeoutMs = 29_000,
} = {}) => ({ reservedConcurrency, timeoutMs, integrationTimeoutMs: () => integrationTimeoutMs });

/** Pool settings whose waits never run out within a test: the queue, without throttling. */
const queueing = (maxInstances: number) => ({
  maxInstancesOf: () => maxInstances,
  limitsOf: () => limits(),
  stage: { rateLimit: 0, burstLimit: 0 },
  warn: () => {},
});

/** An API Gateway proxy event, as serverless-offline builds one. */
const apiEvent = (requestId: string) => ({
  httpMethod: 'POST',
  resource: '/api/order',
  requestContext: { requestId },
});

/** A clock the test moves. */
function manualClock() {
  let time = 0;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

type GatewayAnswer = { statusCode: number; headers: Record<string, string>; body: string };

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

describe('npm run offline:upgrade: what changed in what the local runtime relies on', () => {
  it('finds nothing changed in the installed serverless-offline', async () => {
    const findings = await patches.internalsReport(patches.offlineRoot());
    assert.deepEqual(
      findings.filter((finding) => finding.problem),
      [],
    );
    assert.deepEqual([...new Set(findings.map((finding) => finding.kind))], ['file', 'member', 'message']);
  });

  it('names a file, a member and a message that changed', async () => {
    const root = offlineCopy(patches.PATCHED_VERSION);
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'));
    rmSync(path.join(root, 'src/lambda/handler-runner/worker-thread-runner/workerThreadHelper.js'));
    appendFileSync(
      path.join(root, 'src/lambda/LambdaFunctionPool.js'),
      '\ndelete LambdaFunctionPool.prototype.get\n',
    );
    // The answer as serverless-offline before 14.8.5 read it: the posted value itself.
    writeFileSync(
      path.join(root, 'src/lambda/handler-runner/worker-thread-runner/WorkerThreadRunner.js'),
      `import { MessageChannel, Worker } from 'node:worker_threads'
export default class WorkerThreadRunner {
  #worker = new Worker('helper.js')
  run(event, context) {
    return new Promise((resolve, reject) => {
      const { port1, port2 } = new MessageChannel()
      port1.on('message', (value) => { port1.close(); value instanceof Error ? reject(value) : resolve(value) })
      this.#worker.postMessage({ context, event, port: port2 }, [port2])
    })
  }
}
`,
    );
    const changed = (await patches.internalsReport(root)).filter((finding) => finding.problem);
    assert.deepEqual(
      changed.map(({ kind, what }) => `${kind} ${what}`),
      [
        'file src/lambda/handler-runner/worker-thread-runner/workerThreadHelper.js',
        'member LambdaFunctionPool.prototype.get',
        "message an instance's answer, OFFLINE_ANSWER.result(value), read as the invocation's result",
        "message an instance's failure, OFFLINE_ANSWER.error(error), read as the invocation's error",
      ],
    );
    assert.match(String(changed[2]?.problem), /read as \{"type":"result","value":\{"probe":"result"\}\}/);
  });
});

describe('serverless-offline patches: the instance pool', () => {
  it('gives 2 instances to a function whose calls reach two hops down and 1 to the rest by default; a number to all', () => {
    const depths = derive().callDepths;
    const capOf = instanceCapsOf('by-calls', depths);
    assert.deepEqual(
      Object.fromEntries(Object.keys(depths).map((functionKey) => [functionKey, capOf(functionKey)])),
      { apiGateway: 2, committer: 2, fraud: 1, inventory: 1, order: 2, payment: 1, reaper: 2, warehouse: 1 },
    );
    assert.equal(instanceCapsOf('4', depths)('fraud'), 4);
    assert.throws(
      () => instanceCapsOf('two', depths),
      /maxInstancesPerFunction \(OFFLINE_MAX_INSTANCES\) must be/,
    );
  });

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

  it('retires instances idle past the setting, the longest idle first, and keeps one per function', async () => {
    const fake = fakeOffline();
    const clock = manualClock();
    const controls = patches.patchLambdaPool(fake, {
      ...queueing(3),
      retireIdleAfterMs: 60_000,
      now: clock.now,
    });
    const pool = new fake.LambdaFunctionPool();
    const answers = ['a', 'b', 'c'].map((id) => invoke(pool, id));
    await settled();
    fake.runs[0]?.done.resolve('a');
    await answers[0];
    clock.advance(10_000);
    fake.runs[1]?.done.resolve('b');
    await answers[1];
    clock.advance(55_000);
    assert.equal(controls.retireIdle(), 1, 'only the first has been idle for 60 s');
    fake.runs[2]?.done.resolve('c');
    await answers[2];
    clock.advance(60_000);
    assert.equal(controls.retireIdle(), 1, 'the second, and the third stays: one per function');
    assert.deepEqual(controls.stats(), { order: { instances: 1, waiting: 0 } });
    const [first, second, third] = [...(pool.pool.get('order') ?? [])] as unknown as Array<{
      cleanups: number;
    }>;
    assert.deepEqual([first?.cleanups, second?.cleanups, third?.cleanups], [1, 1, 0]);
  });

  it('says since when it has been quiet: not while a request runs or waits; from the last end or retirement', async () => {
    const fake = fakeOffline();
    const clock = manualClock();
    const controls = patches.patchLambdaPool(fake, {
      ...queueing(1),
      retireIdleAfterMs: 60_000,
      now: clock.now,
    });
    const pool = new fake.LambdaFunctionPool();
    assert.equal(controls.quietSince(), 0, 'quiet since the pool was made');
    clock.advance(1_000);
    const answers = ['a', 'b'].map((id) => invoke(pool, id));
    await settled();
    assert.equal(controls.quietSince(), undefined, 'one runs, one waits');
    fake.runs[0]?.done.resolve('a');
    await answers[0];
    clock.advance(2_000);
    assert.equal(controls.quietSince(), undefined, 'the waiting one runs now');
    await settled();
    fake.runs[1]?.done.resolve('b');
    await answers[1];
    assert.equal(controls.quietSince(), 3_000, 'quiet since the last one ended');
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

  it('throttles past the reserved concurrency, counting the waiting requests, and no earlier: 429 as deployed', async () => {
    const fake = fakeOffline();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, {
      ...queueing(1),
      limitsOf: () => limits({ reservedConcurrency: 3 }),
      warn: (line) => warnings.push(line),
    });
    const pool = new fake.LambdaFunctionPool();
    // One runs on the only local instance, two wait for it: three in flight, as deployed would run them.
    const admitted = ['a', 'b', 'c'].map((id) => invoke(pool, apiEvent(`req-${id}`)));
    await settled();
    const throttled = (await invoke(pool, apiEvent('req-throttled'))) as GatewayAnswer;
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
      message: '[429] Rate Exceeded: order is at its reserved concurrency',
    });
    for (let index = 0; index < 3; index++) {
      await settled();
      fake.runs[index]?.done.resolve(index);
    }
    assert.deepEqual(await Promise.all(admitted), [0, 1, 2], 'the three within the limit all ran');
    assert.equal(fake.runs.length, 3, 'neither throttled request ran');
  });

  it("stops counting a waiting request once it has waited the function's typical duration: the rest is this machine's", async () => {
    const fake = fakeOffline();
    const clock = manualClock();
    patches.patchLambdaPool(fake, {
      ...queueing(1),
      limitsOf: () => limits({ reservedConcurrency: 2 }),
      now: clock.now,
    });
    const pool = new fake.LambdaFunctionPool();
    const first = invoke(pool, apiEvent('req-first'));
    await settled();
    clock.advance(50);
    fake.runs[0]?.done.resolve('first');
    await first; // the function's typical duration is now 50 ms
    const running = invoke(pool, apiEvent('req-running'));
    const waiting = invoke(pool, apiEvent('req-waiting'));
    await settled();
    clock.advance(20);
    const early = (await invoke(pool, apiEvent('req-early'))) as GatewayAnswer;
    assert.equal(early.statusCode, 429, 'one running and one waiting for 20 ms: two, as deployed');
    clock.advance(40);
    const late = invoke(pool, apiEvent('req-late'));
    await settled();
    for (let index = 1; index < 4; index++) {
      fake.runs[index]?.done.resolve(index);
      await settled();
    }
    assert.deepEqual(
      await Promise.all([running, waiting, late]),
      [1, 2, 3],
      'deployed would have answered the one waiting 60 ms',
    );
  });

  it("throttles past the stage's rate per method, as API Gateway's token bucket does; the invoke API is not counted", async () => {
    const fake = fakeOffline();
    const clock = manualClock();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, {
      ...queueing(8),
      stage: { rateLimit: 1, burstLimit: 2 },
      now: clock.now,
      warn: (line) => warnings.push(line),
    });
    const pool = new fake.LambdaFunctionPool();
    const burst = [invoke(pool, apiEvent('req-1')), invoke(pool, apiEvent('req-2'))];
    const over = (await invoke(pool, apiEvent('req-3'))) as GatewayAnswer;
    assert.equal(over.statusCode, 429);
    assert.equal(over.headers['Retry-After'], '1');
    assert.deepEqual(JSON.parse(over.body), {
      status: 'failure',
      message: 'Too many requests: the API is over its rate limit. Retry after the Retry-After seconds.',
      category: 'throttled',
      trace_id: 'req-3',
    });
    const otherMethod = invoke(pool, {
      ...apiEvent('req-get'),
      httpMethod: 'GET',
      resource: '/api/order/{id}',
    });
    const invoked = invoke(pool, { source: 'schedule' });
    clock.advance(1_000);
    const refilled = invoke(pool, apiEvent('req-4'));
    await settled();
    assert.equal(fake.runs.length, 5, 'the other method, the invoke and the refilled token all ran');
    for (const run of fake.runs) run.done.resolve('ok');
    await Promise.all([...burst, otherMethod, invoked, refilled]);
  });

  it('answers a request that waited past its integration timeout with the 504 body, and its place goes to the next', async () => {
    const fake = fakeOffline();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, {
      ...queueing(1),
      limitsOf: () => limits({ integrationTimeoutMs: 30, timeoutMs: 6_000 }),
      warn: (line) => warnings.push(line),
    });
    const pool = new fake.LambdaFunctionPool();
    const held = invoke(pool, { source: 'schedule' });
    await settled();
    const gaveUp = (await invoke(pool, apiEvent('req-gave-up'))) as GatewayAnswer;
    assert.equal(gaveUp.statusCode, 504);
    assert.deepEqual(JSON.parse(gaveUp.body), {
      status: 'failure',
      message: 'The function behind this route did not answer within the API limit',
      category: 'downstream_timeout',
      trace_id: 'req-gave-up',
    });
    assert.match(
      warnings.join('\n'),
      /order: waited \d+ ms for a local instance, past its integration timeout \(30 ms\)/,
    );
    const next = invoke(pool, { source: 'schedule', id: 'next' });
    fake.runs[0]?.done.resolve('held');
    await held;
    await settled();
    assert.deepEqual(fake.runs.length, 2, 'the request that gave up never ran; the next one did');
    fake.runs[1]?.done.resolve('next');
    assert.equal(await next, 'next');
  });

  it("answers a request that waited past its function's timeout with the 502 body", async () => {
    const fake = fakeOffline();
    patches.patchLambdaPool(fake, { ...queueing(1), limitsOf: () => limits({ timeoutMs: 30 }) });
    const pool = new fake.LambdaFunctionPool();
    const held = invoke(pool, apiEvent('req-held'));
    await settled();
    const gaveUp = (await invoke(pool, apiEvent('req-gave-up'))) as GatewayAnswer;
    assert.equal(gaveUp.statusCode, 502);
    assert.equal(JSON.parse(gaveUp.body).category, 'downstream_failure');
    fake.runs[0]?.done.resolve('held');
    assert.equal(await held, 'held');
  });

  it('answers 504 when the function runs past the integration timeout, and lets it run on as deployed', async () => {
    const fake = fakeOffline();
    const controls = patches.patchLambdaPool(fake, {
      ...queueing(1),
      limitsOf: () => limits({ integrationTimeoutMs: 30 }),
    });
    const pool = new fake.LambdaFunctionPool();
    const answer = (await invoke(pool, apiEvent('req-slow'))) as GatewayAnswer;
    assert.equal(answer.statusCode, 504);
    assert.deepEqual(controls.stats(), { order: { instances: 1, waiting: 0 } });
    const queued = invoke(pool, { source: 'schedule' });
    await settled();
    assert.equal(fake.runs.length, 1, 'the instance is still busy with the slow request');
    fake.runs[0]?.done.resolve('late');
    await settled();
    fake.runs[1]?.done.resolve('queued');
    assert.equal(await queued, 'queued');
  });

  it("says once a second how many requests waited for a local instance, and that it is this machine's limit", async () => {
    const fake = fakeOffline();
    let line!: (text: string) => void;
    const said = new Promise<string>((resolve) => {
      line = resolve;
    });
    patches.patchLambdaPool(fake, { ...queueing(1), warn: (text) => line(text) });
    const pool = new fake.LambdaFunctionPool();
    const answers = ['a', 'b', 'c'].map((id) => invoke(pool, id));
    for (let index = 0; index < 3; index++) {
      await settled();
      fake.runs[index]?.done.resolve(index);
    }
    await Promise.all(answers);
    assert.match(
      await said,
      /^order: 2 request\(s\) waited for one of its 1 local instances in the last second, the longest \d+ ms \(0 waiting now\): this machine's limit, not a deployed one \(OFFLINE_MAX_INSTANCES\)$/,
    );
  });

  it('answers a crashed API invocation as API Gateway does: 502 with the JSON body, in one warning line', async () => {
    const fake = fakeOffline();
    const warnings: string[] = [];
    patches.patchLambdaPool(fake, { ...queueing(1), warn: (line) => warnings.push(line) });
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
