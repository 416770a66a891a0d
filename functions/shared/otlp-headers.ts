/**
 * When deployed, the OTLP headers (e.g. the basic-auth header of a hosted Grafana stack) live in an SSM
 * SecureString, never in the template. They are read once, at the first export, and cached; a missing
 * parameter means no extra headers, so an endpoint without auth still works.
 */
export function headersFromSsm(name: string): () => Promise<Record<string, string>> {
  let headers: Promise<Record<string, string>> | undefined;
  return () => {
    headers ??= (async () => {
      const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
      try {
        const result = await new SSMClient({}).send(
          new GetParameterCommand({ Name: name, WithDecryption: true }),
        );
        return parseHeaderList(result.Parameter?.Value ?? '');
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
