/**
 * The Orders dashboard: rate, errors and latency per function from Tempo's span metrics, order outcomes,
 * the service graph, recent, failed and recovered orders in Tempo, and the functions' logs in Loki.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as nodegraph from '@grafana/grafana-foundation-sdk/nodegraph';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as tempo from '@grafana/grafana-foundation-sdk/tempo';
import { at, DATASOURCES, lokiQuery, projectDashboard, promQuery, timeSeries, traceTable } from './panels';

const SERVER = 'span_kind="SPAN_KIND_SERVER"';
const ORDERS = `service="api-gateway", ${SERVER}, order_status!=""`;
const latency = (quantile: number, refId: string) =>
  promQuery(
    refId,
    `histogram_quantile(${quantile}, sum by (le, service) (rate(traces_spanmetrics_latency_bucket{${SERVER}}[$__rate_interval])))`,
    `p${quantile * 100} {{service}}`,
    true,
  );

export function ordersDashboard(): dashboard.Dashboard {
  return projectDashboard('Orders', 'orders', ['orders', 'tempo', 'loki'], '10s', 'now-30m')
    .withPanel(
      timeSeries('Request rate per function', 'reqps')
        .id(1)
        .description("Invocations per second of each function's SERVER span (Tempo span metrics).")
        .gridPos(at(0, 0, 12, 8))
        .withTarget(
          promQuery(
            'A',
            `sum by (service) (rate(traces_spanmetrics_calls_total{${SERVER}}[$__rate_interval]))`,
            '{{service}}',
          ),
        ),
    )
    .withPanel(
      timeSeries('Error rate per function', 'percentunit')
        .id(2)
        .description('Share of invocations whose SERVER span is an error (a 5xx).')
        .gridPos(at(12, 0, 12, 8))
        .withTarget(
          promQuery(
            'A',
            `sum by (service) (rate(traces_spanmetrics_calls_total{${SERVER}, status_code="STATUS_CODE_ERROR"}[$__rate_interval])) / sum by (service) (rate(traces_spanmetrics_calls_total{${SERVER}}[$__rate_interval]))`,
            '{{service}}',
          ),
        ),
    )
    .withPanel(
      timeSeries('Latency p50 / p90 / p99 per function (with exemplars)', 's')
        .id(3)
        .description('Click an exemplar (a diamond) to open an example trace in Tempo.')
        .gridPos(at(0, 8, 24, 9))
        .withTarget(latency(0.5, 'A'))
        .withTarget(latency(0.9, 'B'))
        .withTarget(latency(0.99, 'C')),
    )
    .withPanel(
      timeSeries('Order outcomes', 'reqps')
        .id(4)
        .description('Orders per second by outcome: success, or failed with its category.')
        .gridPos(at(0, 17, 12, 8))
        .withTarget(
          promQuery(
            'A',
            `sum by (order_status, order_failure_category) (rate(traces_spanmetrics_calls_total{${ORDERS}}[$__rate_interval]))`,
            '{{order_status}} {{order_failure_category}}',
          ),
        ),
    )
    .withPanel(
      new stat.PanelBuilder()
        .id(5)
        .title('Orders in range by outcome')
        .datasource(DATASOURCES.prometheus)
        .gridPos(at(12, 17, 12, 8))
        .unit('short')
        .decimals(0)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
        .colorMode(common.BigValueColorMode.Background)
        .textMode(common.BigValueTextMode.ValueAndName)
        .withTarget(
          promQuery(
            'A',
            `sum by (order_status) (increase(traces_spanmetrics_calls_total{${ORDERS}}[$__range]))`,
            '{{order_status}}',
          ),
        ),
    )
    .withPanel(
      new nodegraph.PanelBuilder()
        .id(6)
        .title('Service graph')
        .description('api-gateway → order → inventory → warehouse, order → payment → fraud, and DynamoDB.')
        .datasource(DATASOURCES.tempo)
        .gridPos(at(0, 25, 24, 12))
        .withTarget(
          new tempo.DataqueryBuilder().refId('A').datasource(DATASOURCES.tempo).queryType('serviceMap'),
        ),
    )
    .withPanel(
      traceTable(
        7,
        'Recent orders',
        at(0, 37, 12, 10),
        '{ resource.service.name = "api-gateway" && kind = server }',
      ),
    )
    .withPanel(traceTable(8, 'Failed orders', at(12, 37, 12, 10), '{ span.order.status = "failed" }'))
    .withPanel(
      traceTable(
        10,
        'Recovered orders',
        at(0, 47, 24, 10),
        '{ name = "reaper.recover" && span.reaper.outcome = "recovered" }',
        tempo.SearchTableType.Spans,
      ).description(
        "Orders whose function died mid-saga, rescued by the reaper. Each recovery span links to the order's own trace.",
      ),
    )
    .withPanel(
      new logs.PanelBuilder()
        .id(9)
        .title('Function logs')
        .description('Expand a line and use "Open trace in Tempo".')
        .datasource(DATASOURCES.loki)
        .gridPos(at(0, 57, 24, 12))
        .showTime(true)
        .wrapLogMessage(true)
        .sortOrder(common.LogsSortOrder.Descending)
        .enableLogDetails(true)
        .prettifyLogMessage(false)
        .withTarget(lokiQuery('{service_name=~".+"}')),
    )
    .build();
}
