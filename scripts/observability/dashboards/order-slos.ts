/**
 * The Order SLOs dashboard: for each SLO of the spec (observability/prometheus/slos/), the error budget left
 * in the period, the burn rate over each alert window, the alerts firing, and the failing orders in Tempo.
 * It reads the recordings the SLO rules write (slo:*), so it shows exactly what the alerts see.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import { promDuration, SLI_WINDOWS, type SloSpec } from '../slo-rules';
import { at, DATASOURCES, projectDashboard, promQuery, timeSeries, traceTable } from './panels';

/** The dashboard's uid: the alerts' `dashboard` annotation links here. */
export const ORDER_SLOS_UID = 'order-slos';

export function orderSlosDashboard(spec: SloSpec): dashboard.Dashboard {
  const service = `sloth_service="${spec.service}"`;
  const windows = SLI_WINDOWS.map(promDuration);
  const stats = (id: number, title: string, unit: string, place: dashboard.GridPos, description: string) =>
    new stat.PanelBuilder()
      .id(id)
      .title(title)
      .description(description)
      .gridPos(place)
      .datasource(DATASOURCES.prometheus)
      .unit(unit)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .colorMode(common.BigValueColorMode.Value)
      .textMode(common.BigValueTextMode.ValueAndName);
  const builder = projectDashboard('Order SLOs', ORDER_SLOS_UID, ['orders', 'slo'], '30s', 'now-6h')
    .withPanel(
      stats(
        1,
        'Error budget remaining (30 days)',
        'percentunit',
        at(0, 0, 8, 6),
        '1 − the period burn rate: below 0, the objective is missed for the period.',
      ).withTarget(promQuery('A', `slo:period_error_budget_remaining:ratio{${service}}`, '{{sloth_slo}}')),
    )
    .withPanel(
      stats(
        2,
        'SLI over the period against its objective',
        'percentunit',
        at(8, 0, 8, 6),
        'The share of good orders over 30 days, and the objective it must stay above.',
      )
        .decimals(3)
        .withTarget(promQuery('A', `1 - slo:sli_error:ratio_rate30d{${service}}`, '{{sloth_slo}}'))
        .withTarget(promQuery('B', `slo:objective:ratio{${service}}`, '{{sloth_slo}} objective')),
    )
    .withPanel(
      stats(
        3,
        'Budget alerts firing',
        'short',
        at(16, 0, 8, 6),
        'Page and ticket alerts firing now (docs/observability.md, "Runbook", says what to do).',
      )
        .decimals(0)
        .withTarget(
          promQuery(
            'A',
            `sum by (sloth_severity) (ALERTS{${service}, alertstate="firing"}) or on() vector(0)`,
            '{{sloth_severity}}',
          ),
        ),
    )
    .withPanel(
      timeSeries('Burn rate per window', 'x')
        .id(4)
        .description(
          'How fast each window spends the budget (1× spends it exactly over 30 days). A page fires at 14.4× over 1 h and 5 m, or 6× over 6 h and 30 m; a ticket at 3× over 1 d and 2 h, or 1× over 3 d and 6 h.',
        )
        .gridPos(at(0, 6, 24, 9))
        .withTarget(
          promQuery(
            'A',
            `{__name__=~"slo:sli_error:ratio_rate(${windows.join('|')})", ${service}} / on(sloth_id, sloth_slo, sloth_service) group_left() slo:error_budget:ratio{${service}}`,
            '{{sloth_slo}} {{sloth_window}}',
          ),
        ),
    )
    .withPanel(
      timeSeries('Error ratio of the order API', 'percentunit')
        .id(5)
        .description('The SLIs over the shortest window, against each SLO’s error budget.')
        .gridPos(at(0, 15, 24, 8))
        .withTarget(promQuery('A', `slo:sli_error:ratio_rate5m{${service}}`, '{{sloth_slo}}'))
        .withTarget(promQuery('B', `slo:error_budget:ratio{${service}}`, '{{sloth_slo}} budget')),
    );
  for (const [index, slo] of spec.slos.entries()) {
    // Each SLO's bad events in Tempo: the TraceQL its alerts link to (the spec's `traceql` annotation).
    const traceql = slo.alerting.annotations.traceql;
    if (!traceql) continue;
    const place = at(12 * (index % 2), 23 + 8 * Math.floor(index / 2), 12, 8);
    builder.withPanel(
      traceTable(6 + index, `Orders spending the ${slo.name} budget`, place, traceql).description(
        slo.description,
      ),
    );
  }
  return builder.build();
}
