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
 * The prod package run as AWS Lambda runs it: each function's zip unzipped into a sandbox of its own, the
 * template's API in front. Used by the deployed-contract tier (test/deployed) and the deployed cold-start bench.
 */

export interface DeployedStackOptions {
  packaged: Packaged;
  /** Every function's telemetry goes here (traces at /v1/traces, logs at /v1/logs). */
  otlpEndpoint: string;
  dynamodbEndpoint: string;
  ssmEndpoint: string;
  /** Set in every function besides the template's own variables, e.g. OTEL_SDK_DISABLED=true. */
  overrides?: Record<string, string>;
  /** See SandboxOptions.onAnswer. */
  onAnswer?: (fn: PackagedFunction, outcome: InvocationOutcome) => void;
}

/**
 * The whole deployed service: the API in front, one sandbox per function behind it (started at once, each
 * cold until its first invocation), each function's environment the template's, pointed at the given
 * DynamoDB, SSM and OTLP endpoints and at this API for its calls.
 */
export class DeployedStack {
  readonly api: DeployedApi;
  private readonly sandboxes = new Map<string, LambdaSandbox>();
  private readonly codeDirs = new Map<string, string>();

  constructor(private readonly options: DeployedStackOptions) {
    this.api = new DeployedApi(apiRoutes(options.packaged.template), (logicalId) => this.sandbox(logicalId));
  }

  get functions(): PackagedFunction[] {
    return this.options.packaged.functions;
  }

  async start(): Promise<this> {
    await this.api.start();
    for (const fn of this.functions) this.codeDirs.set(fn.logicalId, await unzipArtifact(fn.artifact));
    await Promise.all(this.functions.map((fn) => this.replace(fn.logicalId)));
    return this;
  }

  sandbox(logicalId: string): LambdaSandbox {
    const sandbox = this.sandboxes.get(logicalId);
    if (!sandbox) throw new Error(`no function ${logicalId} in ${[...this.sandboxes.keys()]}`);
    return sandbox;
  }

  /** The sandbox of the function that runs `service` (its OTEL_SERVICE_NAME). */
  sandboxOf(service: string): LambdaSandbox {
    const fn = this.functions.find((candidate) => candidate.variables.OTEL_SERVICE_NAME === service);
    if (!fn) throw new Error(`no function runs ${service}`);
    return this.sandbox(fn.logicalId);
  }

  /** Replaces a function's sandbox with a fresh one, as a new cold instance; resolves once it has started. */
  async replace(logicalId: string): Promise<LambdaSandbox> {
    await this.sandboxes.get(logicalId)?.stop();
    const fn = this.functions.find((candidate) => candidate.logicalId === logicalId);
    const codeDir = this.codeDirs.get(logicalId);
    if (!fn || !codeDir) throw new Error(`no function ${logicalId}`);
    const { otlpEndpoint, dynamodbEndpoint, ssmEndpoint, overrides = {}, onAnswer } = this.options;
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
    const sandbox = new LambdaSandbox({
      fn,
      codeDir,
      env,
      ...(onAnswer ? { onAnswer: (outcome: InvocationOutcome) => onAnswer(fn, outcome) } : {}),
    });
    this.sandboxes.set(logicalId, sandbox);
    return sandbox.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sandboxes.values()].map((sandbox) => sandbox.stop()));
    await this.api.stop();
    removeDirs(...this.codeDirs.values());
  }
}
