/**
 * Where the developer tools (npm start, npm run order/load, create_order.sh) find the running system. Each
 * default is written here once; an environment variable of the same name overrides it.
 */
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';

const withoutSlash = (url: string) => url.replace(/\/$/, '');

/** The Orders API: ORDER_API_URL, else serverless-offline on HTTP_PORT (default: local-defaults.json). */
export function orderApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return withoutSlash(env.ORDER_API_URL || `http://localhost:${env.HTTP_PORT || LOCAL_DEFAULTS.httpPort}`);
}

/** The DynamoDB the functions use: AWS_ENDPOINT_URL_DYNAMODB, else DynamoDB Local's default port. */
export function dynamodbEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_ENDPOINT_URL_DYNAMODB || LOCAL_DEFAULTS.dynamodbEndpoint;
}

/** Grafana, as docker-compose.yml publishes it. */
export function grafanaUrl(env: NodeJS.ProcessEnv = process.env): string {
  return withoutSlash(env.GRAFANA_URL || 'http://localhost:3000');
}

/** Tempo's query API (trace by id), as docker-compose.yml publishes it. */
export function tempoUrl(env: NodeJS.ProcessEnv = process.env): string {
  return withoutSlash(env.TEMPO_URL || 'http://localhost:3200');
}

/** Loki's query API, as docker-compose.yml publishes it (the same address the functions send logs to). */
export function lokiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return withoutSlash(env.LOKI_URL || 'http://localhost:3100');
}

/** The Grafana datasource uids (fixed in observability/grafana/provisioning/datasources). */
export const DATASOURCE_UIDS = { tempo: 'tempo', loki: 'loki', prometheus: 'prometheus' } as const;

/** Grafana Explore with the trace open in the Tempo datasource. */
export function traceExploreUrl(traceId: string, env: NodeJS.ProcessEnv = process.env): string {
  return traceqlExploreUrl(traceId, 'now-1h', env);
}

/**
 * Grafana Explore running a TraceQL query (a trace id is one too) in the Tempo datasource. The `panes`
 * parameter is Explore's state as JSON: one pane ("t"), its datasource uid, one query, and a time range.
 */
export function traceqlExploreUrl(
  traceql: string,
  from: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const panes = {
    t: {
      datasource: DATASOURCE_UIDS.tempo,
      queries: [
        {
          refId: 'A',
          datasource: { type: 'tempo', uid: DATASOURCE_UIDS.tempo },
          queryType: 'traceql',
          query: traceql,
        },
      ],
      range: { from, to: 'now' },
    },
  };
  const query = new URLSearchParams({ schemaVersion: '1', panes: JSON.stringify(panes), orgId: '1' });
  return `${grafanaUrl(env)}/explore?${query}`;
}

if (require.main === module) {
  // `node dist/scripts/lib/endpoints.js trace <trace_id>`: the link create_order.sh prints.
  const [what, traceId] = process.argv.slice(2);
  if (what !== 'trace' || !/^[0-9a-f]{32}$/.test(traceId ?? '')) {
    console.error('usage: endpoints.js trace <32 hex digit trace id>');
    process.exit(2);
  }
  console.log(traceExploreUrl(traceId as string));
}
