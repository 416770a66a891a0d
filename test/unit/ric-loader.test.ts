import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { assertRunsOnRuntimeNode, lambdaHeapLimits, lambdaNodeArgs } from '#local-runtime/runtimes.cjs';

/** local-runtime/ric-loader.mjs: aws-lambda-ric 4.0.2's loader, followed line for line. */
interface RicLoader {
  RIC_VERSION: string;
  loadHandler(taskRoot: string, handler: string): Promise<(...args: unknown[]) => unknown>;
  executionEnvFor(runtime: string): string;
}
const loader = (): Promise<RicLoader> => import(path.join(PROJECT_ROOT, 'local-runtime', 'ric-loader.mjs'));

describe('the nodejs24.x runtime’s handler loader', () => {
  const taskRoot = mkdtempSync(path.join(tmpdir(), 'ric-loader-'));
  const write = (file: string, source: string) => writeFileSync(path.join(taskRoot, file), source);
  after(() => rmSync(taskRoot, { recursive: true, force: true }));
  afterEach(() => {
    delete process.env.AWS_EXECUTION_ENV;
  });

  it("follows aws-lambda-ric 4.0.2, with the runtime's AWS_EXECUTION_ENV", async () => {
    const ric = await loader();
    assert.equal(ric.RIC_VERSION, '4.0.2');
    assert.equal(ric.executionEnvFor('nodejs24.x'), 'AWS_Lambda_nodejs24.x');
  });

  it("tries the extensions '', .js, .mjs, .cjs in that order, loading with import()", async () => {
    write('first.js', 'exports.handler = async () => "js";');
    write('first.mjs', 'export const handler = async () => "mjs";');
    write('second.cjs', 'exports.handler = async () => "cjs";');
    // ES module syntax with top-level await in a .js file: require() cannot load it, import() can.
    write('esm.js', 'await 0;\nexport const handler = async () => "esm";');
    const ric = await loader();
    assert.equal(await (await ric.loadHandler(taskRoot, 'first.handler'))(), 'js');
    assert.equal(await (await ric.loadHandler(taskRoot, 'second.handler'))(), 'cjs');
    assert.equal(await (await ric.loadHandler(taskRoot, 'esm.handler'))(), 'esm');
  });

  it('finds a nested handler, and one under the default export', async () => {
    write('nested.cjs', 'module.exports = { api: { handler: async () => "nested" } };');
    write('defaulted.mjs', 'export default { handler: async () => "default" };');
    const ric = await loader();
    assert.equal(await (await ric.loadHandler(taskRoot, 'nested.api.handler'))(), 'nested');
    assert.equal(await (await ric.loadHandler(taskRoot, 'defaulted.handler'))(), 'default');
  });

  it('refuses a callback handler at init, with the message of the Node 24 runtime (or of Node 22)', async () => {
    write('callback.cjs', 'exports.handler = (event, context, callback) => callback(null, 1);');
    const ric = await loader();
    await assert.rejects(ric.loadHandler(taskRoot, 'callback.handler'), {
      name: 'Runtime.CallbackHandlerDeprecated',
      message: /removed support for callback-based function handlers starting with Node\.js 24/,
    });
    process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs22.x';
    await assert.rejects(ric.loadHandler(taskRoot, 'callback.handler'), {
      name: 'Runtime.CallbackHandlerDeprecated',
      message: /when using Node\.js 22 with Managed Instances/,
    });
  });

  it('accepts a three-parameter handler when it streams its response', async () => {
    write(
      'streaming.cjs',
      'exports.handler = Object.assign(async (event, stream, context) => "streamed", { [Symbol.for("aws.lambda.runtime.handler.streaming")]: "response" });',
    );
    const ric = await loader();
    assert.equal(await (await ric.loadHandler(taskRoot, 'streaming.handler'))(), 'streamed');
  });

  it('names what is wrong the way the runtime does', async () => {
    write('notafunction.cjs', 'exports.handler = 42;');
    write('broken.cjs', 'exports.handler = async () => {');
    const ric = await loader();
    await assert.rejects(ric.loadHandler(taskRoot, 'missing.handler'), { name: 'Runtime.ImportModuleError' });
    await assert.rejects(ric.loadHandler(taskRoot, 'notafunction.other'), {
      name: 'Runtime.HandlerNotFound',
      message: 'notafunction.other is undefined or not exported',
    });
    await assert.rejects(ric.loadHandler(taskRoot, 'notafunction.handler'), {
      name: 'Runtime.HandlerNotFound',
      message: 'notafunction.handler is not a function',
    });
    await assert.rejects(ric.loadHandler(taskRoot, 'broken.handler'), {
      name: 'Runtime.UserCodeSyntaxError',
    });
    await assert.rejects(ric.loadHandler(taskRoot, '../outside.handler'), {
      name: 'Runtime.MalformedHandlerName',
    });
    await assert.rejects(ric.loadHandler(taskRoot, 'nodot'), { name: 'Runtime.MalformedHandlerName' });
  });
});

describe("the local runtime refuses a Node major other than the functions' runtime", () => {
  it("accepts the runtime of every function on its own major, and any runtime that is not Node's", () => {
    assertRunsOnRuntimeNode(['nodejs24.x', 'nodejs24.x'], 'v24.22.3');
    assertRunsOnRuntimeNode(['provided.al2023'], 'v24.22.3');
  });

  it('stops with both versions named when one function runs on another major', () => {
    assert.throws(
      () => assertRunsOnRuntimeNode(['nodejs24.x', 'nodejs22.x'], 'v24.22.3'),
      /running on Node v24\.22\.3, but the functions run on nodejs22\.x \(Node 22\).*Run it on Node 22/,
    );
    assert.throws(
      () => assertRunsOnRuntimeNode(['nodejs24.x'], 'v20.19.5'),
      /Node v20\.19\.5.*nodejs24\.x \(Node 24\)/,
    );
  });
});

describe('the V8 heap limits of a Lambda instance, from its memory size', () => {
  it("follows Lambda's bootstrap: a tenth for the young generation, the rest for the old", () => {
    // --max-semi-space-size=12 --max-old-space-size=231; the young generation is three semi-spaces.
    assert.deepEqual(lambdaHeapLimits(256), { maxOldGenerationSizeMb: 231, maxYoungGenerationSizeMb: 36 });
    assert.deepEqual(lambdaHeapLimits(1024), { maxOldGenerationSizeMb: 922, maxYoungGenerationSizeMb: 153 });
  });

  it('sets none for a memory size Lambda would not take', () => {
    assert.equal(lambdaHeapLimits(Number('')), undefined);
    assert.equal(lambdaHeapLimits(64), undefined);
  });

  it("gives a deployed sandbox's Node the arguments Lambda's bootstrap gives it", () => {
    assert.deepEqual(lambdaNodeArgs(256), [
      '--expose-gc',
      '--max-http-header-size',
      '81920',
      '--max-semi-space-size=12',
      '--max-old-space-size=231',
    ]);
  });
});
