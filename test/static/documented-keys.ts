/**
 * Configuration keys documented for the pinned versions, as trees: an object lists the keys allowed below a key,
 * `ANY` allows any value (free-form maps, scalars). Taken from the configuration references of Grafana Tempo 2.7
 * (grafana.com/docs/tempo/v2.7.x/configuration/) and Grafana Loki 3.4 (grafana.com/docs/loki/v3.4.x/configure/),
 * limited to the blocks this project uses, so a misspelt or removed key (e.g. Tempo 3.x's) fails the test.
 */
export const ANY = Symbol('any');
export type KeyTree = { [key: string]: KeyTree | typeof ANY };

const otlpProtocol: KeyTree = {
  endpoint: ANY,
  tls: ANY,
  max_recv_msg_size_mib: ANY,
  include_metadata: ANY,
  cors: ANY,
};

/** The `server` block both projects take from Grafana's dskit library. */
const DSKIT_SERVER: KeyTree = {
  http_listen_port: ANY,
  grpc_listen_port: ANY,
  log_level: ANY,
  log_format: ANY,
  http_listen_address: ANY,
  grpc_server_max_recv_msg_size: ANY,
};

export const TEMPO_2_7: KeyTree = {
  target: ANY,
  stream_over_http_enabled: ANY,
  multitenancy_enabled: ANY,
  http_api_prefix: ANY,
  server: DSKIT_SERVER,
  distributor: {
    receivers: {
      otlp: { protocols: { grpc: otlpProtocol, http: otlpProtocol } },
      jaeger: ANY,
      zipkin: ANY,
      opencensus: ANY,
      kafka: ANY,
    },
    log_received_spans: ANY,
    log_discarded_spans: ANY,
    ring: ANY,
  },
  ingester: {
    trace_idle_period: ANY,
    max_block_bytes: ANY,
    max_block_duration: ANY,
    complete_block_timeout: ANY,
    flush_check_period: ANY,
    lifecycler: ANY,
  },
  compactor: {
    ring: ANY,
    compaction: {
      block_retention: ANY,
      compacted_block_retention: ANY,
      compaction_window: ANY,
      max_block_bytes: ANY,
      max_compaction_objects: ANY,
      retention_concurrency: ANY,
    },
  },
  metrics_generator: {
    ring: ANY,
    registry: {
      external_labels: ANY,
      collection_interval: ANY,
      stale_duration: ANY,
      max_label_name_length: ANY,
      max_label_value_length: ANY,
    },
    storage: {
      path: ANY,
      wal: ANY,
      remote_write_flush_deadline: ANY,
      remote_write_add_org_id_header: ANY,
      remote_write: ANY,
    },
    traces_storage: { path: ANY },
    processor: {
      service_graphs: {
        wait: ANY,
        max_items: ANY,
        workers: ANY,
        histogram_buckets: ANY,
        dimensions: ANY,
        enable_client_server_prefix: ANY,
        enable_messaging_system_latency_histogram: ANY,
        enable_virtual_node_label: ANY,
        peer_attributes: ANY,
        span_multiplier_key: ANY,
      },
      span_metrics: {
        histogram_buckets: ANY,
        intrinsic_dimensions: ANY,
        dimensions: ANY,
        dimension_mappings: ANY,
        enable_target_info: ANY,
        filter_policies: ANY,
        span_multiplier_key: ANY,
        target_info_excluded_dimensions: ANY,
      },
      local_blocks: {
        block: ANY,
        search: ANY,
        flush_check_period: ANY,
        trace_idle_period: ANY,
        max_block_duration: ANY,
        max_block_bytes: ANY,
        complete_block_timeout: ANY,
        max_live_traces: ANY,
        filter_server_spans: ANY,
        flush_to_storage: ANY,
        concurrent_blocks: ANY,
      },
    },
    metrics_ingestion_time_range_slack: ANY,
    query_timeout: ANY,
  },
  storage: {
    trace: {
      backend: ANY,
      wal: { path: ANY, v2_encoding: ANY, search_encoding: ANY },
      local: { path: ANY },
      block: ANY,
      pool: ANY,
      search: ANY,
      s3: ANY,
      gcs: ANY,
      azure: ANY,
      blocklist_poll: ANY,
    },
  },
  overrides: {
    defaults: {
      ingestion: ANY,
      read: ANY,
      global: ANY,
      compaction: ANY,
      storage: ANY,
      forwarders: ANY,
      metrics_generator: {
        processors: ANY,
        ring_size: ANY,
        max_active_series: ANY,
        collection_interval: ANY,
        disable_collection: ANY,
        generate_native_histograms: ANY,
        processor: ANY,
      },
    },
    per_tenant_override_config: ANY,
  },
  usage_report: { reporting_enabled: ANY },
  memberlist: ANY,
  query_frontend: ANY,
  querier: ANY,
};

export const LOKI_3_4: KeyTree = {
  target: ANY,
  auth_enabled: ANY,
  server: DSKIT_SERVER,
  common: {
    instance_addr: ANY,
    path_prefix: ANY,
    storage: { filesystem: { chunks_directory: ANY, rules_directory: ANY }, s3: ANY, gcs: ANY, azure: ANY },
    replication_factor: ANY,
    ring: { kvstore: { store: ANY }, instance_addr: ANY },
    compactor_address: ANY,
  },
  schema_config: ANY,
  storage_config: ANY,
  limits_config: {
    allow_structured_metadata: ANY,
    volume_enabled: ANY,
    retention_period: ANY,
    reject_old_samples: ANY,
    reject_old_samples_max_age: ANY,
    ingestion_rate_mb: ANY,
    ingestion_burst_size_mb: ANY,
    max_structured_metadata_size: ANY,
    discover_log_levels: ANY,
    discover_service_name: ANY,
  },
  compactor: {
    working_directory: ANY,
    retention_enabled: ANY,
    retention_delete_delay: ANY,
    compaction_interval: ANY,
    delete_request_store: ANY,
  },
  ruler: ANY,
  query_range: ANY,
  pattern_ingester: ANY,
  frontend: ANY,
  ingester: ANY,
  analytics: { reporting_enabled: ANY },
};

/** Paths in `config` that the tree does not document, e.g. "metrics_generator.processor.span_metric". */
export function undocumentedKeys(config: unknown, tree: KeyTree, prefix = ''): string[] {
  if (config === null || typeof config !== 'object') return [];
  if (Array.isArray(config))
    return config.flatMap((item, index) => undocumentedKeys(item, tree, `${prefix}[${index}]`));
  return Object.entries(config).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const allowed = tree[key];
    if (allowed === undefined) return [path];
    if (allowed === ANY) return [];
    return undocumentedKeys(value, allowed, path);
  });
}
