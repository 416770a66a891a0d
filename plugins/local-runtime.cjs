'use strict';
/**
 * Makes `serverless offline start` behave like Lambda for this project, however it is started
 * (`npm start`, or the literal `npx serverless offline start`):
 *
 * - Tracing: each serverless-offline worker thread (one Lambda instance) is started with
 *   `--require dist/functions/shared/tracing.js`, so the OpenTelemetry Lambda instrumentation can wrap the
 *   handler before it loads. NODE_OPTIONS does not reach worker threads; this does. The workers also
 *   answer on a persistent channel (see patchLambdaWorkers).
 * - Instances: serverless-offline starts a new worker for every concurrent request. This caps the workers
 *   per function (like reserved concurrency) and queues the rest, instead of hundreds of cold starts. Before
 *   the API is ready, one instance of each function is started and its handler loaded (`prewarm`), as
 *   provisioned concurrency does; with `reloadOnChange` (npm run dev) a new build retires every instance.
 * - Timeouts and crashes: after a Lambda timeout, serverless-offline terminates the worker but keeps
 *   offering the dead instance, so every later call to it times out too; a worker that exits (a crash) is
 *   offered too. Such an instance is retired instead, and its caller gets Lambda's "Runtime exited" error.
 * - Schedules: serverless-offline's scheduler knows minutes only. Each function in
 *   `custom.localRuntime.scheduleEverySeconds` is invoked every so many seconds through serverless-offline's
 *   Lambda invoke API (so it is traced and logged like any invocation), one run at a time.
 * - Data: the DynamoDB tables in `resources` are created in DynamoDB Local and seeded from `custom.seed`,
 *   idempotently, before the API starts.
 * - Build: `dist/` is compiled from the TypeScript sources when it is missing (and always before packaging).
 */
const { execFileSync } = require('node:child_process');
const { existsSync, watch } = require('node:fs');
const { availableParallelism } = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const workerThreads = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const TRACING_PRELOAD = path.join(PROJECT_ROOT, 'dist', 'functions', 'shared', 'tracing.js');
const PRIMING_MODULE = path.join(PROJECT_ROOT, 'dist', 'functions', 'shared', 'priming.js');
const DEFAULT_DYNAMODB_ENDPOINT = 'http://localhost:8000';

class LocalRuntimePlugin {
  constructor(serverless, _options, { log } = {}) {
    this.serverless = serverless;
    this.log = log ?? console;
    this.hooks = {
      'before:offline:start:init': () => this.prepareOffline(),
      'before:offline:start': () => this.prepareOffline(),
      'after:offline:start:init': () => this.afterOfflineStarted(),
      'before:package:createDeploymentArtifacts': () => build(),
    };
  }

  async prepareOffline() {
    if (this.prepared) return;
    this.prepared = true;
    if (!existsSync(TRACING_PRELOAD)) build();
    process.env.AWS_ENDPOINT_URL_DYNAMODB ??= DEFAULT_DYNAMODB_ENDPOINT;
    patchLambdaWorkers();
    this.pool = await patchLambdaPool(Number(this.settings.maxInstancesPerFunction) || 4);
    await ensureTables({
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      region: this.serverless.service.provider.region,
      resources: this.serverless.service.resources,
      seed: this.serverless.service.custom?.seed ?? {},
      log: (message) => this.notice(message),
    });
  }

  get settings() {
    return this.serverless.service.custom?.localRuntime ?? {};
  }

  notice(message) {
    if (this.log.notice) this.log.notice(message);
    else console.log(message);
  }

  /** Once the API listens: instances prewarmed, the build watched, schedules started; then lines saying so. */
  async afterOfflineStarted() {
    if (isOn(this.settings.reloadOnChange)) this.reloadOnChange();
    const telemetry = this.telemetryStatus();
    const functionKeys = this.serverless.service.getAllFunctions();
    let instances = 'started on first use (OFFLINE_PREWARM=false)';
    if (isOn(this.settings.prewarm)) instances = await this.prewarm(functionKeys);
    this.notice(await telemetry);
    this.startSchedules(this.settings.scheduleEverySeconds ?? {});
    this.notice(`${LAMBDA_INSTANCES_READY} ${instances}`);
  }

  /** Starts and loads one instance of each function; answers a line saying how it went. */
  async prewarm(functionKeys) {
    const started = performance.now();
    // As many at a time as there are cores: all at once, a 2-core laptop could not load seven instances
    // inside the shortest function timeout (3 s), which serverless-offline also applies to this call.
    const queue = [...functionKeys];
    const failures = [];
    const loadNext = async () => {
      for (let key = queue.shift(); key; key = queue.shift()) {
        const failure = await this.invoke(key, PREWARM_EVENT);
        if (failure) failures.push(failure);
      }
    };
    await Promise.all(Array.from({ length: availableParallelism() }, loadNext));
    for (const failure of failures) this.log.warning?.(`prewarm: ${failure}`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return `${functionKeys.length - failures.length} of ${functionKeys.length} functions prewarmed in ${seconds} s (OFFLINE_PREWARM=false starts them on first use)`;
  }

  /** Whether the places the functions send traces and logs answer right now, in one line. */
  async telemetryStatus() {
    const env = this.serverless.service.provider.environment ?? {};
    if (isOn(env.OTEL_SDK_DISABLED)) return `${TELEMETRY_STATUS} off (OTEL_SDK_DISABLED=true)`;
    const answers = async (url) => {
      try {
        await fetch(url, { signal: AbortSignal.timeout(1_000) });
        return 'answers';
      } catch {
        return 'not answering';
      }
    };
    const targets = [
      ['traces', env.OTEL_EXPORTER_OTLP_ENDPOINT, '/v1/traces'],
      ['logs', env.LOKI_URL, '/ready'],
    ].filter(([, url]) => url);
    const states = await Promise.all(targets.map(([, url, probe]) => answers(new URL(probe, url))));
    const parts = targets.map(([what, url], index) => `${what} → ${url} ${states[index]}`);
    const hint = states.includes('not answering') ? ' (start them: docker compose up -d observability)' : '';
    return `${TELEMETRY_STATUS} ${parts.join(', ') || 'no endpoints set'}${hint}`;
  }

  /** Invokes a function through serverless-offline's Lambda API; answers what went wrong, if anything. */
  async invoke(functionKey, event) {
    const offline = this.serverless.service.custom?.['serverless-offline'] ?? {};
    const host = offline.host ?? '127.0.0.1';
    const lambdaPort = offline.lambdaPort ?? 3002;
    const { name } = this.serverless.service.getFunction(functionKey);
    const url = `http://${host}:${lambdaPort}/2015-03-31/functions/${name}/invocations`;
    try {
      const response = await fetch(url, { method: 'POST', body: JSON.stringify(event) });
      const payload = await response.text();
      if (!response.ok || response.headers.get('x-amz-function-error')) {
        return `${functionKey} failed: ${response.status} ${payload.slice(0, 300)}`;
      }
      return undefined;
    } catch (error) {
      return `${functionKey} could not be invoked at ${url}: ${error.message}`;
    }
  }

  startSchedules(everySeconds) {
    for (const [functionKey, seconds] of Object.entries(everySeconds)) {
      const interval = Number(seconds) * 1000;
      if (!(interval > 0)) continue;
      const run = async () => {
        const failure = await this.invoke(functionKey, scheduledEvent(functionKey));
        if (failure) this.log.warning?.(`scheduled ${failure}`);
        setTimeout(run, interval).unref();
      };
      setTimeout(run, interval).unref();
      this.notice(
        `${functionKey} runs every ${interval / 1000} s (custom.localRuntime.scheduleEverySeconds)`,
      );
    }
  }

  /**
   * `npm run dev`: tsc --watch rewrites dist/functions; each change retires every instance (a busy one once
   * its invocation ends), so the next request starts a worker that loads the new build, with tracing, while
   * DynamoDB Local and the API keep running.
   */
  reloadOnChange() {
    const watched = path.join(PROJECT_ROOT, 'dist', 'functions');
    let timer;
    watch(watched, { recursive: true }, (_event, file) => {
      if (!String(file).endsWith('.js')) return;
      clearTimeout(timer);
      // tsc writes a batch of files; one retirement after the batch, not one per file.
      timer = setTimeout(async () => {
        const retired = this.pool.retireAll();
        this.notice(
          `dist/functions changed: ${retired} instance(s) retired, the next request loads the new build`,
        );
        if (isOn(this.settings.prewarm)) {
          this.notice(`reloaded: ${await this.prewarm(this.serverless.service.getAllFunctions())}`);
        }
      }, 200);
    });
    this.notice(`reloading on changes to ${path.relative(PROJECT_ROOT, watched)}`);
  }
}

/** Printed once the instances are set up: `npm start` waits for it before it says the API is ready. */
const LAMBDA_INSTANCES_READY = 'Lambda instances ready:';
const TELEMETRY_STATUS = 'Telemetry:';

/**
 * Sent through the Lambda invoke API to start an instance. The worker loads the handler (the init phase, as
 * provisioned concurrency runs it) and answers without invoking it, so no span or log line is made.
 */
const PREWARM_EVENT = { localRuntime: 'prewarm' };
const isPrewarm = (event) => event?.localRuntime === PREWARM_EVENT.localRuntime;

const isOn = (value) => value === true || value === 'true' || value === '1';

/** What EventBridge sends a function on a schedule. */
function scheduledEvent(functionKey) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: process.env.AWS_REGION ?? 'us-east-1',
    resources: [`arn:aws:events:local:000000000000:rule/${functionKey}`],
    detail: {},
  };
}

function build() {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', PROJECT_ROOT], {
    stdio: 'inherit',
  });
}

const LAMBDA_WORKER = path.join(__dirname, 'lambda-worker.mjs');

/** What Lambda reports when a function's runtime process dies mid-invocation. */
class RuntimeExitError extends Error {
  constructor(code) {
    super(`Runtime exited with error: exit status ${code}`);
    this.name = 'Runtime.ExitError';
  }
}
const RUNTIME_EXITED = /^Runtime exited with error/;

/**
 * Subclasses worker_threads.Worker for the threads serverless-offline starts as Lambda instances:
 * - they get `--require dist/functions/shared/tracing.js`, so tracing wraps the handler before it loads;
 * - they run lambda-worker.mjs, which answers on the worker's own channel. serverless-offline creates a
 *   MessageChannel per invocation and transfers one end to the worker, which profiling showed to be the
 *   largest single cost on its main thread; here the port stays on the main thread and is answered locally.
 */
function patchLambdaWorkers() {
  const OriginalWorker = workerThreads.Worker;
  if (OriginalWorker.isLambdaWorker) return;
  class LambdaWorker extends OriginalWorker {
    static isLambdaWorker = true;
    #pending = new Map();
    #nextId = 0;
    #isLambdaInstance;

    constructor(filename, options = {}) {
      const isLambdaInstance = String(filename).endsWith(
        path.join('worker-thread-runner', 'workerThreadHelper.js'),
      );
      super(
        isLambdaInstance ? LAMBDA_WORKER : filename,
        isLambdaInstance
          ? {
              ...options,
              execArgv: [...(options.execArgv ?? process.execArgv), '--require', TRACING_PRELOAD],
              workerData: { ...options.workerData, primingModule: PRIMING_MODULE },
            }
          : options,
      );
      this.#isLambdaInstance = isLambdaInstance;
      if (!isLambdaInstance) return;
      this.on('message', ({ id, result, error }) => {
        const port = this.#pending.get(id);
        this.#pending.delete(id);
        port?.postMessage(error ?? result);
        port?.close();
      });
      this.on('exit', (code) => {
        for (const port of this.#pending.values()) {
          port.postMessage(new RuntimeExitError(code));
          port.close();
        }
        this.#pending.clear();
      });
    }

    postMessage(message, transferList) {
      if (!this.#isLambdaInstance || !message?.port) return super.postMessage(message, transferList);
      const id = this.#nextId++;
      this.#pending.set(id, message.port);
      if (isPrewarm(message.event)) return super.postMessage({ id, prewarm: true });
      return super.postMessage({ id, event: message.event, context: message.context });
    }
  }
  workerThreads.Worker = LambdaWorker;
  // serverless-offline imports Worker as an ES module binding; this makes the binding see the subclass.
  syncBuiltinESMExports();
}

async function importOfflineModule(relativePath) {
  // The package's exports hide its internals; its main entry (src/index.cjs) shows where they are.
  const offlineRoot = path.resolve(path.dirname(require.resolve('serverless-offline')), '..');
  return import(pathToFileURL(path.join(offlineRoot, 'src', relativePath)).href);
}

async function patchLambdaPool(maxInstances) {
  const { default: LambdaFunction } = await importOfflineModule('lambda/LambdaFunction.js');
  const { default: LambdaFunctionPool } = await importOfflineModule('lambda/LambdaFunctionPool.js');
  if (LambdaFunctionPool.prototype.get.controls) return LambdaFunctionPool.prototype.get.controls;

  const retired = new WeakSet();
  const instancesByKey = new Map();
  const waitersByKey = new Map();

  const statusGetter = Object.getOwnPropertyDescriptor(LambdaFunction.prototype, 'status').get;
  Object.defineProperty(LambdaFunction.prototype, 'status', {
    configurable: true,
    get() {
      return retired.has(this) ? 'RETIRED' : statusGetter.call(this);
    },
  });

  const wakeOne = (functionKey) => {
    const next = waitersByKey.get(functionKey)?.shift();
    if (next) next();
  };

  const originalRun = LambdaFunction.prototype.runHandler;
  LambdaFunction.prototype.runHandler = async function runHandler() {
    try {
      return await originalRun.call(this);
    } catch (error) {
      // serverless-offline's LambdaTimeoutError keeps Error's name; its message is what identifies it.
      const message = String(error?.message);
      if (/Lambda timeout/.test(message) || RUNTIME_EXITED.test(message)) {
        retired.add(this);
        instancesByKey.get(this.functionKeyForPool)?.delete(this);
        if (RUNTIME_EXITED.test(message)) await originalCleanup.call(this).catch(() => {});
      }
      throw error;
    } finally {
      if (retiredWhileBusy.delete(this)) await originalCleanup.call(this).catch(() => {});
      wakeOne(this.functionKeyForPool);
    }
  };
  const retiredWhileBusy = new WeakSet();

  const originalCleanup = LambdaFunction.prototype.cleanup;
  LambdaFunction.prototype.cleanup = function cleanup() {
    retired.add(this);
    instancesByKey.get(this.functionKeyForPool)?.delete(this);
    return originalCleanup.call(this);
  };

  const originalGet = LambdaFunctionPool.prototype.get;
  function get(functionKey, functionDefinition) {
    const instances = instancesByKey.get(functionKey) ?? new Set();
    instancesByKey.set(functionKey, instances);
    const hasIdle = [...instances].some((instance) => instance.status === 'IDLE');
    if (hasIdle || instances.size < maxInstances) {
      const instance = originalGet.call(this, functionKey, functionDefinition);
      instance.functionKeyForPool = functionKey;
      instances.add(instance);
      return instance;
    }
    return queuedInvocation(() => get.call(this, functionKey, functionDefinition), functionKey);
  }
  get.controls = {
    /** Retires every instance: idle ones stop now, busy ones when their invocation ends. Answers how many. */
    retireAll() {
      let count = 0;
      for (const instances of instancesByKey.values()) {
        for (const instance of instances) {
          const busy = statusGetter.call(instance) === 'BUSY';
          retired.add(instance);
          instances.delete(instance);
          count++;
          if (busy) retiredWhileBusy.add(instance);
          else originalCleanup.call(instance).catch(() => {});
        }
      }
      return count;
    },
  };
  LambdaFunctionPool.prototype.get = get;
  return get.controls;

  /** Stands in for an instance until one is free; serverless-offline only calls these three methods. */
  function queuedInvocation(acquire, functionKey) {
    let event;
    let clientContext;
    return {
      setEvent(value) {
        event = value;
      },
      setClientContext(value) {
        clientContext = value;
      },
      async runHandler() {
        await new Promise((resolve) => {
          const waiters = waitersByKey.get(functionKey) ?? [];
          waitersByKey.set(functionKey, waiters);
          waiters.push(resolve);
        });
        const instance = acquire();
        if (clientContext !== undefined) instance.setClientContext(clientContext);
        instance.setEvent(event);
        return instance.runHandler();
      },
    };
  }
}

/** Creates the project's DynamoDB tables from their CloudFormation definitions and seeds them once. */
async function ensureTables({ endpoint, region, resources, seed, log }) {
  const { DynamoDBClient, CreateTableCommand, ListTablesCommand } = require('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient, PutCommand } = require('@aws-sdk/lib-dynamodb');
  const client = new DynamoDBClient({
    endpoint,
    region: region ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const documents = DynamoDBDocumentClient.from(client);
  try {
    const existing = new Set(await listTables(client, ListTablesCommand, endpoint));
    const tables = tableDefinitions(resources);
    for (const [logicalId, table] of tables) {
      if (!existing.has(table.TableName)) {
        await client.send(
          new CreateTableCommand({
            TableName: table.TableName,
            KeySchema: table.KeySchema,
            AttributeDefinitions: table.AttributeDefinitions,
            GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
        log(`created table ${table.TableName}`);
      } else {
        await addMissingIndexes(client, table, log);
      }
      const key = table.KeySchema.map((element) => element.AttributeName);
      for (const item of seed[logicalId] ?? []) {
        try {
          await documents.send(
            new PutCommand({
              TableName: table.TableName,
              Item: item,
              ConditionExpression: `attribute_not_exists(${key[0]})`,
            }),
          );
        } catch (error) {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        }
      }
    }
  } finally {
    client.destroy();
  }
}

/** A table kept from an earlier version of the project (npm start keeps its data) gains its new indexes. */
async function addMissingIndexes(client, table, log) {
  const { DescribeTableCommand, UpdateTableCommand } = require('@aws-sdk/client-dynamodb');
  const wanted = table.GlobalSecondaryIndexes ?? [];
  if (wanted.length === 0) return;
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table.TableName }));
  const present = new Set((Table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  for (const index of wanted.filter((candidate) => !present.has(candidate.IndexName))) {
    await client.send(
      new UpdateTableCommand({
        TableName: table.TableName,
        AttributeDefinitions: table.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    log(`added index ${index.IndexName} to ${table.TableName}`);
  }
}

function tableDefinitions(resources) {
  const blocks = Array.isArray(resources) ? resources : [resources ?? {}];
  const definitions = [];
  for (const block of blocks) {
    for (const [logicalId, resource] of Object.entries(block?.Resources ?? {})) {
      if (resource.Type === 'AWS::DynamoDB::Table') definitions.push([logicalId, resource.Properties]);
    }
  }
  return definitions;
}

async function listTables(client, ListTablesCommand, endpoint) {
  try {
    const names = [];
    let start;
    do {
      const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names;
  } catch (error) {
    throw new Error(
      `DynamoDB is not reachable at ${endpoint} (${error.code ?? error.name}). ` +
        'Start it with `npm start` (which runs DynamoDB Local on Java 17+), or `docker compose up -d dynamodb-local`, ' +
        'or point AWS_ENDPOINT_URL_DYNAMODB at a running one.',
    );
  }
}

module.exports = LocalRuntimePlugin;
module.exports.ensureTables = ensureTables;
module.exports.LAMBDA_INSTANCES_READY = LAMBDA_INSTANCES_READY;
module.exports.TELEMETRY_STATUS = TELEMETRY_STATUS;
module.exports.tableDefinitions = tableDefinitions;
