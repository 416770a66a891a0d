import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { eventually } from '../../scripts/lib/eventually';
import { SLO_RULES, sloRulesFile, sloSpec } from '../../scripts/observability/generate';
import { SLI_READ_DELAY } from '../../scripts/observability/slo-rules';
import {
  findRealStack,
  HOW_TO_ENABLE,
  type RealStack,
  startRealStack,
} from '../support/observability-backends';
import { SEED_PAYLOAD, type Stack, startStack } from '../support/offline-stack';
import { grafanaQuery, queryApis, type TimeWindow } from '../support/query-apis';

/**
 * The SLO alerts on the real Prometheus, fed by the real Tempo's span metrics from orders placed through
 * serverless offline: with clean traffic nothing fires; with seeded chaos failing half the orders, the
 * availability page fires. A 30-day SLO cannot be watched for days here, so Prometheus loads a copy of the
 * generated rules whose windows are 12 times shorter (5 m → 25 s, 1 h → 5 m, …), evaluated every 2 s, and
 * Tempo writes its metrics every 2 s: the same alerts, on the same thresholds, over shorter windows.
 */

/** 5 m → 25 s: a short window still holds several of Tempo's writes, however late the last one arrives. */
const TIME_SCALE = 12;
const INTERVAL = '2s';
const SERVICE = sloSpec().service;
const dashboard = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'observability/grafana/dashboards/order-slos.json'), 'utf8'),
) as {
  panels: Array<{
    title: string;
    targets?: Array<{ datasource?: { type?: string }; expr?: string; query?: string }>;
  }>;
};

const source = findRealStack();
const mustRun = process.env.CI === 'true';
const skip =
  source.kind !== 'binaries' && !mustRun
    ? `needs the real servers as processes, to load the scaled rules: ${HOW_TO_ENABLE.split(', or')[0]}`
    : false;
if (skip) console.log(`# SLO acceptance skipped: ${skip}`);
const check = (name: string, fn: () => Promise<void>) => it(name, { skip }, fn);

const now = () => Math.floor(Date.now() / 1000);
/** When an alert series was active, in seconds after `since`: its first and last evaluation. */
const activeSpan = (values: Array<[number | string, string]>, since: number) =>
  values.length === 0
    ? 'never'
    : `${Number(values[0]?.[0]) - since} s to ${Number(values.at(-1)?.[0]) - since} s after the first order`;

describe('the order SLOs on the real Prometheus', () => {
  let real: RealStack;
  let apis: ReturnType<typeof queryApis>;
  let stack: Stack | undefined;
  const scaledConfig = mkdtempSync(path.join(tmpdir(), 'slo-prometheus-'));
  const started = now() - 60;
  const window = (): TimeWindow => ({ start: started, end: now() + 1 });

  /** Every order placed, as the client saw it: for a failure message, not for an assertion on time. */
  const placed: Array<{ status: number; ms: number; traceId: unknown }> = [];
  /** Orders placed one after another: their answers' statuses. */
  const placeOrders = async (count: number) => {
    const statuses: number[] = [];
    for (let index = 0; index < count; index++) {
      const sent = performance.now();
      const response = await (stack as Stack).post('/api/order', SEED_PAYLOAD);
      placed.push({ status: response.status, ms: performance.now() - sent, traceId: response.body.trace_id });
      statuses.push(response.status);
    }
    return statuses;
  };
  /** The orders Tempo's span metrics have counted so far, as Prometheus holds them. */
  const countedOrders = async () => {
    const [series] = await apis.promRange(
      `sum(traces_spanmetrics_calls_total{service="api-gateway", span_kind="SPAN_KIND_SERVER"})`,
      { start: now() - 5, end: now() },
      1,
    );
    return Number(series?.values?.at(-1)?.[1] ?? 0);
  };
  const latencySlo = sloSpec().slos.find((slo) => slo.name === 'order-latency');
  /** The latency SLO's threshold: the histogram bucket its SLI counts as fast (`le="1"`). */
  const thresholdSeconds = Number(/le="([\d.]+)"/.exec(latencySlo?.sli.events.error_query ?? '')?.[1]);
  /** Why a latency alert could have fired: the orders over the threshold by the client's clock and by Tempo's. */
  const slowOrders = async (since: number) => {
    const traceql = latencySlo?.alerting.annotations.traceql;
    const inTempo = traceql
      ? await apis
          .traceqlSearch(traceql, window())
          .then((traces) => traces.map((trace) => `${trace.traceID} ${trace.durationMs} ms`))
          .catch((error) => [String(error)])
      : [];
    const byClient = placed
      .map((order, index) => ({ index, ...order }))
      .filter((order) => order.ms > thresholdSeconds * 1000)
      .map((order) => `#${order.index} ${order.status} ${Math.round(order.ms)} ms ${order.traceId}`);
    const [latencySli] = await apis.promRange(
      `slo:sli_error:ratio_rate5m{sloth_service="${SERVICE}", sloth_slo="order-latency"}`,
      { start: since, end: now() },
      2,
    );
    const sliAboveZero = (latencySli?.values ?? [])
      .filter(([, value]) => value !== 'NaN' && value !== '0')
      .map(([time, value]) => `${Number(time) - since}s: ${Number(value).toFixed(3)}`);
    return (
      `over ${thresholdSeconds} s by the client's clock: ${byClient.join(', ') || 'none'}; ` +
      `over ${thresholdSeconds} s in Tempo: ${inTempo.join(', ') || 'none'}; ` +
      `the latency SLI's short window above 0: ${sliAboveZero.join(', ') || 'never'}`
    );
  };
  const tracedStack = (env: NodeJS.ProcessEnv) =>
    startStack({
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: real.otlpUrl,
        LOKI_URL: real.lokiUrl,
        // Every instance loaded before the first order: a cold start is not what the latency SLO measures.
        OFFLINE_PREWARM: 'true',
        ...env,
      },
    });

  before(async () => {
    if (skip) return;
    // The project's Prometheus folder, with the SLO rules replaced by their scaled copy.
    cpSync(path.join(PROJECT_ROOT, 'observability/prometheus'), scaledConfig, { recursive: true });
    writeFileSync(
      path.join(scaledConfig, path.relative('observability/prometheus', SLO_RULES)),
      sloRulesFile({ timeScale: TIME_SCALE, interval: INTERVAL }),
    );
    real = await startRealStack(source, {
      replacedMounts: { '/etc/prometheus': scaledConfig },
      env: { TEMPO_METRICS_INTERVAL: INTERVAL },
    });
    apis = queryApis(real);
  });
  after(async () => {
    await stack?.stop();
    await real?.stop();
    rmSync(scaledConfig, { recursive: true, force: true });
  });

  check('loads every SLO rule group, each rule healthy', async () => {
    const groups = await apis.ruleGroups();
    const expected = sloSpec().slos.flatMap((slo) =>
      ['sli-recordings', 'meta-recordings', 'alerts'].map(
        (kind) => `sloth-slo-${kind}-${SERVICE}-${slo.name}`,
      ),
    );
    assert.deepEqual(groups.map((group) => group.name).sort(), expected.sort());
    const unhealthy = groups.flatMap((group) => group.rules.filter((rule) => rule.health === 'err'));
    assert.deepEqual(unhealthy, []);
  });

  check('fires nothing while the orders succeed', async () => {
    stack = await tracedStack({});
    try {
      await cleanOrdersFireNothing();
    } finally {
      await stack.stop();
      stack = undefined;
    }
  });

  /** 150 clean orders, then every evaluation of the SLO rules over them: no alert pending or firing. */
  const cleanOrdersFireNothing = async () => {
    const first = now();
    // Enough orders that one slow one stays under the latency ticket's 1× budget (1%).
    // In three batches, each placed once Prometheus holds Tempo's count of the ones before: the counters rise
    // over several of Tempo's metric writes. An order path fast enough to place all 150 between two writes
    // would leave the SLI's short window reading 0/0 (NaN).
    const statuses: number[] = [];
    const before = await countedOrders();
    for (let batch = 0; batch < 3; batch++) {
      statuses.push(...(await placeOrders(50)));
      const expected = before + statuses.length;
      await eventually(async () => ((await countedOrders()) >= expected ? true : undefined), {
        what: `Tempo's span metrics counting ${expected} orders`,
        seen: () => `${placed.length} placed`,
        timeoutMs: 60_000,
      });
    }
    assert.deepEqual([...new Set(statuses)], [201], 'every clean order succeeded');
    const last = now();
    // The rules have seen all of it: a recording of the 1 h (scaled: 5 m) window, evaluated once the SLIs,
    // which read SLI_READ_DELAY behind, reach past the last order's metrics and its short window (25 s).
    let seen = '';
    await eventually(
      async () => {
        const [sample] = await apis.promRange(
          `timestamp(slo:sli_error:ratio_rate1h{sloth_service="${SERVICE}", sloth_slo="order-availability"})`,
          { start: now() - 5, end: now() },
          1,
        );
        const evaluatedAt = Number(sample?.values?.at(-1)?.[1] ?? 0);
        seen = `last evaluation at ${evaluatedAt}, last order at ${last}`;
        return evaluatedAt >= last + 30 + SLI_READ_DELAY ? true : undefined;
      },
      { what: 'the SLO rules evaluated after the clean orders', seen: () => seen, timeoutMs: 90_000 },
    );
    // The rules measured the clean orders: the availability SLI has values (a window with no orders in it is
    // 0/0, NaN), every one of them 0…
    const [sli] = await apis.promRange(
      `slo:sli_error:ratio_rate5m{sloth_service="${SERVICE}", sloth_slo="order-availability"}`,
      { start: first, end: now() },
      2,
    );
    const measured = (sli?.values ?? []).map(([, value]) => value).filter((value) => value !== 'NaN');
    assert.ok(measured.length > 0, 'the availability SLI saw the orders');
    assert.deepEqual([...new Set(measured)], ['0'], 'and found no error among them');
    // …and no SLO alert was pending or firing at any evaluation during or after them.
    const alerts = await apis.promRange(
      `ALERTS{sloth_service="${SERVICE}"}`,
      { start: first, end: now() },
      2,
    );
    const fired = alerts.map((series) => series.metric);
    assert.deepEqual(
      fired,
      [],
      fired.length === 0
        ? ''
        : `no SLO alert was pending or firing at any evaluation during or after the clean orders; ` +
            `when: ${JSON.stringify(alerts.map((series) => ({ ...series.metric, active: activeSpan(series.values ?? [], first) })))}; ` +
            `the slow orders: ${await slowOrders(first)}`,
    );
  };

  check('pages on availability when seeded chaos fails half the orders', async () => {
    await stack?.stop();
    stack = await tracedStack({
      // Half the order invocations fail before any work (a 5xx to the client); the fraud check takes 1.1 s,
      // so the orders that get through are slow (the latency SLO's panels and alert have data too).
      CHAOS: 'order:failure=0.5,point=before;fraud:latency=1100',
      CHAOS_SEED: '7',
    });
    // The 1 h window (scaled: 5 m) still holds the clean orders: enough failures to pass 7.2% with them.
    const statuses = await placeOrders(60);
    assert.ok(statuses.filter((status) => status >= 500).length >= 20, `5xx among ${statuses}`);
    let seen = '';
    await eventually(
      async () => {
        const alerts = await apis.alerts();
        seen = JSON.stringify(alerts.map((alert) => ({ ...alert.labels, state: alert.state })));
        return alerts.some(
          (alert) =>
            alert.state === 'firing' &&
            alert.labels.alertname === 'OrderAvailabilityBudgetBurn' &&
            alert.labels.sloth_severity === 'page',
        )
          ? true
          : undefined;
      },
      { what: 'OrderAvailabilityBudgetBurn (page) firing', seen: () => seen, timeoutMs: 120_000 },
    );
  });

  describe('every Order SLOs dashboard query returns data', () => {
    for (const panel of dashboard.panels) {
      for (const [index, target] of (panel.targets ?? []).entries()) {
        check(`${panel.title} [${index}]`, async () => {
          const query = grafanaQuery(String(target.expr ?? target.query), {
            rangeSeconds: window().end - window().start,
            rateInterval: '1m',
          });
          let seen = '';
          await eventually(
            async () => {
              const count =
                target.datasource?.type === 'tempo'
                  ? (await apis.traceqlSearch(query, window())).length
                  : (await apis.promRange(query, window(), 5)).length;
              seen = `${count} results`;
              return count > 0 ? true : undefined;
            },
            { what: `data for ${query}`, seen: () => seen, timeoutMs: 90_000 },
          );
        });
      }
    }
  });
});
