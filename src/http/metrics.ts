/**
 * Prometheus metrics: walcast's own, one series per connector (label `connector`, its name), and
 * Node's default process metrics. Values are read from the connectors at each scrape.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectorStatus, ManagedConnector } from '../connector.ts';

interface Sample {
  connector: string;
  status: ConnectorStatus;
}

interface MetricDefinition {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  value: (status: ConnectorStatus) => number;
}

const METRICS: readonly MetricDefinition[] = [
  { kind: 'counter', name: 'walcast_events_total', help: 'Change events committed to Kafka', value: (s) => s.stats?.eventsSent ?? 0 },
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
    value: (s) => s.stats?.excludedTables.length ?? 0,
  },
  {
    kind: 'gauge',
    name: 'walcast_publication_unwritable_tables',
    help: 'Tables and partitions whose UPDATEs and DELETEs PostgreSQL rejects because the publication lists them without a replica identity',
    value: (s) => s.stats?.unwritableTables.length ?? 0,
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
          for (const sample of samples) this.inc({ connector: sample.connector }, metric.value(sample.status));
        },
      });
    } else {
      new Gauge({
        ...common,
        collect() {
          this.reset();
          for (const sample of samples) this.set({ connector: sample.connector }, metric.value(sample.status));
        },
      });
    }
  }
  return {
    contentType: registry.contentType,
    render(): Promise<string> {
      samples = connectors().map((c) => ({ connector: c.name, status: c.status() }));
      return registry.metrics();
    },
  };
}
