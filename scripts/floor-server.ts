/**
 * The benchmark's floor: the same six handlers behind a minimal node:http router that turns requests into
 * API Gateway proxy events. No serverless-offline, no telemetry: what is left is the functions themselves,
 * DynamoDB Local and HTTP between them.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { PROJECT_ROOT } from './dynamodb-local';

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
  worker: Worker;
}

/** The service as serverless resolves it for the local stage, with the given environment. */
interface ResolvedService {
  functions: Record<string, ServerlessFunction>;
  provider: { environment: Record<string, string>; timeout?: number; region?: string };
  resources: unknown;
  custom: { seed?: Record<string, unknown[]> };
}

/** The plugin that creates and seeds the tables for serverless offline does the same for the floor. */
const { ensureTables } = require(path.join(PROJECT_ROOT, 'plugins', 'local-runtime.cjs')) as {
  ensureTables(options: {
    endpoint: string;
    region?: string;
    resources: unknown;
    seed: Record<string, unknown[]>;
    log: (line: string) => void;
  }): Promise<void>;
};

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
  const pending = new Map<number, (result: APIGatewayProxyResult | undefined) => void>();
  let nextId = 0;

  for (const fn of Object.values(service.functions)) {
    const worker = new Worker(path.join(__dirname, 'floor-worker.js'), {
      env: {
        ...service.provider.environment,
        ...fn.environment,
        AWS_ENDPOINT_URL_DYNAMODB: options.env.AWS_ENDPOINT_URL_DYNAMODB,
        AWS_REGION: 'us-east-1',
        IS_OFFLINE: 'true',
        SERVICES_BASE_URL: url,
      },
      workerData: {
        handler: fn.handler,
        functionName: fn.name,
        timeoutMs: (fn.timeout ?? service.provider.timeout ?? 6) * 1000,
        root: PROJECT_ROOT,
      },
    });
    worker.on('message', ({ id, result }: { id: number; result?: APIGatewayProxyResult }) => {
      pending.get(id)?.(result);
      pending.delete(id);
    });
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
        worker,
      });
    }
  }

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
    const id = nextId++;
    const result = await new Promise<APIGatewayProxyResult | undefined>((resolve) => {
      pending.set(id, resolve);
      route.worker.postMessage({ id, event });
    });
    if (!result) {
      response.writeHead(502).end();
      return;
    }
    response.writeHead(result.statusCode, result.headers as Record<string, string>).end(result.body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const workers = [...new Set(routes.map((route) => route.worker))];
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

if (require.main === module) {
  const port = Number(process.env.FLOOR_PORT ?? 4100);
  startFloor({ port, env: process.env }).then(
    (floor) => {
      console.log(`floor ready: ${floor.url}`);
      const stop = () => void floor.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
