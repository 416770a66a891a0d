/**
 * `npm run load`: steady demo traffic, so the Grafana dashboards fill the way intro-to-mltp's k6 traffic fills
 * them. Open-loop: orders start at the chosen rate whether or not earlier ones have finished.
 *   npm run load -- --rate 5 --duration 300 [--url http://localhost:4000]
 * The target is --url, else ORDER_API_URL, else HTTP_PORT's local API. A live line shows the rate, errors and
 * p50/p99 so far; a table per scenario ends the run.
 * The mix: mostly successful orders, with out-of-stock, unknown items, fraud and declined payments.
 * When it can reach the DynamoDB the functions use (AWS_ENDPOINT_URL_DYNAMODB, default: local-defaults.json),
 * it restocks sku001 whenever it runs low, so a long run keeps succeeding.
 */
import { orderApiUrl } from '../lib/endpoints';
import { placeOrder } from '../lib/orders';
import { sku001Restocker } from './restock';
import { chooseScenario, SCENARIOS } from './scenarios';
import { errorsOf, ms, newTally, summaryTable, type Tally } from './tally';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const url = option('url', orderApiUrl()).replace(/\/$/, '');
  const rate = Math.min(200, Math.max(0.1, Number(option('rate', '5'))));
  const duration = Math.min(24 * 3600, Math.max(1, Number(option('duration', '300'))));
  const total = newTally();
  const byScenario = new Map<string, Tally>(SCENARIOS.map((scenario) => [scenario.name, newTally()]));
  let sent = 0;
  let done = 0;
  let inFlight = 0;

  const restock = sku001Restocker();

  const fire = async () => {
    const scenario = chooseScenario(Math.random());
    sent++;
    inFlight++;
    const started = performance.now();
    let status = 'error';
    try {
      const placed = await placeOrder(url, scenario.body(), { signal: AbortSignal.timeout(15_000) });
      status = String(placed.status);
    } catch {
      status = 'error';
    }
    const elapsed = performance.now() - started;
    for (const tally of [total, byScenario.get(scenario.name) ?? newTally()]) {
      tally.latency.record(elapsed);
      tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    }
    inFlight--;
    done++;
  };

  const progress = () => {
    const seconds = Math.max((Date.now() - began) / 1000, 0.001);
    return (
      `[${seconds.toFixed(0)} s] ${done} done (${(done / seconds).toFixed(1)}/s), ${inFlight} in flight, ` +
      `${errorsOf(total)} errors | p50 ${ms(total.latency.percentile(0.5))} ms, p99 ${ms(total.latency.percentile(0.99))} ms so far`
    );
  };
  // On a terminal one line is rewritten in place every second; piped, a line every 5 s keeps logs short.
  const live = Boolean(process.stdout.isTTY);
  const show = () => {
    if (live) process.stdout.write(`\r\x1b[2K${progress()}`);
    else console.log(progress());
  };

  const began = Date.now();
  console.log(`sending ${rate} orders/s to ${url}/api/order for ${duration} s (Ctrl-C stops early)`);
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  await restock();
  const ticker = setInterval(show, live ? 1_000 : 5_000);
  const restocker = setInterval(() => void restock(), 5_000);
  while (!stopping && Date.now() - began < duration * 1000) {
    const due = Math.floor(((Date.now() - began) / 1000) * rate);
    while (sent < due) void fire();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(ticker);
  clearInterval(restocker);
  show();
  if (live) process.stdout.write('\n');
  console.log(`\n${summaryTable(byScenario, total, (Date.now() - began) / 1000)}`);
  process.exit(0);
}

if (require.main === module) void main();
