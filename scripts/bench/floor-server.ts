/**
 * The benchmark's floor: the same seven handlers behind a minimal node:http router that turns requests into
 * API Gateway proxy events. No serverless-offline, no telemetry: what is left is the functions themselves,
 * DynamoDB Local and HTTP between them.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { instanceExecArgv } from '#local-runtime/plugin.cjs';
import { PROJECT_ROOT, TRACING_PRELOAD } from '#local-runtime/project.cjs';
import { ensureTables } from '#local-runtime/tables.cjs';
import { type Answer, InstanceChannel, type Report } from '#local-runtime/worker-protocol.cjs';

/** The Lambda instance the floor runs: the same worker serverless offline runs (without its patches). */
const LAMBDA_WORKER = path.join(PROJECT_ROOT, 'local-runtime', 'lambda-worker.mjs');

interface ServerlessFunction {
  name: string;
  handler: string;
  timeout?: number;
  environment?: Record<string, string>;
  events: Array<{ http?: { method: string; path: string } }>;
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  parameters: string[];
  /** The function's instance: one worker, replaced by newInstance. */
  slot: { instance: FloorInstance };
}

/** A new instance's way to its first response, in ms (performance.timeOrigin-based clocks of both threads). */
export interface ColdStart {
  /** Thread start, Node's bootstrap of it and the preload (the tracing SDK, when on). */
  bootMs: number;
  /** Loading the handler's module: the Lambda init phase, after the preload. */
  loadMs: number;
  /** The first invocation, from its event reaching the loaded instance to its answer. */
  firstInvokeMs: number;
  /** From creating the instance to its first answer: what the first caller waits for. */
  totalMs: number;
}

export interface Instance {
  /** Resolves when the instance has answered its first invocation. */
  coldStart: Promise<ColdStart>;
  /** The instance's own process.memoryUsage() (in a worker, heap and external are the isolate's own). */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
}

/** How a new instance starts: Node options and preloads, and environment added to the function's own. */
export interface InstanceOptions {
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

const now = () => performance.timeOrigin + performance.now();

/** A Lambda instance of the floor, and the one who waits for its first invocation's report. */
interface FloorInstance {
  functionName: string;
  worker: Worker;
  channel: InstanceChannel;
  firstReport?: (report: Report) => void;
}

/** What serverless-offline gives each invocation, from which the runtime's context is built. */
const invocationOf = (functionName: string) => ({
  awsRequestId: randomUUID(),
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
});

/** The service as serverless resolves it for the local stage, with the given environment. */
interface ResolvedService {
  functions: Record<string, ServerlessFunction>;
  provider: { environment: Record<string, string>; timeout?: number; region?: string; runtime: string };
  resources: unknown;
  custom: { seed?: Record<string, Array<Record<string, unknown>>>; instanceNodeOptions?: string };
}

/** The Node options of every Lambda instance (serverless.yml's custom.instanceNodeOptions). */
export function localInstanceNodeOptions(service: ResolvedService): string[] {
  return instanceExecArgv(service.custom);
}

/** How serverless offline starts a Lambda instance: its Node options, then the tracing preload. */
export function offlineInstanceExecArgv(service: ResolvedService): string[] {
  return [...localInstanceNodeOptions(service), '--require', TRACING_PRELOAD];
}

export function resolvedService(env: NodeJS.ProcessEnv): ResolvedService {
  const cli = path.join(PROJECT_ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
  const json = execFileSync(process.execPath, [cli, 'print', '--format', 'json'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(json);
}

export interface Floor {
  url: string;
  service: ResolvedService;
  /** Replaces a function's instance (by its serverless.yml key) with a new one, which its next request meets. */
  newInstance(functionKey: string, options?: InstanceOptions): Instance;
  stop(): Promise<void>;
}

export async function startFloor(options: { port: number; env: NodeJS.ProcessEnv }): Promise<Floor> {
  const url = `http://127.0.0.1:${options.port}`;
  const service = resolvedService({ ...options.env, HTTP_PORT: String(options.port) });
  await ensureTables({
    endpoint: String(options.env.AWS_ENDPOINT_URL_DYNAMODB),
    region: service.provider.region,
    resources: service.resources,
    seed: service.custom.seed ?? {},
    log: () => {},
  });
  const routes: Route[] = [];
  const workers = new Set<Worker>();

  const functionsByKey = new Map(Object.entries(service.functions));
  const startInstance = (fn: ServerlessFunction, instance: InstanceOptions = {}): FloorInstance => {
    const worker = new Worker(LAMBDA_WORKER, {
      execArgv: [...process.execArgv, ...(instance.execArgv ?? [])],
      // The handlers' log lines are not the floor's output (in the bench, stdout carries the results).
      stdout: true,
      env: {
        ...service.provider.environment,
        ...fn.environment,
        AWS_ENDPOINT_URL_DYNAMODB: options.env.AWS_ENDPOINT_URL_DYNAMODB,
        AWS_REGION: 'us-east-1',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        IS_OFFLINE: 'true',
        SERVICES_BASE_URL: url,
        _HANDLER: fn.handler,
        ...instance.env,
      },
      workerData: {
        codeDir: PROJECT_ROOT,
        functionKey: fn.name,
        handler: fn.handler,
        runtime: service.provider.runtime,
        servicePath: PROJECT_ROOT,
        timeout: (fn.timeout ?? service.provider.timeout ?? 6) * 1000,
      },
    });
    worker.stdout.resume();
    workers.add(worker);
    worker.once('exit', () => workers.delete(worker));
    return { functionName: fn.name, worker, channel: new InstanceChannel(worker) };
  };

  const slots = new Map<string, { instance: FloorInstance }>();
  for (const [key, fn] of functionsByKey) {
    const slot = { instance: startInstance(fn) };
    slots.set(key, slot);
    for (const event of fn.events) {
      if (!event.http) continue;
      const parameters: string[] = [];
      const source = event.http.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        parameters.push(name);
        return '([^/]+)';
      });
      routes.push({
        method: event.http.method.toUpperCase(),
        template: event.http.path,
        pattern: new RegExp(`^${source}$`),
        parameters,
        slot,
      });
    }
  }

  const newInstance = (functionKey: string, options: InstanceOptions = {}): Instance => {
    const fn = functionsByKey.get(functionKey);
    const slot = slots.get(functionKey);
    if (!fn || !slot) throw new Error(`no function ${functionKey} in serverless.yml`);
    const previous = slot.instance;
    const createdAt = now();
    const instance = startInstance(fn, options);
    slot.instance = instance;
    void previous.worker.terminate();
    // The first invocation's report (worker-protocol.cjs) carries the init phase and when the script started.
    const coldStart = new Promise<ColdStart>((resolve) => {
      instance.firstReport = (report) =>
        resolve({
          bootMs: (report.instanceStartedAt ?? createdAt) - createdAt,
          loadMs: report.initDurationMs ?? 0,
          firstInvokeMs: report.durationMs - (report.initDurationMs ?? 0),
          totalMs: now() - createdAt,
        });
    });
    return {
      coldStart,
      memoryUsage: async () =>
        (await instance.channel.ask({ memoryUsage: true })).result as NodeJS.MemoryUsage,
    };
  };

  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const requestUrl = new URL(request.url ?? '/', url);
    const route = routes.find((r) => r.method === request.method && r.pattern.test(requestUrl.pathname));
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    const match = route.pattern.exec(requestUrl.pathname) ?? [];
    const event = {
      httpMethod: route.method,
      resource: route.template,
      path: requestUrl.pathname,
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
      ),
      pathParameters: route.parameters.length
        ? Object.fromEntries(
            route.parameters.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
          )
        : null,
      queryStringParameters: null,
      body: chunks.length ? Buffer.concat(chunks).toString('utf8') : null,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEvent;
    const instance = route.slot.instance;
    const answer = await instance.channel
      .ask({ event, context: invocationOf(instance.functionName) })
      .catch((error: Error) => ({ error: { errorType: error.name, errorMessage: error.message } }) as Answer);
    if (answer.report && instance.firstReport) {
      instance.firstReport(answer.report);
      instance.firstReport = undefined;
    }
    const result = answer.result as APIGatewayProxyResult | undefined;
    if (!result) {
      response.writeHead(502).end(answer.error?.errorMessage ?? '');
      return;
    }
    response.writeHead(result.statusCode, result.headers as Record<string, string>).end(result.body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    service,
    newInstance,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...workers].map((worker) => worker.terminate()));
    },
  };
}
