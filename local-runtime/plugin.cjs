'use strict';
/**
 * The Serverless Framework plugin that makes `serverless offline start` behave like Lambda for this project,
 * however it is started (`npm start`, or the literal `npx serverless offline start`), and that packages each
 * function as its own bundle. It only wires the jobs, each in a module of its own (docs/architecture.md):
 *
 * - offline-patches.cjs: serverless-offline's instances run the handler as the function's runtime does, with
 *   tracing preloaded, capped per function with the rest queued, and replaced when they crash;
 * - tables.cjs: the DynamoDB tables created and seeded before the API starts;
 * - prewarm.cjs: before the API listens (and says "Server ready");
 * - schedules.cjs, reload.cjs, idle-memory.cjs, memory-report.cjs, telemetry-probe.cjs: once the API listens;
 * - bundle.cjs: `serverless package` gives every function a zip of its own.
 */
const { existsSync } = require('node:fs');
const path = require('node:path');
const LOCAL_DEFAULTS = require('../functions/shared/config/local-defaults.json');
const { addApiStage } = require('./api-stage.cjs');
const { bundleFunctions } = require('./bundle.cjs');
const { assertDeployableTelemetry, assertNothingFromTheShell } = require('./deploy-settings.cjs');
const { baselineCodeAgain, withoutBaselineCode } = require('./framework-start.cjs');
const { invokeForResult, invokeFunction, lambdaApiUrl } = require('./lambda-api.cjs');
const { releaseMemoryWhenQuiet } = require('./idle-memory.cjs');
const { reportMemoryOnSignal } = require('./memory-report.cjs');
const { applyPatches } = require('./offline-patches.cjs');
const { PRIMING_MODULE, PROJECT_ROOT, FUNCTIONS_BUILD, TRACING_PRELOAD, build } = require('./project.cjs');
const { LAMBDA_INSTANCES_READY } = require('./ready-lines.cjs');
const { prewarm } = require('./prewarm.cjs');
const { assertRunsOnRuntimeNode } = require('./runtimes.cjs');
const { reloadOnChange } = require('./reload.cjs');
const { startSchedules } = require('./schedules.cjs');
const { startStreamPoller } = require('./stream-poller.cjs');
const { ensureTables, tableDefinitions } = require('./tables.cjs');
const { isOn, telemetryStatus } = require('./telemetry-probe.cjs');

/**
 * The parts of the Framework's `serverless` object the plugin reads.
 * @typedef {object} Serverless
 * @property {string} [serviceDir]
 * @property {{ Error: new (message: string) => Error }} [classes] the Framework's error: it prints the message alone
 * @property {{
 *   custom?: Record<string, any>,
 *   provider: { region?: string, stage?: string, runtime: string, architecture?: 'arm64' | 'x86_64', environment?: Record<string, string> },
 *   resources?: unknown,
 *   getAllFunctions(): string[],
 *   getFunction(key: string): { name: string, handler: string, runtime?: string, package?: object, environment?: Record<string, unknown> },
 * }} service
 */
/** @typedef {{ notice?: (line: string) => void, warning?: (line: string) => void }} FrameworkLog */

class LocalRuntimePlugin {
  /** @type {import('./instance-pool.cjs').PoolControls | undefined} */
  pool;
  prepared = false;
  /** How the instances started: prewarmed before the API listened (the summary), or on first use. */
  instancesStarted =
    'started on first use, as deployed (OFFLINE_PREWARM=true loads one of each before ready)';

  /**
   * @param {Serverless} serverless
   * @param {unknown} _options
   * @param {{ log?: FrameworkLog }} [utilities]
   */
  constructor(serverless, _options, { log } = {}) {
    this.serverless = serverless;
    this.log = log ?? {};
    withoutBaselineCode();
    this.hooks = {
      // The first hook the Framework runs, once it has validated the configuration.
      initialize: () => baselineCodeAgain(),
      'before:offline:start:init': () => this.prepareOffline(),
      'before:offline:start': () => this.prepareOffline(),
      'after:offline:start:init': () => this.afterOfflineStarted(),
      'before:package:createDeploymentArtifacts': () => this.packageBundles(),
      'before:package:finalize': () => this.addStage(),
    };
  }

  /** custom.localRuntime: the local runtime's settings. */
  get settings() {
    return this.serverless.service.custom?.localRuntime ?? {};
  }

  /** Before serverless-offline starts: a build if there is none, the patches, the tables. */
  async prepareOffline() {
    if (this.prepared) return;
    this.prepared = true;
    const { service } = this.serverless;
    const runtimeOf = (/** @type {string} */ functionKey) =>
      service.getFunction(functionKey)?.runtime ?? service.provider.runtime;
    try {
      assertRunsOnRuntimeNode(service.getAllFunctions().map(runtimeOf));
    } catch (error) {
      const FrameworkError = this.serverless.classes?.Error ?? Error;
      throw new FrameworkError(error instanceof Error ? error.message : String(error));
    }
    if (!existsSync(TRACING_PRELOAD)) build();
    process.env.AWS_ENDPOINT_URL_DYNAMODB ??= LOCAL_DEFAULTS.dynamodbEndpoint;
    this.pool = await applyPatches({
      maxInstancesOf: instanceCapsOf(this.settings.maxInstancesPerFunction, this.settings.callDepths ?? {}),
      limitsOf: (/** @type {string} */ functionKey) => deployedLimits(service, functionKey),
      stage: {
        rateLimit: Number(service.custom?.edge?.rateLimit),
        burstLimit: Number(service.custom?.edge?.burstLimit),
      },
      warn: (/** @type {string} */ line) => (this.log.warning ?? console.warn)(line),
      beforeListening: () => this.prewarmBeforeListening(),
      tracingPreload: TRACING_PRELOAD,
      primingModule: PRIMING_MODULE,
      runtimeOf,
      instanceExecArgv: instanceExecArgv(service.custom),
      youngGeneration: youngGenerationOf(this.settings.youngGeneration),
      retireIdleAfterMs: 1000 * Number(this.settings.retireIdleSeconds ?? 0),
    });
    await ensureTables({
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      region: service.provider.region,
      resources: service.resources,
      seed: service.custom?.seed ?? {},
      log: (/** @type {string} */ message) => this.notice(message),
    });
  }

  /** Once the API listens: the build watched, instances prewarmed, schedules started; then lines saying so. */
  async afterOfflineStarted() {
    const functionKeys = this.serverless.service.getAllFunctions();
    if (isOn(this.settings.reloadOnChange)) {
      reloadOnChange(FUNCTIONS_BUILD, async () => {
        this.notice(
          `dist/functions changed: ${this.pool?.resetAll()} instance(s) reset, the next request loads the new build`,
        );
        if (isOn(this.settings.prewarm)) this.notice(`reloaded: ${await this.prewarm(functionKeys)}`);
      });
      this.notice(`reloading on changes to ${path.relative(PROJECT_ROOT, FUNCTIONS_BUILD)}`);
    }
    const idleMemory = this.pool && releaseMemoryWhenQuiet(this.pool);
    if (process.env.OFFLINE_MEMORY_REPORT)
      reportMemoryOnSignal(process.env.OFFLINE_MEMORY_REPORT, idleMemory?.releases);
    const telemetry = telemetryStatus(this.serverless.service.provider.environment ?? {});
    this.notice(await telemetry);
    const warn = (/** @type {string} */ line) => this.log.warning?.(line);
    for (const line of startSchedules(this.settings.scheduleEverySeconds ?? {}, this.invoke, warn))
      this.notice(line);
    for (const line of await this.startStreams(warn)) this.notice(line);
    this.notice(`${LAMBDA_INSTANCES_READY} ${this.instancesStarted}`);
  }

  /**
   * Each stream consumer's event source mapping, run against DynamoDB Local's Streams API (stream-poller.cjs);
   * answers a line per consumer.
   * @param {(line: string) => void} warn
   */
  async startStreams(warn) {
    const { service } = this.serverless;
    const tables = new Map(tableDefinitions(service.resources));
    const apiUrl = lambdaApiUrl(service.custom?.['serverless-offline']);
    /** @type {Record<string, import('./stream-poller.cjs').StreamSource>} */
    const streams = this.settings.streams ?? {};
    const started = Object.entries(streams).map(async ([functionKey, source]) => {
      const tableName = String(tables.get(source.tableLogicalId)?.TableName);
      const failuresFile = path.resolve(
        PROJECT_ROOT,
        this.settings.failedRecordsDir ?? '.offline',
        `${functionKey}-failed-records.jsonl`,
      );
      const poller = startStreamPoller({
        functionKey,
        tableName,
        source,
        client: {
          endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
          region: service.provider.region ?? LOCAL_DEFAULTS.region,
          credentials: LOCAL_DEFAULTS.credentials,
        },
        invoke: (event) => invokeForResult(apiUrl, service.getFunction(functionKey).name, event),
        failuresFile,
        warn,
      });
      await poller.ready;
      return (
        `${functionKey}: reading the stream of ${tableName} (batches of ${source.batchSize}, ` +
        `${source.maximumRetryAttempts} retries, then ${path.relative(PROJECT_ROOT, failuresFile)})`
      );
    });
    return Promise.all(started);
  }

  /** Runs before the API listens and prints "Server ready" (offline-patches.cjs). */
  async prewarmBeforeListening() {
    if (!isOn(this.settings.prewarm)) return;
    this.instancesStarted = await this.prewarm(this.serverless.service.getAllFunctions());
    this.notice(`prewarm: ${this.instancesStarted}`);
  }

  /** @param {string[]} functionKeys */
  async prewarm(functionKeys) {
    const { summary, failures } = await prewarm(functionKeys, this.invoke);
    for (const failure of failures) this.log.warning?.(`prewarm: ${failure}`);
    return summary;
  }

  /**
   * A function invoked through serverless-offline's Lambda API; answers what went wrong, if anything.
   * @param {string} functionKey
   * @param {unknown} event
   */
  invoke = (functionKey, event) => {
    const apiUrl = lambdaApiUrl(this.serverless.service.custom?.['serverless-offline']);
    return invokeFunction(apiUrl, this.serverless.service.getFunction(functionKey).name, event);
  };

  /**
   * `serverless package`: compiles, then gives every function its own bundled zip (bundle.cjs), which the
   * Framework then uses as that function's artifact instead of zipping the project.
   */
  async packageBundles() {
    const service = this.serverless.service;
    try {
      const stage = String(service.provider.stage ?? 'local');
      assertNothingFromTheShell(stage, this.serverless.serviceDir ?? PROJECT_ROOT);
      assertDeployableTelemetry(stage, service.provider.environment ?? {});
    } catch (error) {
      const FrameworkError = this.serverless.classes?.Error ?? Error;
      throw new FrameworkError(error instanceof Error ? error.message : String(error));
    }
    build();
    const functionKeys = service.getAllFunctions();
    const started = performance.now();
    const bundles = await bundleFunctions({
      functionKeys,
      handlerOf: (functionKey) => service.getFunction(functionKey).handler,
      environmentOf: (functionKey) =>
        loadableEnvironment({
          ...service.provider.environment,
          ...service.getFunction(functionKey).environment,
        }),
      runtime: service.provider.runtime,
      architecture: service.provider.architecture ?? 'x86_64',
      cacheForThisMachine: String(service.custom?.localRuntime?.codeCacheForThisMachine) === 'true',
      // The Framework builds every package in .serverless/ (and moves it to `--package DIR` at the end).
      outDir: path.join(this.serverless.serviceDir ?? PROJECT_ROOT, '.serverless'),
    });
    const bundleOf = (/** @type {string} */ key) =>
      /** @type {import('./bundle.cjs').Bundle} */ (bundles[key]);
    for (const functionKey of functionKeys) {
      const functionObject = service.getFunction(functionKey);
      functionObject.package = { ...functionObject.package, artifact: bundleOf(functionKey).zip };
    }
    const sizes = functionKeys.map((key) => `${key} ${(bundleOf(key).bytes / 1024).toFixed(0)} KB`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.notice(`bundled ${functionKeys.length} functions in ${seconds} s: ${sizes.join(', ')}`);
    const caches = bundleOf(functionKeys[0] ?? '')?.compileCache;
    this.notice(`code cache in each package for: ${caches?.built.join(', ') || 'nothing'}`);
    for (const [arch, why] of Object.entries(caches?.skipped ?? {})) {
      this.notice(`no code cache for ${arch}: ${why}; its cold starts compile every module (BENCHMARKS.md)`);
    }
    const handedOver = [...new Set(functionKeys.flatMap((key) => bundleOf(key).handedOver))];
    this.notice(`instrumented inside the bundles: ${handedOver.join(', ') || 'nothing'}`);
  }

  /** The deployed API's stage with its limits and access logs (api-stage.cjs). */
  addStage() {
    const { provider, custom } = this.serverless.service;
    const template = /** @type {any} */ (provider).compiledCloudFormationTemplate;
    if (!template) return;
    addApiStage(template, {
      stage: String(provider.stage),
      rateLimit: Number(custom?.edge?.rateLimit),
      burstLimit: Number(custom?.edge?.burstLimit),
      logRetentionInDays: Number(/** @type {any} */ (provider).logRetentionInDays) || undefined,
      accountRole: custom?.edge?.accountRole !== 'existing',
    });
  }

  /** @param {string} message */
  notice(message) {
    if (this.log.notice) this.log.notice(message);
    else console.log(message);
  }
}

/** API Gateway's integration timeout for a route that sets none (`timeoutInMillis`): 29 s. */
const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;
/** Lambda's timeout for a function that sets none. */
const DEFAULT_TIMEOUT_SECONDS = 6;

/**
 * What bounds a function deployed, read from the template serverless.yml makes: its reserved concurrency,
 * its timeout, and the integration timeout of each of its routes.
 * @param {Serverless['service']} service
 * @param {string} functionKey
 * @returns {import('./instance-pool.cjs').DeployedLimits}
 */
function deployedLimits(service, functionKey) {
  const definition = /** @type {any} */ (service.getFunction(functionKey));
  const provider = /** @type {any} */ (service.provider);
  const routeTimeouts = new Map(
    (definition.events ?? [])
      .filter((/** @type {any} */ event) => event.http)
      .map((/** @type {any} */ { http }) => [
        `${String(http.method).toUpperCase()} /${String(http.path).replace(/^\//, '')}`,
        Number(http.timeoutInMillis) || undefined,
      ]),
  );
  const apiTimeoutMs = Number(provider.apiGateway?.timeoutInMillis) || DEFAULT_INTEGRATION_TIMEOUT_MS;
  return {
    reservedConcurrency: Number(definition.reservedConcurrency) || undefined,
    timeoutMs: 1000 * (Number(definition.timeout ?? provider.timeout) || DEFAULT_TIMEOUT_SECONDS),
    integrationTimeoutMs(event) {
      const { httpMethod, resource } = /** @type {{ httpMethod?: string, resource?: string }} */ (event);
      return routeTimeouts.get(`${httpMethod} ${resource}`) ?? apiTimeoutMs;
    },
  };
}

/**
 * custom.localRuntime.maxInstancesPerFunction: a number, every function's; or `by-calls`: 2 for a function whose
 * calls reach two hops or more below it (api-gateway, order), whose every invocation holds an instance while
 * its callees and theirs run, and 1 for the others, whose invocations are short: a second instance of those
 * held memory and bought no latency (BENCHMARKS.md, "Footprint").
 * @param {unknown} setting
 * @param {Record<string, number>} callDepths how many hops below each function its calls reach (manifests.cjs)
 * @returns {(functionKey: string) => number}
 */
function instanceCapsOf(setting = 'by-calls', callDepths) {
  if (setting === 'by-calls') return (functionKey) => ((callDepths[functionKey] ?? 0) >= 2 ? 2 : 1);
  const count = Number(setting);
  if (Number.isInteger(count) && count >= 1) return () => count;
  throw new Error(
    `custom.localRuntime.maxInstancesPerFunction (OFFLINE_MAX_INSTANCES) must be a whole number of at least 1 or \`by-calls\`; got ${JSON.stringify(setting)}`,
  );
}

/**
 * custom.localRuntime.youngGeneration: a size in MB, `lambda` or `full` (instance-workers.cjs).
 * @param {unknown} setting
 * @returns {number | 'lambda' | 'full'}
 */
function youngGenerationOf(setting = 6) {
  if (setting === 'lambda' || setting === 'full') return setting;
  const mb = Number(setting);
  if (Number.isFinite(mb) && mb >= 3) return mb;
  throw new Error(
    `custom.localRuntime.youngGeneration (OFFLINE_YOUNG_GENERATION) must be a size in MB of at least 3, \`lambda\` or \`full\`; got ${JSON.stringify(setting)}`,
  );
}

/**
 * The Node options every Lambda instance runs with (serverless.yml's custom.instanceNodeOptions), as argv.
 * @param {{ instanceNodeOptions?: string } | undefined} custom
 */
function instanceExecArgv(custom) {
  return String(custom?.instanceNodeOptions ?? '')
    .split(/\s+/)
    .filter(Boolean);
}

module.exports = LocalRuntimePlugin;
module.exports.instanceExecArgv = instanceExecArgv;
module.exports.instanceCapsOf = instanceCapsOf;

/**
 * A function's environment as the compile cache's builder loads the handler with it: the template's values,
 * with a stand-in URL for each CloudFormation expression (the stage's own API URL, known only once deployed).
 * @param {Record<string, unknown>} environment
 * @returns {Record<string, string>}
 */
function loadableEnvironment(environment) {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      typeof value === 'string'
        ? value
        : typeof value === 'object'
          ? 'https://cloudformation-expression.invalid/'
          : String(value),
    ]),
  );
}
