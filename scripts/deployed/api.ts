import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { scheduledEvent } from '#local-runtime/schedules.cjs';
import { type LoopbackServer, listenOnLoopback, readBody } from '../lib/ports';
import type { Template } from './package';
import { DUMMY_ACCOUNT, type InvocationOutcome } from './sandbox';

/** The API Gateway the template declares (its resources, methods and IAM-authorized routes), in front of the sandboxes. */

/** One route of the deployed REST API: its method, resource template, function and authorization. */
export interface ApiRoute {
  method: string;
  resource: string;
  functionLogicalId: string;
  authorization: string;
}

/** The REST API's routes, read from the template's AWS::ApiGateway::Resource and ::Method resources. */
export function apiRoutes(template: Template): ApiRoute[] {
  const resources = template.Resources;
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string })?.Ref;
    const resource = id ? resources[id] : undefined;
    if (!id || !resource) return '';
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  return Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::ApiGateway::Method' && resource.Properties.HttpMethod !== 'OPTIONS',
    )
    .map(({ Properties: p }) => {
      const uri = JSON.stringify((p.Integration as { Uri?: unknown })?.Uri ?? '');
      const functionLogicalId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1] ?? '';
      return {
        method: String(p.HttpMethod),
        resource: pathOf(p.ResourceId) || '/',
        functionLogicalId,
        authorization: String(p.AuthorizationType),
      };
    });
}

/**
 * The deployed API Gateway, in front of the sandboxes: a REST API's proxy integration for each route. A
 * request becomes an API Gateway proxy event; a function error becomes API Gateway's 502; an IAM-authorized
 * route refuses a request that is not SigV4-signed, as API Gateway does.
 */
export class DeployedApi {
  private server?: LoopbackServer;
  url = '';

  constructor(
    private readonly routes: ApiRoute[],
    private readonly sandboxOf: (functionLogicalId: string) => {
      invoke(event: unknown): Promise<InvocationOutcome>;
    },
    private readonly stage = 'prod',
  ) {}

  async start(): Promise<this> {
    this.server = await listenOnLoopback((request, response) => {
      this.serve(request, response).catch((error: Error) => {
        response
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: error.message }));
      });
    });
    this.url = this.server.url;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const stagePrefix = `/${this.stage}`;
    const requestPath = url.pathname.startsWith(`${stagePrefix}/`)
      ? url.pathname.slice(stagePrefix.length)
      : url.pathname;
    const match = this.match(String(request.method), requestPath);
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!match) return json(403, { message: 'Missing Authentication Token' });
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(',') : String(value),
      ]),
    );
    if (
      match.route.authorization === 'AWS_IAM' &&
      !String(headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')
    ) {
      return json(403, { message: 'Missing Authentication Token' });
    }
    const body = await readBody(request);
    const outcome = await this.sandboxOf(match.route.functionLogicalId).invoke(
      proxyEvent({
        ...match,
        method: String(request.method),
        path: requestPath,
        headers,
        body,
        stage: this.stage,
      }),
    );
    const result = outcome.result as
      | { statusCode?: number; headers?: Record<string, string>; body?: string }
      | undefined;
    if (outcome.error || typeof result?.statusCode !== 'number') {
      return json(502, { message: 'Internal server error' });
    }
    response.writeHead(result.statusCode, result.headers ?? {}).end(result.body ?? '');
  }

  private match(method: string, requestPath: string) {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const names: string[] = [];
      const pattern = new RegExp(
        `^${route.resource.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
          names.push(name);
          return '([^/]+)';
        })}$`,
      );
      const found = pattern.exec(requestPath);
      if (!found) continue;
      const pathParameters = Object.fromEntries(
        names.map((name, index) => [name, decodeURIComponent(found[index + 1] ?? '')]),
      );
      return { route, pathParameters: names.length > 0 ? pathParameters : null };
    }
    return undefined;
  }
}

/** An API Gateway (REST, proxy integration) event, as the function receives it. */
export function proxyEvent(request: {
  route: ApiRoute;
  method: string;
  path: string;
  pathParameters: Record<string, string> | null;
  headers: Record<string, string>;
  body: string;
  stage: string;
}) {
  return {
    resource: request.route.resource,
    path: request.path,
    httpMethod: request.method,
    headers: request.headers,
    multiValueHeaders: Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, [value]]),
    ),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: request.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: DUMMY_ACCOUNT,
      apiId: 'local',
      resourcePath: request.route.resource,
      httpMethod: request.method,
      path: `/${request.stage}${request.path}`,
      stage: request.stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      identity: { sourceIp: '127.0.0.1', userAgent: request.headers['user-agent'] ?? '' },
    },
    body: request.body === '' ? null : request.body,
    isBase64Encoded: false,
  };
}

/** What EventBridge sends a deployed function on its schedule. */
export function scheduleEvent(functionName: string) {
  return scheduledEvent(functionName, { region: 'us-east-1', account: DUMMY_ACCOUNT });
}
