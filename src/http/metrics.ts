/**
 * Prometheus metrics: walcast's own, one series per connector (label `connector`, its name), and
 * Node's default process metrics. Values are read from the connectors at each scrape: the
 * pipeline only bumps plain counters in its stats (connector.ts), never the metrics library.
 * docs/grafana-dashboard.json and docs/prometheus-alerts.yml use these names (a unit test checks).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectorStatus, ManagedConnector } from '../connector.ts';
import { ROW_OPS } from '../stats/table-events.ts';
import { histogramMetric, type Sample } from './histogram-metric.ts';
import { registerSinkMetrics } from './sink-metrics.ts';


interface MetricDefinition {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  /** null: no series for this connector (not known yet). */
  value: (status: ConnectorStatus) => number | null;
}

const METRICS: readonly MetricDefinition[] = [
  { kind: 'counter', name: 'walcast_events_total', help: 'Change events committed to Kafka', value: (s) => s.stats?.eventsSent ?? 0 },
  {
    kind: 'counter',
    name: 'walcast_dead_letter_records_total',
    help: 'Rows and messages sent to the dead-letter topic instead of their change topic (WALCAST_ERRORS_TOLERANCE=all), committed',
    value: (s) => s.stats?.deadLettered ?? 0,
  },
  { kind: 'counter', name: 'walcast_source_transactions_total', help: 'PostgreSQL transactions delivered to Kafka', value: (s) => s.stats?.transactionsDelivered ?? 0 },
  { kind: 'counter', name: 'walcast_kafka_transactions_total', help: 'Kafka transactions committed', value: (s) => s.stats?.kafkaCommits ?? 0 },
  { kind: 'gauge', name: 'walcast_acknowledged_lsn', help: 'LSN acknowledged to the replication slot (bytes)', value: (s) => Number(s.stats?.ackedLsn ?? 0n) },
  { kind: 'gauge', name: 'walcast_received_lsn', help: 'Highest LSN received from PostgreSQL (bytes)', value: (s) => Number(s.stats?.receivedLsn ?? 0n) },
  { kind: 'gauge', name: 'walcast_buffered_messages', help: 'Replication messages received and not yet processed', value: (s) => s.stats?.bufferedMessages ?? 0 },
  { kind: 'gauge', name: 'walcast_replication_paused', help: '1 while the replication stream is paused by backpressure', value: (s) => (s.stats?.paused ? 1 : 0) },
  {
    kind: 'gauge',
    name: 'walcast_last_source_commit_timestamp_seconds',
    help: 'Commit time of the last PostgreSQL transaction delivered to Kafka',
    value: (s) => (s.stats?.lastCommitTimeMicros ? Number(s.stats.lastCommitTimeMicros) / 1e6 : 0),
  },
  { kind: 'gauge', name: 'walcast_up', help: '1 while streaming', value: (s) => (s.state === 'running' ? 1 : 0) },
  { kind: 'gauge', name: 'walcast_standby', help: '1 while waiting for the replication slot another instance holds', value: (s) => (s.state === 'waiting' ? 1 : 0) },
  {
    kind: 'gauge',
    name: 'walcast_publication_excluded_tables',
    help: 'Tables the include list selects that walcast left out of its publication because PostgreSQL would then reject their UPDATEs and DELETEs',
    value: (s) => s.stats?.excludedTables.length ?? null,
  },
  {
    kind: 'gauge',
    name: 'walcast_slot_retained_wal_bytes',
    help: 'WAL the replication slot makes PostgreSQL keep: pg_current_wal_lsn() - restart_lsn, in bytes',
    value: (s) => s.stats?.retainedWalBytes ?? null,
  },
  {
    kind: 'gauge',
    name: 'walcast_retained_wal_warn_bytes',
    help: 'WALCAST_RETAINED_WAL_WARN_BYTES: above it walcast logs a warning (0: never)',
    value: (s) => (s.stats ? s.stats.retainedWalWarnBytes : null),
  },
  {
    kind: 'gauge',
    name: 'walcast_milliseconds_behind_source',
    help: 'Between the source commit of the last delivered transaction and its Kafka commit',
    value: (s) => s.stats?.millisBehindSource ?? null,
  },
  {
    kind: 'gauge',
    name: 'walcast_seconds_since_last_event',
    help: 'Since the last Kafka transaction that carried events committed (before the first, since streaming began)',
    value: (s) => (s.stats?.lastEventAt ? (Date.now() - s.stats.lastEventAt) / 1000 : null),
  },
  {
    kind: 'gauge',
    name: 'walcast_publication_unwritable_tables',
    help: 'Tables and partitions whose UPDATEs and DELETEs PostgreSQL rejects because the publication lists them without a replica identity',
    value: (s) => s.stats?.unwritableTables.length ?? null,
  },
  { kind: 'counter', name: 'walcast_restarts_total', help: 'Streaming sessions restarted after a transient fault', value: (s) => s.restarts },
];

export interface Metrics {
  readonly contentType: string;
  /** The Prometheus text exposition of every metric, read now. */
  render(): Promise<string>;
}

export function createMetrics(connectors: () => readonly ManagedConnector[]): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'walcast_' });
  // Each connector's status is read once per scrape; every metric reports from that one reading.
  let samples: readonly Sample[] = [];
  for (const metric of METRICS) {
    const common = { name: metric.name, help: metric.help, labelNames: ['connector'] as const, registers: [registry] };
    if (metric.kind === 'counter') {
      new Counter({
        ...common,
        collect() {
          this.reset();
          for (const sample of samples) {
            const value = metric.value(sample.status);
            if (value !== null) this.inc({ connector: sample.connector }, value);
          }
        },
      });
    } else {
      new Gauge({
        ...common,
        collect() {
          this.reset();
          for (const sample of samples) {
            const value = metric.value(sample.status);
            if (value !== null) this.set({ connector: sample.connector }, value);
          }
        },
      });
    }
  }
  new Counter({
    name: 'walcast_table_events_total',
    help: 'Row changes committed to Kafka, by table (schema.table) and operation (c, u, d, t; r for snapshot reads)',
    labelNames: ['connector', 'table', 'op'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { connector, status } of samples) {
        for (const counts of status.stats?.tableEvents.all() ?? []) {
          for (const op of ROW_OPS) if (counts.committed[op] > 0) this.inc({ connector, table: counts.table, op }, counts.committed[op]);
        }
      }
    },
  });
  registry.registerMetric(histogramMetric(COMMIT_LATENCY, 'Time of each Kafka transaction commit: the last chunk, the offset record and EndTxn', () => samples, (s) => s.stats?.kafkaCommitLatency ?? null));
  registerSinkMetrics(registry, () => samples);
  return {
    contentType: registry.contentType,
    render(): Promise<string> {
      samples = connectors().map((c) => ({ connector: c.name, status: c.status() }));
      return registry.metrics();
    },
  };
}

const COMMIT_LATENCY = 'walcast_kafka_commit_seconds';
