/**
 * What the sink counts for /status and /metrics: changes applied by target table and operation
 * (counted when their PostgreSQL transaction commits), batch sizes, apply latency, lag behind the
 * partitions' ends and behind the source's commit time. Plain fields bumped once per batch; the
 * HTTP layer renders them at scrape (http/sink-metrics.ts).
 */
import { LatencyHistogram } from '../stats/latency-histogram.ts';
import { TableEventCounters } from '../stats/table-events.ts';

/** Upper bounds of the batch-size histogram, in changes per batch. */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 10, 100, 1000, 2500, 5000, 10000, 25000, 50000];

export class SinkStats {
  /** Records consumed, tombstones and skipped records included. */
  recordsConsumed = 0;
  /** Changes applied (before folding), committed. */
  changesApplied = 0;
  /** Rows written after folding (one per key and batch), committed. */
  rowsWritten = 0;
  /** PostgreSQL transactions committed (one per partition batch that changed something). */
  batches = 0;
  /** Batches rolled back because another sink process had claimed the partition (rebalance). */
  fencedBatches = 0;
  /** Committed changes by target table (schema.table) and op. */
  readonly tables = new TableEventCounters();
  /** Seconds per batch transaction: staging, COPY, statements, commit. */
  readonly applyLatency = new LatencyHistogram();
  /** Changes per batch. */
  readonly batchSize = new LatencyHistogram(BATCH_SIZE_BUCKETS);
  /** Records not yet applied, per `topic/partition` this process owns: high watermark - next offset. */
  readonly lagRecords = new Map<string, number>();
  /** Between the source commit of the last applied change and its apply (ms). */
  millisBehindSource: number | null = null;
  /** When the last batch committed (ms since epoch). */
  lastAppliedAt: number | null = null;
  /** `topic/partition` this process owns since the last rebalance (every task's, when a worker runs several). */
  partitions: string[] = [];
  /** Each consumer's partitions (a worker's sink tasks share these counters). */
  private readonly byConsumer = new Map<string, string[]>();

  /** A rebalance gave `consumer` these partitions: the lag of those it no longer owns is forgotten. */
  assign(consumer: string, assigned: readonly string[]): void {
    for (const key of this.byConsumer.get(consumer) ?? []) if (!assigned.includes(key)) this.lagRecords.delete(key);
    this.byConsumer.set(consumer, [...assigned]);
    this.partitions = [...new Set([...this.byConsumer.values()].flat())].sort();
  }

  totalLag(): number {
    let sum = 0;
    for (const lag of this.lagRecords.values()) sum += lag;
    return sum;
  }
}
