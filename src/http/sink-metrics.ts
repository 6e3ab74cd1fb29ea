/**
 * The sink's Prometheus metrics (label `connector`: the consumer group), read from its SinkStats
 * at each scrape like the source's (metrics.ts): changes applied by target table and operation,
 * rows written, batches, fenced batches, lag in records and behind the source, and histograms of
 * apply latency and batch size.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SinkStats } from '../sink/stats.ts';
import { ROW_OPS } from '../stats/table-events.ts';
import { histogramMetric, type Sample } from './histogram-metric.ts';

interface SinkMetric {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  value: (stats: SinkStats) => number | null;
}

const SINK_METRICS: readonly SinkMetric[] = [
  { kind: 'counter', name: 'walcast_sink_rows_written_total', help: 'Rows the sink wrote to target tables after folding (one per key and batch), committed', value: (s) => s.rowsWritten },
  { kind: 'counter', name: 'walcast_sink_batches_total', help: 'Batches (PostgreSQL transactions) the sink committed', value: (s) => s.batches },
  { kind: 'counter', name: 'walcast_sink_records_total', help: 'Kafka records the sink consumed, tombstones and skipped records included', value: (s) => s.recordsConsumed },
  { kind: 'counter', name: 'walcast_sink_fenced_batches_total', help: 'Batches rolled back because another sink process of the group had claimed the partition', value: (s) => s.fencedBatches },
  { kind: 'gauge', name: 'walcast_sink_lag_records', help: 'Records of the partitions this process owns not yet applied (high watermark - next offset)', value: (s) => s.totalLag() },
  { kind: 'gauge', name: 'walcast_sink_milliseconds_behind_source', help: 'Between the source commit of the last applied change and its apply', value: (s) => s.millisBehindSource },
  { kind: 'gauge', name: 'walcast_sink_partitions', help: 'Partitions this sink process owns', value: (s) => s.partitions.length },
];

export function registerSinkMetrics(registry: Registry, samples: () => readonly Sample[]): void {
  const sinks = (): Array<{ connector: string; stats: SinkStats }> =>
    samples().flatMap(({ connector, status }) => (status.stats?.sink ? [{ connector, stats: status.stats.sink }] : []));
  for (const metric of SINK_METRICS) {
    const common = { name: metric.name, help: metric.help, labelNames: ['connector'] as const, registers: [registry] };
    const collect = function (this: Counter<'connector'> | Gauge<'connector'>): void {
      this.reset();
      for (const { connector, stats } of sinks()) {
        const value = metric.value(stats);
        if (value === null) continue;
        if (this instanceof Counter) this.inc({ connector }, value);
        else this.set({ connector }, value);
      }
    };
    if (metric.kind === 'counter') new Counter({ ...common, collect });
    else new Gauge({ ...common, collect });
  }
  new Counter({
    name: 'walcast_sink_changes_total',
    help: 'Changes the sink applied (committed), by target table (schema.table) and operation (c, u, d, t, r)',
    labelNames: ['connector', 'table', 'op'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { connector, stats } of sinks()) {
        for (const counts of stats.tables.all()) for (const op of ROW_OPS) if (counts.committed[op] > 0) this.inc({ connector, table: counts.table, op }, counts.committed[op]);
      }
    },
  });
  const sinkSamples = (): readonly Sample[] => samples().filter((s) => s.status.stats?.sink);
  registry.registerMetric(histogramMetric('walcast_sink_apply_seconds', 'Time of each batch transaction: staging, COPY, statements and commit', sinkSamples, (s) => s.stats?.sink?.applyLatency ?? null));
  registry.registerMetric(histogramMetric('walcast_sink_batch_changes', 'Changes per applied batch (the histogram\'s le is a count, not seconds)', sinkSamples, (s) => s.stats?.sink?.batchSize ?? null));
}
