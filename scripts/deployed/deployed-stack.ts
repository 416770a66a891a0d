import { rmSync } from 'node:fs';
import path from 'node:path';
import { CODE_CACHE_DIR } from '../../functions/shared/telemetry/code-cache';
import { apiRoutes, DeployedApi } from './api';
import {
  functionEnvironment,
  type Packaged,
  type PackagedFunction,
  removeDirs,
  unzipArtifact,
} from './package';
import { type InvocationOutcome, LambdaSandbox } from './sandbox';

/**
 * The prod package run as AWS Lambda runs it: each function's zip unzipped, its sandboxes started from it, the
 * template's API in front. Used by the deployed-contract tier (test/deployed) and the deployed bench.
 */

/**
 * One function's sandboxes, scaled as Lambda scales them: an invocation goes to a sandbox that is free (its
 * last invocation ended, which includes its extensions' work after the answer), else to a new one, cold.
 * Sandboxes stay warm until the stack stops or the function is replaced.
 */
export class FunctionInstances {
  readonly sandboxes: LambdaSandbox[] = [];

  constructor(
    readonly fn: PackagedFunction,
    private readonly create: () => LambdaSandbox,
  ) {}

  /** Starts one more sandbox (its init runs at once) and answers it. */
  scaleOut(): LambdaSandbox {
    const sandbox = this.create();
    this.sandboxes.push(sandbox);
    // A failed start is reported by the invocations it was given.
    sandbox.start().catch(() => {});
    return sandbox;
  }

  invoke(event: unknown): Promise<InvocationOutcome> {
    const free = this.sandboxes.find((sandbox) => sandbox.available) ?? this.scaleOut();
    return free.invoke(event);
  }

  /** Every invocation answered by any of its sandboxes, in order of answer. */
  get answers(): InvocationOutcome[] {
    return this.sandboxes.flatMap((sandbox) => sandbox.answers).sort((a, b) => a.answeredAt - b.answeredAt);
  }

  /** What all its sandboxes wrote: CloudWatch Logs' log streams of the function. */
  logs(): string {
    return this.sandboxes.map((sandbox) => sandbox.logs()).join('');
  }

  logLines(): Array<Record<string, unknown>> {
    return this.sandboxes.flatMap((sandbox) => sandbox.logLines());
  }

  /** Resolves once every sandbox's invocations have ended. */
  async idle(): Promise<void> {
    await Promise.all(this.sandboxes.map((sandbox) => sandbox.idle()));
  }

  /** Retires every sandbox, as Lambda does (SIGTERM and the shutdown window where an extension registered). */
  async stop(): Promise<void> {
    await Promise.all(this.sandboxes.splice(0).map((sandbox) => sandbox.stop()));
  }
}

export interface DeployedStackOptions {
  packaged: Packaged;
  /** Every function's telemetry goes here (traces at /v1/traces, logs at /v1/logs). */
  otlpEndpoint: string;
  dynamodbEndpoint: string;
  ssmEndpoint: string;
  /** The package's compile cache left out of every function's code, to measure what it buys. */
  withoutCompileCache?: boolean;
  /** Set in every function besides the template's own variables, e.g. OTEL_SDK_DISABLED=true. */
  overrides?: Record<string, string>;
  /** See SandboxOptions.onAnswer. */
  onAnswer?: (fn: PackagedFunction, outcome: InvocationOutcome) => void;
  /** See SandboxOptions.onEnd. */
  onEnd?: (fn: PackagedFunction, outcome: InvocationOutcome) => void;
}

/**
 * The whole deployed service: the API in front, each function's sandboxes behind it (one started at once per
 * function, cold until its first invocation), each function's environment the template's, pointed at the given
 * DynamoDB, SSM and OTLP endpoints and at this API for its calls.
 */
export class DeployedStack {
  readonly api: DeployedApi;
  private readonly instances = new Map<string, FunctionInstances>();
  private readonly codeDirs = new Map<string, string>();

  constructor(private readonly options: DeployedStackOptions) {
    this.api = new DeployedApi(apiRoutes(options.packaged.template), (logicalId) => this.sandbox(logicalId));
  }

  get functions(): PackagedFunction[] {
    return this.options.packaged.functions;
  }

  async start(): Promise<this> {
    await this.api.start();
    for (const fn of this.functions) {
      const codeDir = await unzipArtifact(fn.artifact);
      if (this.options.withoutCompileCache) rmSync(path.join(codeDir, CODE_CACHE_DIR), { recursive: true });
      this.codeDirs.set(fn.logicalId, codeDir);
    }
    await Promise.all(this.functions.map((fn) => this.replace(fn.logicalId)));
    return this;
  }

  /** The sandboxes of one function. */
  sandbox(logicalId: string): FunctionInstances {
    const instances = this.instances.get(logicalId);
    if (!instances) throw new Error(`no function ${logicalId} in ${[...this.instances.keys()]}`);
    return instances;
  }

  /** The sandboxes of the function that runs `service` (its OTEL_SERVICE_NAME). */
  sandboxOf(service: string): FunctionInstances {
    const fn = this.functions.find((candidate) => candidate.variables.OTEL_SERVICE_NAME === service);
    if (!fn) throw new Error(`no function runs ${service}`);
    return this.sandbox(fn.logicalId);
  }

  /** Resolves once every invocation under way in any sandbox has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.instances.values()].map((instances) => instances.idle()));
  }

  /**
   * Retires a function's sandboxes and starts one fresh one, as a new cold instance; resolves once its process
   * has started (its init is under way: await `initialized`).
   */
  async replace(logicalId: string): Promise<LambdaSandbox> {
    await this.instances.get(logicalId)?.stop();
    const fn = this.functions.find((candidate) => candidate.logicalId === logicalId);
    const codeDir = this.codeDirs.get(logicalId);
    if (!fn || !codeDir) throw new Error(`no function ${logicalId}`);
    const { otlpEndpoint, dynamodbEndpoint, ssmEndpoint, overrides = {}, onAnswer, onEnd } = this.options;
    const env = functionEnvironment(
      fn,
      // The one CloudFormation expression among the variables: the stage's own API URL.
      { SERVICES_BASE_URL: `${this.api.url}/prod` },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
        AWS_ENDPOINT_URL_SSM: ssmEndpoint,
        ...overrides,
      },
    );
    const instances = new FunctionInstances(
      fn,
      () =>
        new LambdaSandbox({
          fn,
          codeDir,
          env,
          ...(onAnswer ? { onAnswer: (outcome: InvocationOutcome) => onAnswer(fn, outcome) } : {}),
          ...(onEnd ? { onEnd: (outcome: InvocationOutcome) => onEnd(fn, outcome) } : {}),
        }),
    );
    this.instances.set(logicalId, instances);
    const sandbox = instances.scaleOut();
    await sandbox.started;
    return sandbox;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.instances.values()].map((instances) => instances.stop()));
    await this.api.stop();
    removeDirs(...this.codeDirs.values());
  }
}
