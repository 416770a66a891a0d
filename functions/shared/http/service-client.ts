import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosInstance, type InternalAxiosRequestConfig, isAxiosError } from 'axios';
import type * as z from 'zod';
import { readSettings, type Settings } from '../config/settings';
import { DomainError, isErrorCategory } from '../contracts/errors';
import {
  API,
  type ApiRoute,
  type GetRoute,
  type ParamsOf,
  type PostRoute,
  type ResponseOf,
} from '../contracts/schemas';
import { remainingMs } from '../runtime/invocation';
import { registerPrimer } from '../runtime/priming';
import { BACKOFF } from '../runtime/retry';
import { fallbackTraceparent } from '../telemetry/api';
import { logger } from '../telemetry/logger';

/** What a client reads, validated when the function creates its first one (at cold start, in its handler). */
const CLIENT_SETTINGS = [
  'SERVICES_BASE_URL',
  'DOWNSTREAM_TIMEOUT_MS',
  'COMPENSATION_RESERVE_MS',
  'SIGN_REQUESTS',
] as const;
type ClientSettings = Settings<(typeof CLIENT_SETTINGS)[number]>;

/** How often a throttled call is tried again, and the least time worth a try. */
const MAX_THROTTLE_RETRIES = 5;
const MIN_CALL_MS = 250;

/** One pool of kept-alive connections per Lambda instance, shared by every call it makes. */
const agents = {
  httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** The URL path of a route: "GET /order/{id}" with { id } → /order/<id>. */
export function pathOf(route: ApiRoute, params: Record<string, string> = {}): string {
  return route
    .slice(route.indexOf(' ') + 1)
    .replace(/\{(\w+)\}/g, (_whole, name: string) => encodeURIComponent(params[name] ?? ''));
}

export interface CallOptions {
  /**
   * Compensation and settlement (committing a completed order's stock) may use the reserve that forward
   * calls leave untouched.
   */
  purpose?: 'forward' | 'compensation' | 'settlement';
}

export class ServiceClient {
  constructor(
    private readonly serviceName: string,
    private readonly http: AxiosInstance,
    private readonly timing: Pick<
      ClientSettings,
      'DOWNSTREAM_TIMEOUT_MS' | 'COMPENSATION_RESERVE_MS'
    > = readSettings(['DOWNSTREAM_TIMEOUT_MS', 'COMPENSATION_RESERVE_MS']),
  ) {}

  /** Calls a POST route of the API contract; answers its response, parsed with the contract's schema. */
  async post<K extends PostRoute>(
    route: K,
    body: z.input<(typeof API)[K]['body']>,
    options: CallOptions = {},
  ) {
    return this.request(route, pathOf(route), body, options);
  }

  /** Calls a GET route of the API contract with its path parameters. */
  async get<K extends GetRoute>(route: K, params: ParamsOf<K>, options: CallOptions = {}) {
    return this.request(route, pathOf(route, params), undefined, options);
  }

  private async request<K extends ApiRoute>(
    route: K,
    path: string,
    body: unknown,
    options: CallOptions,
  ): Promise<ResponseOf<K>> {
    const method = route.slice(0, route.indexOf(' '));
    const reserve = (options.purpose ?? 'forward') === 'forward' ? this.timing.COMPENSATION_RESERVE_MS : 100;
    let data: unknown;
    for (let attempt = 1; ; attempt++) {
      const timeout = Math.min(this.timing.DOWNSTREAM_TIMEOUT_MS, remainingMs() - reserve);
      if (timeout <= 0) {
        throw new DomainError('downstream_timeout', `No time left to call ${this.serviceName}`);
      }
      const traceparent = fallbackTraceparent();
      logger.info(
        { target: this.serviceName, method, path },
        `calling ${this.serviceName} ${method} ${path}`,
      );
      try {
        ({ data } = await this.http.request({
          method,
          url: path,
          data: body,
          timeout,
          headers: traceparent ? { traceparent } : undefined,
        }));
        break;
      } catch (error) {
        const failure = this.toDomainError(error);
        // A throttled call never ran, so it is safe to repeat: with jitter, while time is left for one more.
        const wait = BACKOFF.conflict(attempt);
        if (failure.category !== 'throttled' || attempt >= MAX_THROTTLE_RETRIES) throw failure;
        if (remainingMs() - reserve - wait < MIN_CALL_MS) throw failure;
        logger.warn(
          { target: this.serviceName, attempt },
          `${this.serviceName} throttled the call; retrying`,
        );
        await sleep(wait);
      }
    }
    const answer = API[route].response.safeParse(data);
    if (!answer.success) {
      logger.error(
        { target: this.serviceName, route, issues: answer.error.issues.slice(0, 5) },
        `${this.serviceName} answered ${route} with a body outside its contract`,
      );
      throw new DomainError('downstream_failure', `${this.serviceName} answered with an unexpected body`);
    }
    return answer.data as ResponseOf<K>;
  }

  /**
   * A downstream's own categorised failure travels up unchanged (a 409 stays a 409); anything else
   * becomes 502 or 504 with a message that names the service and nothing internal.
   */
  private toDomainError(error: unknown): DomainError {
    if (!isAxiosError(error)) return new DomainError('downstream_failure', `${this.serviceName} call failed`);
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
      return new DomainError('downstream_timeout', `${this.serviceName} did not answer in time`);
    }
    const status = error.response?.status;
    const body = error.response?.data as
      | { category?: unknown; message?: unknown; errors?: unknown }
      | undefined;
    if (status === 504)
      return new DomainError('downstream_timeout', `${this.serviceName} did not answer in time`);
    if (
      status !== undefined &&
      status < 500 &&
      isErrorCategory(body?.category) &&
      typeof body?.message === 'string'
    ) {
      return new DomainError(
        body.category,
        body.message,
        Array.isArray(body.errors) ? body.errors : undefined,
      );
    }
    if (
      status === 502 &&
      (body?.category === 'downstream_failure' || body?.category === 'downstream_timeout') &&
      typeof body.message === 'string'
    ) {
      return new DomainError(body.category, body.message);
    }
    return new DomainError('downstream_failure', `${this.serviceName} failed`);
  }
}

let clientSettings: ClientSettings | undefined;

/**
 * A client for calls to `serviceName` through the API. A function creates its clients once, at cold start;
 * the first reads the settings and registers the primer that opens the kept-alive connection.
 */
export function createServiceClient(serviceName: string): ServiceClient {
  if (!clientSettings) {
    const settings = readSettings(CLIENT_SETTINGS);
    clientSettings = settings;
    // Any answer will do (the API's 404 for its root): it opens the kept-alive connection and runs axios once.
    registerPrimer(() =>
      axios.get(settings.SERVICES_BASE_URL, { ...agents, timeout: 1_000, validateStatus: () => true }),
    );
  }
  const instance = axios.create({
    baseURL: clientSettings.SERVICES_BASE_URL,
    ...agents,
    headers: { 'content-type': 'application/json' },
    // Redirects between our own functions would be a misconfiguration, never something to follow.
    maxRedirects: 0,
  });
  if (clientSettings.SIGN_REQUESTS) instance.interceptors.request.use(signRequest);
  return new ServiceClient(serviceName, instance, clientSettings);
}

/** SigV4 signing for API Gateway's AWS_IAM authorization; loaded only when deployed with signing on. */
async function signRequest(config: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> {
  const { signerFor } = require('../runtime/aws-signing') as typeof import('../runtime/aws-signing');
  const url = new URL(config.url ?? '', config.baseURL);
  const body = config.data === undefined ? undefined : JSON.stringify(config.data);
  const signer = signerFor('execute-api');
  const signed = await signer.sign({
    method: (config.method ?? 'GET').toUpperCase(),
    protocol: url.protocol,
    hostname: url.hostname,
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  for (const [name, value] of Object.entries(signed.headers as Record<string, string>))
    config.headers.set(name, value);
  config.data = body;
  return config;
}
