import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { DATASOURCE_UIDS, orderApiUrl, traceExploreUrl } from '../../scripts/lib/endpoints';
import { LatencyHistogram } from '../../scripts/lib/latency';
import { decodeOtlpSpans, type OtlpTraces } from '../../scripts/lib/otlp';
import { freePort } from '../../scripts/lib/ports';
import { lineFormatter, terminalOptions } from '../../scripts/lib/terminal';
import { renderWaterfall } from '../../scripts/lib/waterfall';
import { sku001Restocker } from '../../scripts/load/restock';
import { summaryTable } from '../../scripts/load/tally';

/** A trace as the real Tempo 3.0.3 answered GET /api/v2/traces/{id} for one seed order. */
const recorded = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'tempo-trace-by-id.json'), 'utf8'),
) as { trace: OtlpTraces };
const TRACE_ID = '47d772fd594c883091de691ebe1142ed';

describe('the terminal waterfall', () => {
  const spans = decodeOtlpSpans(recorded.trace, 'base64');
  const rows = renderWaterfall(spans).split('\n');

  it('heads the rows with the trace id, span and service counts and the total duration', () => {
    assert.equal(rows[0], `trace ${TRACE_ID}: 18 spans, 6 services, 4360.2 ms`);
    assert.match(rows[1] ?? '', /^service +span +start +duration +status$/);
    assert.equal(rows.length, 2 + 18);
  });

  it('draws each span under its parent, offset from the first span, with a bar on a shared time axis', () => {
    assert.equal(
      rows[2],
      'api-gateway        orders-local-api-gateway                      0.0 ms  4360.2 ms  |████████████████████████████████████████|',
    );
    assert.equal(
      rows[4],
      'order-service          orders-local-order                     1041.0 ms  3311.4 ms  |         ██████████████████████████████ |',
    );
    assert.equal(
      rows[18],
      'fraud-service                  orders-local-fraud             4294.0 ms     7.7 ms  |                                       █|',
    );
    // Depth: a child row is indented two more than its parent (api-gateway → its client → order's invocation).
    const nameColumn = (row: string | undefined) => (row ?? '').slice(19, 19 + 45);
    assert.equal(nameColumn(rows[2]).search(/\S/), 0);
    assert.equal(nameColumn(rows[3]).search(/\S/), 2);
    assert.equal(nameColumn(rows[4]).search(/\S/), 4);
  });

  it('marks a failed span ERROR', () => {
    const failed = spans.map((span) =>
      span.name === 'orders-local-fraud' ? { ...span, statusCode: 2 } : span,
    );
    const fraudRow = renderWaterfall(failed)
      .split('\n')
      .find((row) => row.includes('orders-local-fraud'));
    assert.match(fraudRow ?? '', /\| {2}ERROR$/);
  });

  it('says so when there is nothing to draw', () => {
    assert.equal(renderWaterfall([]), '(no spans)');
  });
});

describe('the Grafana link', () => {
  it("opens the trace in Explore on the provisioned Tempo datasource's uid", () => {
    const url = new URL(traceExploreUrl(TRACE_ID, { GRAFANA_URL: 'http://grafana.test:3000/' }));
    assert.equal(url.origin + url.pathname, 'http://grafana.test:3000/explore');
    const panes = JSON.parse(url.searchParams.get('panes') ?? '{}');
    assert.deepEqual(panes.t.queries, [
      { refId: 'A', datasource: { type: 'tempo', uid: 'tempo' }, queryType: 'traceql', query: TRACE_ID },
    ]);
    const provisioned = parse(
      readFileSync(
        path.join(PROJECT_ROOT, 'observability/grafana/provisioning/datasources/datasources.yaml'),
        'utf8',
      ),
    ) as { datasources: Array<{ type: string; uid: string }> };
    for (const datasource of provisioned.datasources) {
      assert.equal(DATASOURCE_UIDS[datasource.type as keyof typeof DATASOURCE_UIDS], datasource.uid);
    }
  });

  it('targets ORDER_API_URL, else HTTP_PORT, else port 4000', () => {
    assert.equal(orderApiUrl({ ORDER_API_URL: 'http://api.test/' }), 'http://api.test');
    assert.equal(orderApiUrl({ HTTP_PORT: '4100' }), 'http://localhost:4100');
    assert.equal(orderApiUrl({}), 'http://localhost:4000');
  });
});

describe('the terminal view of npm start', () => {
  const line = JSON.stringify({
    level: 'info',
    time: '2026-11-25T11:02:01.007Z',
    service_name: 'inventory-service',
    trace_id: '756a83559b0a80cfdce24265b07e23ef',
    span_id: '2db612fabb323bac',
    item_id: 'sku001',
    msg: 'reserved 1 of sku001',
  });

  it('is pretty on a terminal and JSON when piped, and LOG_FORMAT overrides either', () => {
    assert.equal(terminalOptions({}, [], true).format, 'pretty');
    assert.equal(terminalOptions({}, [], false).format, 'json');
    assert.equal(terminalOptions({ LOG_FORMAT: 'json' }, [], true).format, 'json');
    assert.equal(terminalOptions({ LOG_FORMAT: 'pretty' }, [], false).format, 'pretty');
    assert.throws(
      () => terminalOptions({ LOG_FORMAT: 'yaml' }, [], true),
      /LOG_FORMAT must be "json" or "pretty", got "yaml"/,
    );
  });

  it('prints a function line as service, level, message, short trace id and the other fields', () => {
    const show = lineFormatter({ format: 'pretty', verbose: false, colour: false });
    assert.match(
      show(line) ?? '',
      /^\[\d\d:\d\d:01\.007\] INFO: inventory-service\| reserved 1 of sku001 trace=756a8355 \{"item_id":"sku001"\}$/,
    );
    assert.equal(lineFormatter({ format: 'json', verbose: false, colour: false })(line), line);
  });

  it("hides serverless-offline's per-invocation banners unless verbose, and keeps its errors", () => {
    const banner = '(λ: order) RequestId: d2a9  Duration: 4073.41 ms  Billed Duration: 4074 ms';
    const quiet = lineFormatter({ format: 'pretty', verbose: false, colour: false });
    assert.equal(quiet('POST /api/order (λ: apiGateway)'), undefined);
    assert.equal(quiet(banner), undefined);
    assert.equal(quiet('× Unhandled exception in handler'), '× Unhandled exception in handler');
    assert.equal(lineFormatter({ format: 'pretty', verbose: true, colour: false })(banner), banner);
    assert.equal(terminalOptions({}, ['--verbose'], true).verbose, true);
  });
});

describe('npm run load', () => {
  it('says once that it cannot restock when no DynamoDB answers at its endpoint, and carries on', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const said: string[] = [];
    const restock = sku001Restocker({ endpoint, say: (line) => said.push(line) });
    await restock();
    await restock();
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(
      String(said[0]),
      new RegExp(
        `^restock: no DynamoDB answers at ${endpoint.replaceAll('.', '\\.')} .*AWS_ENDPOINT_URL_DYNAMODB`,
      ),
    );
  });

  it('reports percentiles within 1% of the exact ones, in constant memory', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    assert.equal(histogram.count, 1000);
    for (const [p, exact] of [
      [0.5, 500],
      [0.9, 900],
      [0.99, 990],
    ] as const) {
      const reported = histogram.percentile(p);
      assert.ok(reported >= exact && reported <= exact * 1.01, `p${p * 100}: ${reported} for ${exact}`);
    }
    assert.ok(Number.isNaN(new LatencyHistogram().percentile(0.5)));
  });

  it('ends with one row per scenario and a total, counting 5xx and unanswered orders as errors', () => {
    const tally = (latencies: number[], statuses: Record<string, number>) => {
      const latency = new LatencyHistogram();
      for (const value of latencies) latency.record(value);
      return { latency, statuses: new Map(Object.entries(statuses)) };
    };
    const table = summaryTable(
      new Map([
        ['success', tally([10, 20, 30, 40], { '201': 3, '502': 1 })],
        ['fraud', tally([5, 5], { '403': 1, error: 1 })],
      ]),
      tally([5, 5, 10, 20, 30, 40], { '201': 3, '403': 1, '502': 1, error: 1 }),
      2,
    ).split('\n');
    assert.equal(rows(table[0]), 'scenario orders per s errors p50 ms p90 ms p99 ms statuses');
    assert.equal(rows(table[1]), 'success 4 2.0 1 20 40 40 201×3 502×1');
    assert.equal(rows(table[2]), 'fraud 2 1.0 1 5 5 5 403×1 error×1');
    assert.equal(rows(table[3]), 'total 6 3.0 2 10 40 40 201×3 403×1 502×1 error×1');
  });
});

/** A table row with its alignment padding collapsed. */
const rows = (line: string | undefined) => (line ?? '').replace(/ +/g, ' ');
