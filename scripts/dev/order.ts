/**
 * `npm run order`: posts the seed project's order (create_order.sh), prints the answer and reads the order
 * back; then the trace's Grafana link, and, when Tempo and Loki answer, the trace as a waterfall and its log
 * lines. ORDER_API_URL (or HTTP_PORT), GRAFANA_URL, TEMPO_URL and LOKI_URL change where it looks.
 */

import { grafanaUrl, lokiUrl, orderApiUrl, tempoUrl, traceExploreUrl } from '../lib/endpoints';
import { fetchTrace, fetchTraceLogs } from '../lib/observe';
import { type PlacedOrder, placeOrder } from '../lib/orders';
import { renderWaterfall } from '../lib/waterfall';

const START_OBSERVABILITY = 'docker compose up -d observability';

async function showTrace(traceId: string): Promise<void> {
  console.log(`\nTrace in Grafana: ${traceExploreUrl(traceId)}`);
  const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const spans = await fetchTrace(tempoUrl(), traceId);
  if (spans === undefined) {
    console.log(`(Tempo at ${tempoUrl()} is not answering; \`${START_OBSERVABILITY}\` starts it.)`);
  } else if (spans.length === 0) {
    console.log(`(Tempo has no trace ${traceId} yet: is tracing on, and does it send to Tempo?)`);
  } else {
    console.log(`\n${renderWaterfall(spans, { colour })}`);
  }
  const logs = await fetchTraceLogs(lokiUrl(), traceId);
  if (logs === undefined) {
    console.log(`(Loki at ${lokiUrl()} is not answering; \`${START_OBSERVABILITY}\` starts it.)`);
  } else if (logs.length > 0) {
    console.log(`\nLogs of this trace (Loki, ${logs.length} lines):`);
    const width = Math.max(...logs.map((line) => line.service.length));
    for (const line of logs) {
      console.log(`${line.time.toISOString().slice(11, 23)} ${line.service.padEnd(width)} | ${line.message}`);
    }
  }
  console.log(`\nGrafana: ${grafanaUrl()}`);
}

async function main(): Promise<void> {
  const base = orderApiUrl();
  let created: PlacedOrder;
  try {
    created = await placeOrder(base);
  } catch (error) {
    console.error(
      `Could not reach ${base}: is \`npm start\` running? (${error instanceof Error ? error.message : error})`,
    );
    process.exitCode = 1;
    return;
  }
  const body = created.json();
  console.log(`POST ${base}/api/order → ${created.status}`);
  console.log(JSON.stringify(body, null, 2));
  if (typeof body.order_id === 'string') {
    const read = await fetch(`${base}/api/order/${body.order_id}`);
    console.log(`GET ${base}/api/order/${body.order_id} → ${read.status}`);
    console.log(JSON.stringify(await read.json(), null, 2));
  }
  if (typeof body.trace_id === 'string') await showTrace(body.trace_id);
  process.exitCode = created.status < 300 ? 0 : 1;
}

if (require.main === module) void main();
