/**
 * `npm run generate:observability`: the files Prometheus and Grafana load that are generated from code here,
 * written in place: the SLO rules (from the Sloth spec in observability/prometheus/slos/) and the dashboards
 * (built with Grafana's Foundation SDK). The static tier fails when a checked-in file differs from what this
 * generates; `--check` says which, without writing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { grafanaUrl, traceqlExploreUrl } from '../lib/endpoints';
import { orderSlosDashboard } from './dashboards/order-slos';
import { ordersDashboard } from './dashboards/orders';
import { parseSloSpec, type RuleOptions, renderRuleFile, sloRuleGroups } from './slo-rules';

export const SLO_SPEC = 'observability/prometheus/slos/orders-api.yaml';
export const SLO_RULES = 'observability/prometheus/rules/orders-api-slos.yml';

/** The links in generated files point at the Grafana docker-compose.yml publishes, whatever the shell says. */
const DEFAULT_ENV = {};

export function sloSpec() {
  return parseSloSpec(readFileSync(path.join(PROJECT_ROOT, SLO_SPEC), 'utf8'));
}

/** The SLO rules; the acceptance tier asks for a copy with its windows scaled down (see slo-rules.ts). */
export function sloRulesFile(options: Pick<RuleOptions, 'timeScale' | 'interval'> = {}): string {
  const groups = sloRuleGroups(sloSpec(), {
    ...options,
    grafanaUrl: grafanaUrl(DEFAULT_ENV),
    // The alerts look back over their long window: a day shows every failing order of a ticket alert.
    exploreUrl: (traceql) => traceqlExploreUrl(traceql, 'now-1d', DEFAULT_ENV),
  });
  return renderRuleFile(groups, SLO_SPEC);
}

const asJson = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Every generated file: its path from the project root, and what it holds. */
export function generatedFiles(): Record<string, string> {
  return {
    [SLO_RULES]: sloRulesFile(),
    'observability/grafana/dashboards/orders.json': asJson(ordersDashboard()),
    'observability/grafana/dashboards/order-slos.json': asJson(orderSlosDashboard(sloSpec())),
  };
}

/** The generated files whose checked-in copy differs from what the code generates. */
export function staleFiles(): string[] {
  return Object.entries(generatedFiles())
    .filter(([file, content]) => {
      try {
        return readFileSync(path.join(PROJECT_ROOT, file), 'utf8') !== content;
      } catch {
        return true;
      }
    })
    .map(([file]) => file);
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    for (const file of stale) console.error(`${file} differs from what scripts/observability generates`);
    process.exit(stale.length > 0 ? 1 : 0);
  }
  for (const [file, content] of Object.entries(generatedFiles())) {
    writeFileSync(path.join(PROJECT_ROOT, file), content);
    console.log(`wrote ${file}`);
  }
}
