'use strict';
/**
 * Makes `serverless offline start` behave like Lambda for this project, however it is started
 * (`npm start`, or the literal `npx serverless offline start`):
 *
 * - serverless-offline itself (offline-patches.cjs, checked against the one version it was written for):
 *   tracing preloaded into each worker thread (one Lambda instance), instances capped per function with the
 *   rest queued in order, a crashed instance's runtime replaced. Before the API is ready, one instance of each
 *   function is started and its handler loaded (`prewarm`), as provisioned concurrency does; with
 *   `reloadOnChange` (npm run dev) a new build replaces every instance's runtime.
 * - Schedules: serverless-offline's scheduler knows minutes only. Each function in
 *   `custom.localRuntime.scheduleEverySeconds` is invoked every so many seconds through serverless-offline's
 *   Lambda invoke API (so it is traced and logged like any invocation), one run at a time.
 * - Data: the DynamoDB tables in `resources` are created in DynamoDB Local and seeded from `custom.seed`,
 *   idempotently, before the API starts.
 * - Build: `dist/` is compiled from the TypeScript sources when it is missing. Packaging compiles, then bundles
 *   each function into a zip of its own (bundle.cjs).
 */
const { execFileSync } = require('node:child_process');
const { existsSync, renameSync, watch, writeFileSync } = require('node:fs');
const { availableParallelism } = require('node:os');
const path = require('node:path');
const { bundleFunctions } = require('./bundle.cjs');
const { applyPatches, memoryReport, PREWARM_EVENT } = require('./offline-patches.cjs');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const TRACING_PRELOAD = path.join(PROJECT_ROOT, 'dist', 'functions', 'shared', 'telemetry', 'tracing.js');
const PRIMING_MODULE = path.join(PROJECT_ROOT, 'dist', 'functions', 'shared', 'runtime', 'priming.js');
const LOCAL_DEFAULTS = require('../functions/shared/config/local-defaults.json');

class LocalRuntimePlugin {
  constructor(serverless, _options, { log } = {}) {
    this.serverless = serverless;
    this.log = log ?? console;
    this.hooks = {
      'before:offline:start:init': () => this.prepareOffline(),
      'before:offline:start': () => this.prepareOffline(),
      'after:offline:start:init': () => this.afterOfflineStarted(),
      'before:package:createDeploymentArtifacts': () => this.packageBundles(),
    };
  }

  async prepareOffline() {
    if (this.prepared) return;
    this.prepared = true;
    if (!existsSync(TRACING_PRELOAD)) build();
    process.env.AWS_ENDPOINT_URL_DYNAMODB ??= LOCAL_DEFAULTS.dynamodbEndpoint;
    this.pool = await applyPatches({
      maxInstances: Number(this.settings.maxInstancesPerFunction) || 4,
      tracingPreload: TRACING_PRELOAD,
      primingModule: PRIMING_MODULE,
      runtimeOf: (functionKey) => this.runtimeOf(functionKey),
      instanceExecArgv: instanceExecArgv(this.serverless.service.custom),
    });
    await ensureTables({
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      region: this.serverless.service.provider.region,
      resources: this.serverless.service.resources,
      seed: this.serverless.service.custom?.seed ?? {},
      log: (message) => this.notice(message),
    });
  }

  /**
   * `serverless package`: compiles, then gives every function its own bundled zip (bundle.cjs), which the
   * Framework then uses as that function's artifact instead of zipping the project.
   */
  async packageBundles() {
    build();
    const service = this.serverless.service;
    const functionKeys = service.getAllFunctions();
    const started = performance.now();
    const bundles = await bundleFunctions({
      functionKeys,
      handlerOf: (functionKey) => service.getFunction(functionKey).handler,
      runtime: service.provider.runtime,
      // The Framework builds every package in .serverless/ (and moves it to `--package DIR` at the end).
      outDir: path.join(this.serverless.serviceDir ?? PROJECT_ROOT, '.serverless'),
    });
    for (const functionKey of functionKeys) {
      const functionObject = service.getFunction(functionKey);
      functionObject.package = { ...functionObject.package, artifact: bundles[functionKey].zip };
    }
    const sizes = functionKeys.map((key) => `${key} ${(bundles[key].bytes / 1024).toFixed(0)} KB`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.notice(`bundled ${functionKeys.length} functions in ${seconds} s: ${sizes.join(', ')}`);
    const handedOver = [...new Set(functionKeys.flatMap((key) => bundles[key].handedOver))];
    this.notice(`instrumented inside the bundles: ${handedOver.join(', ') || 'nothing'}`);
  }

  /** The Lambda runtime a function runs on deployed ("nodejs24.x"): its own, else the provider's. */
  runtimeOf(functionKey) {
    const service = this.serverless.service;
    return service.getFunction(functionKey)?.runtime ?? service.provider.runtime;
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
    if (process.env.OFFLINE_MEMORY_REPORT) reportMemoryOnSignal(process.env.OFFLINE_MEMORY_REPORT);
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
   * `npm run dev`: tsc --watch rewrites dist/functions; each change replaces every instance's runtime (a busy
   * one's once its invocation ends), so the next request starts a worker that loads the new build, with
   * tracing, while DynamoDB Local and the API keep running.
   */
  reloadOnChange() {
    const watched = path.join(PROJECT_ROOT, 'dist', 'functions');
    let timer;
    watch(watched, { recursive: true }, (_event, file) => {
      if (!String(file).endsWith('.js')) return;
      clearTimeout(timer);
      // tsc writes a batch of files; one retirement after the batch, not one per file.
      timer = setTimeout(async () => {
        const reset = this.pool.resetAll();
        this.notice(
          `dist/functions changed: ${reset} instance(s) reset, the next request loads the new build`,
        );
        if (isOn(this.settings.prewarm)) {
          this.notice(`reloaded: ${await this.prewarm(this.serverless.service.getAllFunctions())}`);
        }
      }, 200);
    });
    this.notice(`reloading on changes to ${path.relative(PROJECT_ROOT, watched)}`);
  }
}

/**
 * For the benchmark: on SIGUSR2, the memory of this process and of each Lambda instance in it is written to
 * `file` as JSON (written aside, then renamed, so a reader never sees half of it).
 */
function reportMemoryOnSignal(file) {
  process.on('SIGUSR2', async () => {
    writeFileSync(`${file}.partial`, JSON.stringify(await memoryReport()));
    renameSync(`${file}.partial`, file);
  });
}

/** The Node options every Lambda instance runs with (serverless.yml's custom.instanceNodeOptions), as argv. */
function instanceExecArgv(custom) {
  return String(custom?.instanceNodeOptions ?? '')
    .split(/\s+/)
    .filter(Boolean);
}

/** Printed once the instances are set up: `npm start` waits for it before it says the API is ready. */
const LAMBDA_INSTANCES_READY = 'Lambda instances ready:';
const TELEMETRY_STATUS = 'Telemetry:';

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

/** Creates the project's DynamoDB tables from their CloudFormation definitions and seeds them once. */
async function ensureTables({ endpoint, region, resources, seed, log }) {
  const tables = tableDefinitions(resources);
  if (tables.length === 0) return;
  const { DynamoDBClient, CreateTableCommand, ListTablesCommand } = require('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient, PutCommand } = require('@aws-sdk/lib-dynamodb');
  const client = new DynamoDBClient({
    endpoint,
    region: region ?? LOCAL_DEFAULTS.region,
    credentials: LOCAL_DEFAULTS.credentials,
    maxAttempts: 1,
  });
  const documents = DynamoDBDocumentClient.from(client);
  try {
    const existing = new Set(await listTables(client, ListTablesCommand, endpoint));
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
module.exports.instanceExecArgv = instanceExecArgv;
module.exports.TRACING_PRELOAD = TRACING_PRELOAD;
module.exports.LAMBDA_INSTANCES_READY = LAMBDA_INSTANCES_READY;
module.exports.TELEMETRY_STATUS = TELEMETRY_STATUS;
module.exports.tableDefinitions = tableDefinitions;
