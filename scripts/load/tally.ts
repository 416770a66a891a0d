/** What `npm run load` counts per scenario: statuses and a latency histogram; the live line and the table. */
import { LatencyHistogram } from '../lib/latency';

export interface Tally {
  latency: LatencyHistogram;
  statuses: Map<string, number>;
}

export const newTally = (): Tally => ({ latency: new LatencyHistogram(), statuses: new Map() });
/** A 5xx or no answer at all; a 4xx is a scenario's expected refusal (out of stock, unknown item, fraud). */
const isError = (status: string) => status === 'error' || status.startsWith('5');
export const errorsOf = (tally: Tally) =>
  [...tally.statuses].reduce((sum, [status, count]) => sum + (isError(status) ? count : 0), 0);
export const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(0));

/** The end-of-run table: one row per scenario and a total, with statuses and latency percentiles. */
export function summaryTable(byScenario: Map<string, Tally>, total: Tally, seconds: number): string {
  const rows = [...byScenario].map(([name, tally]) => [name, tally] as const).concat([['total', total]]);
  const header = ['scenario', 'orders', 'per s', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'statuses'];
  const cells = rows.map(([name, tally]) => [
    name,
    String(tally.latency.count),
    (tally.latency.count / seconds).toFixed(1),
    String(errorsOf(tally)),
    ms(tally.latency.percentile(0.5)),
    ms(tally.latency.percentile(0.9)),
    ms(tally.latency.percentile(0.99)),
    [...tally.statuses]
      .sort()
      .map(([status, count]) => `${status}×${count}`)
      .join(' '),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 || column === row.length - 1
          ? cell.padEnd(widths[column] ?? 0)
          : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [format(header), ...cells.map(format)].join('\n');
}
