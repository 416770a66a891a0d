import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { SLO_RULES, sloRulesFile, staleFiles } from '../../scripts/observability/generate';
import { parseSloSpec, promDuration, SLI_READ_DELAY } from '../../scripts/observability/slo-rules';
import { skipPromtool } from '../support/promtool';

if (skipPromtool) console.log(`# skipped the promtool rule checks: ${skipPromtool}`);

const scratch = mkdtempSync(path.join(tmpdir(), 'slo-rules-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ORDER =
  'service="api-gateway", span_kind="SPAN_KIND_SERVER", http_request_method="POST", http_route="/api/order"';
const calls = (labels: string) => `traces_spanmetrics_calls_total{${ORDER}, ${labels}}`;

/**
 * A counter in promtool's expanding notation, one sample a minute: `[[minutes, increase per minute], …]`,
 * each segment continuing from where the one before ended.
 */
function counter(segments: Array<[number, number]>): string {
  let value = 0;
  return segments
    .map(([minutes, perMinute], index) => {
      const start = index === 0 ? 0 : value + perMinute;
      const steps = index === 0 ? minutes : minutes - 1;
      value = start + perMinute * steps;
      return `${start}+${perMinute}x${steps}`;
    })
    .join(' ');
}

/** The labels and annotations the generated rules give an SLO's alert of one severity. */
function alertOf(name: string, severity: 'page' | 'ticket') {
  const groups = (parse(sloRulesFile()) as { groups: Array<{ rules: Array<Record<string, unknown>> }> })
    .groups;
  const rule = groups
    .flatMap((group) => group.rules)
    .find((candidate) => {
      const labels = candidate.labels as Record<string, string> | undefined;
      return candidate.alert === name && labels?.sloth_severity === severity;
    });
  if (!rule) throw new Error(`no ${severity} alert ${name}`);
  const slo = name === 'OrderAvailabilityBudgetBurn' ? 'order-availability' : 'order-latency';
  return {
    exp_labels: {
      ...(rule.labels as Record<string, string>),
      owner: 'orders',
      sloth_id: `orders-api-${slo}`,
      sloth_service: 'orders-api',
      sloth_slo: slo,
    },
    // promtool compares the annotations as Prometheus sends them: templates expanded.
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations as Record<string, string>).map(([key, value]) => [
        key,
        value.replaceAll('{{$labels.sloth_service}}', 'orders-api').replaceAll('{{$labels.sloth_slo}}', slo),
      ]),
    ),
  };
}

const DAYS_3 = 3 * 24 * 60;
const AVAILABILITY = 'OrderAvailabilityBudgetBurn';
const LATENCY = 'OrderLatencyBudgetBurn';

/** The scenarios: what the order API did, minute by minute, and which alerts that fires when. */
const SCENARIOS = [
  {
    name: 'a steady 0.1% of 5xx fires nothing',
    series: {
      [calls('status_code="STATUS_CODE_UNSET"')]: counter([[DAYS_3 + 60, 999]]),
      [calls('status_code="STATUS_CODE_ERROR"')]: counter([[DAYS_3 + 60, 1]]),
    },
    checks: ['1h', '6h', '1d', '3d', '3d1h'].map((at) => ({ at, alerts: { [AVAILABILITY]: [] } })),
  },
  {
    // Three quiet days, then 30 minutes of 20% errors, then quiet again.
    name: 'a 20% burst of 5xx pages within the burst, and the page resolves once it ends',
    series: {
      [calls('status_code="STATUS_CODE_UNSET"')]: counter([
        [DAYS_3, 999],
        [30, 800],
        [60, 999],
      ]),
      [calls('status_code="STATUS_CODE_ERROR"')]: counter([
        [DAYS_3, 1],
        [30, 200],
        [60, 1],
      ]),
    },
    checks: [
      { at: '72h', alerts: { [AVAILABILITY]: [] } },
      // 25 minutes in: the 1 h window has passed 14.4× the budget (7.2%), the 5 m window long before.
      { at: '72h26m', alerts: { [AVAILABILITY]: [alertOf(AVAILABILITY, 'page')] } },
      // 10 minutes after: the 5 m window is back to 0.1%; 6 h still holds under 6× (3%).
      { at: '72h40m', alerts: { [AVAILABILITY]: [] } },
    ],
  },
  {
    name: 'a slow leak of 1% 5xx raises a ticket, never a page',
    series: {
      [calls('status_code="STATUS_CODE_UNSET"')]: counter([[DAYS_3, 990]]),
      [calls('status_code="STATUS_CODE_ERROR"')]: counter([[DAYS_3, 10]]),
    },
    checks: ['7h', '1d', '3d'].map((at) => ({
      at,
      alerts: { [AVAILABILITY]: [alertOf(AVAILABILITY, 'ticket')] },
    })),
  },
  {
    name: 'a storm of 4xx (sold out, bad input) fires nothing: the client caused it',
    series: {
      [calls('status_code="STATUS_CODE_UNSET", http_response_status_code="201"')]: counter([[180, 100]]),
      [calls('status_code="STATUS_CODE_UNSET", http_response_status_code="409"')]: counter([[180, 5000]]),
      [calls('status_code="STATUS_CODE_UNSET", http_response_status_code="400"')]: counter([[180, 2000]]),
    },
    checks: ['30m', '1h', '3h'].map((at) => ({ at, alerts: { [AVAILABILITY]: [] } })),
  },
  {
    name: 'orders slower than 1 s for half the traffic page on the latency SLO',
    series: {
      [`traces_spanmetrics_latency_count{${ORDER}}`]: counter([
        [DAYS_3, 1000],
        [30, 1000],
      ]),
      [`traces_spanmetrics_latency_bucket{${ORDER}, le="1"}`]: counter([
        [DAYS_3, 1000],
        [30, 500],
      ]),
    },
    checks: [
      { at: '72h', alerts: { [LATENCY]: [] } },
      { at: '72h20m', alerts: { [LATENCY]: [alertOf(LATENCY, 'page')] } },
    ],
  },
  {
    // Traffic starting, and the newest collection's `_count` landed before its `_bucket` (Tempo's burst split
    // across remote-write requests). Read at the newest sample, 38 of 40 orders would look slower than 1 s.
    name: "a histogram's count arriving before its buckets fires nothing",
    series: {
      [`traces_spanmetrics_latency_count{${ORDER}}`]: '0 1 2 40',
      [`traces_spanmetrics_latency_bucket{${ORDER}, le="1"}`]: '0 1 2 _',
    },
    checks: [{ at: '3m', alerts: { [LATENCY]: [] } }],
  },
];

describe('the SLO rules (observability/prometheus/rules)', () => {
  it('are what scripts/observability generates from the spec, and so are the dashboards', () => {
    assert.deepEqual(staleFiles(), [], 'run `npm run generate:observability` and commit the result');
  });

  it('pass `promtool check rules`', { skip: skipPromtool }, () => {
    const output = execFileSync('promtool', ['check', 'rules', SLO_RULES], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
    // Per SLO: 8 SLI recordings, 7 meta recordings, a page and a ticket alert.
    assert.match(output, /SUCCESS: 34 rules found/);
  });

  // Each scenario is a promtool run of its own (three days of one-minute samples take ~15 s): side by side.
  describe('pass `promtool test rules`', { concurrency: true }, () => {
    for (const scenario of SCENARIOS) {
      it(scenario.name, { skip: skipPromtool }, async () => {
        const file = path.join(scratch, `${scenario.name.replace(/\W+/g, '-')}.yml`);
        const test = {
          rule_files: [path.join(PROJECT_ROOT, SLO_RULES)],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: Object.entries(scenario.series).map(([series, values]) => ({ series, values })),
              alert_rule_test: scenario.checks.flatMap(({ at, alerts }) =>
                Object.entries(alerts).map(([alertname, exp_alerts]) => ({
                  eval_time: at,
                  alertname,
                  exp_alerts,
                })),
              ),
            },
          ],
        };
        writeFileSync(file, stringify(test, { lineWidth: 0, aliasDuplicateObjects: false }));
        const { stdout } = await promisify(execFile)('promtool', ['test', 'rules', file], {
          encoding: 'utf8',
        });
        assert.match(stdout, /SUCCESS/);
      });
    }
  });

  it('reads the spec strictly, naming a wrong field', () => {
    assert.throws(
      () => parseSloSpec('version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 120\n'),
      /slos\.0\.objective/,
    );
  });

  it('writes Prometheus durations as Sloth names its windows', () => {
    assert.deepEqual([300, 3600, 86_400, 259_200, 2_592_000, 8640, 10].map(promDuration), [
      '5m',
      '1h',
      '1d',
      '3d',
      '30d',
      '2h24m',
      '10s',
    ]);
  });

  it('scales only the windows the recordings read: the scaled copy has the same alerts', () => {
    type Group = { name: string; rules: Array<{ alert?: string; record?: string; expr: string }> };
    const real = (parse(sloRulesFile()) as { groups: Group[] }).groups;
    const scaled = (parse(sloRulesFile({ timeScale: 12, interval: '2s' })) as { groups: Group[] }).groups;
    const alerts = (groups: Group[]) => groups.flatMap((group) => group.rules.filter((rule) => rule.alert));
    assert.deepEqual(alerts(scaled), alerts(real));
    const availability5m = (groups: Group[]) => groups[0]?.rules[0]?.expr ?? '';
    assert.match(availability5m(real), /\[5m\]/);
    assert.match(availability5m(scaled), /\[25s\]/);
    assert.doesNotMatch(availability5m(scaled), /\[5m\]/);
    // How late Tempo's samples land does not shrink with the windows.
    assert.match(availability5m(scaled), new RegExp(`offset ${promDuration(SLI_READ_DELAY)}`));
  });
});
