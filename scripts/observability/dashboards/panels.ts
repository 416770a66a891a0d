/**
 * The pieces every dashboard here is made of: the provisioned datasources (fixed uids), a query of each kind,
 * and the panel settings the dashboards share. Built with Grafana's Foundation SDK.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as tempo from '@grafana/grafana-foundation-sdk/tempo';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE_UIDS } from '../../lib/endpoints';

export const DATASOURCES = {
  prometheus: { type: 'prometheus', uid: DATASOURCE_UIDS.prometheus },
  tempo: { type: 'tempo', uid: DATASOURCE_UIDS.tempo },
  loki: { type: 'loki', uid: DATASOURCE_UIDS.loki },
} as const;

/** A PromQL query; `exemplar` asks for the trace ids Tempo's generator attached to latency points. */
export function promQuery(refId: string, expr: string, legendFormat: string, exemplar = false) {
  return new prometheus.DataqueryBuilder()
    .refId(refId)
    .datasource(DATASOURCES.prometheus)
    .expr(expr)
    .legendFormat(legendFormat)
    .exemplar(exemplar);
}

/** A TraceQL search shown as a table of traces (or of spans). */
export function traceqlQuery(query: string, tableType = tempo.SearchTableType.Traces) {
  return new tempo.DataqueryBuilder()
    .refId('A')
    .datasource(DATASOURCES.tempo)
    .queryType('traceql')
    .query(query)
    .limit(20)
    .tableType(tableType);
}

export function lokiQuery(expr: string) {
  return new loki.DataqueryBuilder().refId('A').datasource(DATASOURCES.loki).expr(expr).queryType('range');
}

/** A time series with its legend as a table on the right (last value) and a shared tooltip. */
export function timeSeries(title: string, unit: string) {
  return new timeseries.PanelBuilder()
    .title(title)
    .datasource(DATASOURCES.prometheus)
    .unit(unit)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['lastNotNull']),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi));
}

/** A dashboard of this project: browser time, editable, one crosshair across its panels. */
export function projectDashboard(title: string, uid: string, tags: string[], refresh: string, from: string) {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags(tags)
    .timezone('browser')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh(refresh)
    .time({ from, to: 'now' });
}

/** A table of the traces (or spans) a TraceQL query finds; a row opens its trace. */
export function traceTable(
  id: number,
  title: string,
  gridPos: dashboard.GridPos,
  traceql: string,
  tableType?: tempo.SearchTableType,
) {
  return new table.PanelBuilder()
    .id(id)
    .title(title)
    .datasource(DATASOURCES.tempo)
    .gridPos(gridPos)
    .withTarget(traceqlQuery(traceql, tableType));
}

/** A panel's place on the 24-column grid. */
export const at = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });
