import http from 'node:http';
import https from 'node:https';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/** Where SSM answers: the region, and an endpoint (AWS_ENDPOINT_URL_SSM or AWS_ENDPOINT_URL) if not AWS's own. */
export interface SsmLocation {
  region: string;
  endpoint?: string;
}

/**
 * When deployed, the OTLP headers (e.g. the basic-auth header of a hosted Grafana stack) live in an SSM
 * SecureString, never in the template. They are read once, at the first export, and cached; a missing
 * parameter means no extra headers, so an endpoint without auth still works.
 */
export function headersFromSsm(name: string, ssm: SsmLocation): () => Promise<Record<string, string>> {
  let headers: Promise<Record<string, string>> | undefined;
  return () => {
    headers ??= (async () => {
      try {
        return parseHeaderList(await secureParameter(name, ssm));
      } catch (error) {
        if ((error as Error).name === 'ParameterNotFound') return {};
        headers = undefined; // try again at the next export
        throw error;
      }
    })();
    return headers;
  };
}

/** The OTEL_EXPORTER_OTLP_HEADERS format: "key1=value1,key2=value2", values URL-encoded. */
export function parseHeaderList(list: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of list.split(',')) {
    const separator = pair.indexOf('=');
    if (separator <= 0) continue;
    headers[pair.slice(0, separator).trim()] = decodeURIComponent(pair.slice(separator + 1).trim());
  }
  return headers;
}

/**
 * SSM's GetParameter, decrypted: one signed AWS JSON 1.1 request. The SSM client would do the same, at the
 * cost of about 50 ms on the first invocation of every traced instance and 560 KB in its bundle (BENCHMARKS.md).
 * Its endpoint honours AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL, as the SDK does. Untraced: the request is
 * the exporter's business, not the invocation's.
 */
async function secureParameter(name: string, { region, endpoint: given }: SsmLocation): Promise<string> {
  const { signerFor } = require('../runtime/aws-signing') as typeof import('../runtime/aws-signing');
  const endpoint = new URL(given ?? `https://ssm.${region}.amazonaws.com`);
  const body = JSON.stringify({ Name: name, WithDecryption: true });
  const signed = await signerFor('ssm', region).sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
    path: '/',
    headers: {
      host: endpoint.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AmazonSSM.GetParameter',
    },
    body,
  });
  const answer = await context.with(suppressTracing(context.active()), () =>
    post(endpoint, signed.headers, body),
  );
  const payload = JSON.parse(answer.body || '{}') as {
    Parameter?: { Value?: string };
    __type?: string;
    message?: string;
  };
  if (answer.status !== 200) {
    const type =
      String(payload.__type ?? 'SsmError')
        .split('#')
        .pop() ?? 'SsmError';
    throw Object.assign(new Error(`SSM GetParameter ${name}: ${payload.message ?? answer.status}`), {
      name: type,
    });
  }
  return payload.Parameter?.Value ?? '';
}

function post(
  endpoint: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  const transport = endpoint.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const request = transport.request(endpoint, { method: 'POST', headers, timeout: 2_000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', reject);
    });
    request.on('timeout', () =>
      request.destroy(new Error(`SSM did not answer within 2 s at ${endpoint.host}`)),
    );
    request.on('error', reject);
    request.end(body);
  });
}
