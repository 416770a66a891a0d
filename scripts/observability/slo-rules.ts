/**
 * Prometheus rules from an SLO spec in Sloth's format (prometheus/v1), in the layout Sloth generates: per SLO
 * a group of SLI recordings (the error ratio over each window), a group of meta recordings (objective,
 * budget, burn rates, budget remaining) and a group of multiwindow, multi-burn-rate alerts on the Google SRE
 * Workbook's windows for a 30-day period, as Sloth's defaults use them. A team that runs Sloth recognises
 * every rule name and label; this project generates them itself so that the rules, their tests and the
 * dashboards share one spec and no binary.
 *
 * `timeScale` gives the acceptance tier a copy whose windows are shorter by that factor. The rules keep their
 * names and the alerts stay identical: only the ranges the recordings read change.
 */
import { parse, stringify } from 'yaml';
import * as z from 'zod';

const specSchema = z.strictObject({
  version: z.literal('prometheus/v1'),
  service: z.string().regex(/^[\w-]+$/),
  labels: z.record(z.string(), z.string()).default({}),
  slos: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[\w-]+$/),
        objective: z.number().gt(0).lt(100),
        description: z.string(),
        sli: z.strictObject({
          events: z.strictObject({
            error_query: z.string().includes('[{{.window}}]'),
            total_query: z.string().includes('[{{.window}}]'),
          }),
        }),
        alerting: z.strictObject({
          name: z.string().regex(/^[A-Za-z]\w*$/),
          labels: z.record(z.string(), z.string()).default({}),
          annotations: z.record(z.string(), z.string()).default({}),
          page_alert: z.strictObject({ labels: z.record(z.string(), z.string()).default({}) }),
          ticket_alert: z.strictObject({ labels: z.record(z.string(), z.string()).default({}) }),
        }),
      }),
    )
    .min(1),
});
export type SloSpec = z.output<typeof specSchema>;
type Slo = SloSpec['slos'][number];

/** Reads and checks a spec; a mistake names the field. */
export function parseSloSpec(text: string): SloSpec {
  const result = specSchema.safeParse(parse(text));
  if (!result.success) {
    throw new Error(
      `SLO spec: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  return result.data;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The period the objectives hold over. */
const PERIOD = 30 * DAY;

/**
 * The Workbook's alert windows for a 30-day period (Sloth's defaults): each alert fires when the error
 * ratio over both its short and its long window exceeds `factor` times the budget.
 */
export const ALERT_WINDOWS = {
  page: [
    { short: 5 * MINUTE, long: HOUR, factor: 14.4 },
    { short: 30 * MINUTE, long: 6 * HOUR, factor: 6 },
  ],
  ticket: [
    { short: 2 * HOUR, long: DAY, factor: 3 },
    { short: 6 * HOUR, long: 3 * DAY, factor: 1 },
  ],
} as const;

/**
 * How far behind the newest samples every SLI reads, in seconds. Tempo delivers its span metrics in bursts,
 * the newest up to about 16 s old (measured: the api-gateway series' newest sample, polled every 0.5 s), and a
 * burst is several remote-write requests. Until the last of them lands, Prometheus can hold a collection's
 * `_count` without its `_bucket` (or the total without the errors): read at that instant, the difference is an
 * error ratio no order had, and one evaluation fires an alert with no `for`. Read 30 s back, every series has
 * its samples. (Prometheus's `query_offset` says the same per group, but promtool 2.42, which CI lints with,
 * rejects it.) Alerts fire 30 s later; a burn-rate window is minutes.
 */
export const SLI_READ_DELAY = 30;

/** The SLI windows Sloth records: every alert window. */
export const SLI_WINDOWS = [
  ...new Set(Object.values(ALERT_WINDOWS).flatMap((pair) => pair.flatMap((w) => [w.short, w.long]))),
].sort((a, b) => a - b);

/** Seconds as a Prometheus duration: 300 → "5m", 8640 → "2h24m". */
export function promDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new Error(`not a whole number of seconds: ${seconds}`);
  const units: Array<[string, number]> = [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', 1],
  ];
  let rest = seconds;
  let text = '';
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}

/** 99.5 → 0.005, without the float noise of 1 - 0.995. */
const budgetOf = (objective: number) => Number((1 - objective / 100).toPrecision(12));
const ratioOf = (objective: number) => Number((objective / 100).toPrecision(12));

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export interface RuleOptions {
  /** Every window divided by this (the acceptance tier's copy); 1 for the real rules. */
  timeScale?: number;
  /** How often the groups are evaluated, when not Prometheus's global evaluation_interval. */
  interval?: string;
  /** Grafana, for the links in the alerts' annotations. */
  grafanaUrl: string;
  /** A Grafana Explore link running a TraceQL query: an alert's `traceql` annotation becomes one (`traces`). */
  exploreUrl: (traceql: string) => string;
}

/** The rule groups of every SLO in the spec. */
export function sloRuleGroups(spec: SloSpec, options: RuleOptions): RuleGroup[] {
  return spec.slos.flatMap((slo) => groupsOf(spec, slo, options));
}

function groupsOf(
  spec: SloSpec,
  slo: Slo,
  { timeScale = 1, interval, grafanaUrl, exploreUrl }: RuleOptions,
): RuleGroup[] {
  const id = `${spec.service}-${slo.name}`;
  const ids = { sloth_id: id, sloth_service: spec.service, sloth_slo: slo.name };
  const selector = `{${Object.entries(ids)
    .map(([name, value]) => `${name}="${value}"`)
    .join(', ')}}`;
  const scaled = (seconds: number) => {
    if (seconds % timeScale !== 0)
      throw new Error(`${promDuration(seconds)} does not divide by ${timeScale}`);
    return promDuration(seconds / timeScale);
  };
  const every = interval ? { interval } : {};
  const budget = budgetOf(slo.objective);
  const base = { ...spec.labels, ...ids };

  const over = (query: string, window: number) =>
    query.replaceAll('[{{.window}}]', `[${scaled(window)}] offset ${promDuration(SLI_READ_DELAY)}`);
  const sliRecordings: Rule[] = SLI_WINDOWS.map((window) => ({
    record: `slo:sli_error:ratio_rate${promDuration(window)}`,
    expr: `(${over(slo.sli.events.error_query, window)})\n/\n(${over(slo.sli.events.total_query, window)})\n`,
    labels: { ...base, sloth_window: promDuration(window) },
  }));
  const shortest = promDuration(SLI_WINDOWS[0] as number);
  sliRecordings.push({
    record: `slo:sli_error:ratio_rate${promDuration(PERIOD)}`,
    expr:
      `sum_over_time(slo:sli_error:ratio_rate${shortest}${selector}[${scaled(PERIOD)}])\n` +
      `/ ignoring (sloth_window)\n` +
      `count_over_time(slo:sli_error:ratio_rate${shortest}${selector}[${scaled(PERIOD)}])\n`,
    labels: { ...base, sloth_window: promDuration(PERIOD) },
  });

  const perSlo = `/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio${selector}\n`;
  const metaRecordings: Rule[] = [
    { record: 'slo:objective:ratio', expr: `vector(${ratioOf(slo.objective)})`, labels: base },
    { record: 'slo:error_budget:ratio', expr: `vector(${budget})`, labels: base },
    { record: 'slo:time_period:days', expr: `vector(${PERIOD / DAY})`, labels: base },
    {
      record: 'slo:current_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate${shortest}${selector}\n${perSlo}`,
      labels: base,
    },
    {
      record: 'slo:period_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate${promDuration(PERIOD)}${selector}\n${perSlo}`,
      labels: base,
    },
    {
      record: 'slo:period_error_budget_remaining:ratio',
      expr: `1 - slo:period_burn_rate:ratio${selector}`,
      labels: base,
    },
    {
      record: 'sloth_slo_info',
      expr: 'vector(1)',
      labels: {
        ...base,
        sloth_mode: 'cli-gen-prom',
        sloth_spec: spec.version,
        sloth_objective: String(slo.objective),
      },
    },
  ];

  const { traceql, ...annotations } = slo.alerting.annotations;
  const links = {
    dashboard: `${grafanaUrl}/d/order-slos`,
    ...(traceql ? { traces: exploreUrl(traceql) } : {}),
    runbook: `docs/observability.md#${slo.alerting.name.toLowerCase()}`,
  };
  const alert = (severity: keyof typeof ALERT_WINDOWS, labels: Record<string, string>): Rule => {
    const condition = (window: number, factor: number) =>
      `max(slo:sli_error:ratio_rate${promDuration(window)}${selector} > (${factor} * ${budget})) without (sloth_window)`;
    const pairs = ALERT_WINDOWS[severity].map(
      ({ short, long, factor }) =>
        `(\n    ${condition(short, factor)}\n    and\n    ${condition(long, factor)}\n)`,
    );
    return {
      alert: slo.alerting.name,
      expr: `${pairs.join('\nor\n')}\n`,
      labels: { ...slo.alerting.labels, ...labels, sloth_severity: severity },
      annotations: {
        ...annotations,
        title: `(${severity}) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.`,
        ...links,
      },
    };
  };

  return [
    { name: `sloth-slo-sli-recordings-${id}`, ...every, rules: sliRecordings },
    { name: `sloth-slo-meta-recordings-${id}`, ...every, rules: metaRecordings },
    {
      name: `sloth-slo-alerts-${id}`,
      ...every,
      rules: [
        alert('page', slo.alerting.page_alert.labels),
        alert('ticket', slo.alerting.ticket_alert.labels),
      ],
    },
  ];
}

/** The rules file, as Prometheus loads it. */
export function renderRuleFile(groups: RuleGroup[], source: string): string {
  const header =
    `# Generated from ${source} by \`npm run generate:observability\` (scripts/observability): do not edit.\n` +
    '# The layout is the one Sloth (https://sloth.dev) generates for a prometheus/v1 spec.\n';
  return `${header}${stringify({ groups }, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
