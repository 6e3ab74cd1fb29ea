/**
 * Transactions Kafka left open. After a broker crash, Kafka 4.x can record a transaction as
 * complete in its coordinator yet never write the commit (or abort) markers to the partitions
 * (seen here with 4.3.1: a single broker killed between PrepareCommit and the markers). The
 * records then hang: read_committed readers stop at them, walcast's offset read misses them,
 * and the next transaction of the same producer id silently commits them together with its own
 * records, which duplicates whatever walcast re-sends. So after fencing and before reading the
 * offset, walcast looks for partitions whose last stable offset lags their high watermark and
 * closes what is its own.
 */
import type { Kafka } from 'kafkajs';
import { readPartitions } from './partition-reader.ts';

export interface TopicPartitionRef {
  topic: string;
  partition: number;
}

export interface PartitionEnd extends TopicPartitionRef {
  /** Last stable offset: what read_committed readers can reach. */
  stable: bigint;
  high: bigint;
}

export interface OpenRegion extends PartitionEnd {
  /** Producer ids of the records between the last stable offset and the high watermark. */
  producerIds: string[];
  /** Keys (UTF-8) of those records. */
  keys: string[];
}

interface ListOffsetsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
  fetchTopicsOffset(
    query: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

// kafkajs' admin lists offsets read_committed only; the high watermark needs its private cluster
// factory with the other isolation level.
function listOffsetsCluster(kafka: Kafka, isolationLevel: number): ListOffsetsCluster {
  const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = factory ? (kafka as unknown as Record<symbol, unknown>)[factory] : undefined;
  if (typeof create !== 'function') throw new Error('kafkajs internals changed: cannot list partition end offsets');
  return (create as (options: { isolationLevel: number; allowAutoTopicCreation: boolean }) => ListOffsetsCluster)({ isolationLevel, allowAutoTopicCreation: false });
}

export async function partitionEnds(kafka: Kafka, topics: string[]): Promise<PartitionEnd[]> {
  if (topics.length === 0) return [];
  const committed = listOffsetsCluster(kafka, READ_COMMITTED);
  const uncommitted = listOffsetsCluster(kafka, READ_UNCOMMITTED);
  try {
    await Promise.all([committed.connect(), uncommitted.connect()]);
    await Promise.all([committed.addMultipleTargetTopics(topics), uncommitted.addMultipleTargetTopics(topics)]);
    const query = topics.map((topic) => ({
      topic,
      fromBeginning: false,
      partitions: committed.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId })),
    }));
    const [stable, high] = await Promise.all([committed.fetchTopicsOffset(query), uncommitted.fetchTopicsOffset(query)]);
    const highOf = new Map(high.flatMap((t) => t.partitions.map((p) => [`${t.topic}\u0000${p.partition}`, BigInt(p.offset)] as const)));
    return stable.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, stable: BigInt(p.offset), high: highOf.get(`${t.topic}\u0000${p.partition}`) ?? BigInt(p.offset) })),
    );
  } finally {
    await Promise.all([committed.disconnect().catch(() => undefined), uncommitted.disconnect().catch(() => undefined)]);
  }
}

export function openPartitions(ends: PartitionEnd[]): PartitionEnd[] {
  return ends.filter((e) => e.high > e.stable);
}

/** Reads (read_uncommitted) the records each open partition holds past its last stable offset. */
export async function readOpenRegions(kafka: Kafka, open: PartitionEnd[], timeoutMs = 30_000): Promise<OpenRegion[]> {
  const regions = new Map(open.map((e) => [`${e.topic}\u0000${e.partition}`, { ...e, producerIds: [] as string[], keys: [] as string[] }]));
  await readPartitions(kafka, {
    purpose: 'open transaction reader',
    readUncommitted: true,
    ranges: open.map((e) => ({ topic: e.topic, partition: e.partition, from: e.stable, end: e.high })),
    timeoutMs,
    onBatch: (batch) => {
      const region = regions.get(`${batch.topic}\u0000${batch.partition}`);
      if (!region) return;
      for (const message of batch.messages) {
        const offset = BigInt(message.offset);
        if (offset < region.stable || offset >= region.high) continue;
        const producerId = String((message as unknown as { batchContext?: { producerId?: unknown } }).batchContext?.producerId ?? '');
        if (!region.producerIds.includes(producerId)) region.producerIds.push(producerId);
        region.keys.push(message.key?.toString('utf8') ?? '');
      }
    },
  });
  return [...regions.values()];
}

export type OpenTransactionVerdict =
  | { kind: 'none' }
  | { kind: 'foreign'; regions: OpenRegion[] }
  | { kind: 'own'; outcome: 'commit' | 'abort'; regions: OpenRegion[] };

/**
 * What to do with the open regions found after fencing. walcast adds its offset record in the
 * last chunk of a Kafka transaction, after every other chunk was acknowledged, and asks for the
 * commit only after that: so its own offset record among the open records means the transaction
 * is complete (commit it, as the coordinator most likely decided), and its absence means the
 * transaction never reached its commit request (abort it).
 */
export function judgeOpenRegions(regions: OpenRegion[], ownProducerId: string, offsetsTopic: string, sourceId: string | readonly string[]): OpenTransactionVerdict {
  const ownKeys: readonly string[] = typeof sourceId === 'string' ? [sourceId] : sourceId;
  if (regions.length === 0) return { kind: 'none' };
  const foreign = regions.filter((r) => r.producerIds.some((id) => id !== ownProducerId));
  if (foreign.length > 0) return { kind: 'foreign', regions: foreign };
  const ownOffsetOpen = regions.some((r) => r.topic === offsetsTopic && r.keys.some((k) => ownKeys.includes(k)));
  return { kind: 'own', outcome: ownOffsetOpen ? 'commit' : 'abort', regions };
}

/** The operator's way out when another producer left a transaction open on walcast's partitions. */
export function describeForeignOpenTransactions(regions: OpenRegion[], brokers: string[]): string {
  const where = regions.map((r) => `${r.topic}-${r.partition} from offset ${r.stable} (producer id ${r.producerIds.join('/')})`).join('; ');
  const commands = regions
    .map((r) => `kafka-transactions.sh --bootstrap-server ${brokers[0] ?? 'BROKER'} abort --topic ${r.topic} --partition ${r.partition} --start-offset ${r.stable}`)
    .join(' ; ');
  return (
    `a transaction of another producer is open on partitions walcast reads or writes and did not finish: ${where}. ` +
    `read_committed readers cannot pass it and walcast cannot read its own position past it. ` +
    `If that producer is gone, abort the transaction: ${commands} ; then restart walcast.`
  );
}

export interface SettleOptions {
  kafka: Kafka;
  /** Every topic walcast writes for this source, the offsets topic included. */
  topics: string[];
  offsetsTopic: string;
  /** The key of the source's offset record (or its keys, for a source keeping one per table). */
  sourceId: string | readonly string[];
  brokers: string[];
  producer: {
    producerId(): string;
    endOpenTransaction(partitions: TopicPartitionRef[], outcome: 'commit' | 'abort'): Promise<void>;
  };
  /** How long another producer's transaction may stay open before it counts as left open. */
  waitMs: number;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

export class OpenTransactionError extends Error {
  readonly code = 'WALCAST_OPEN_TRANSACTION';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call after fencing and before reading the offset. Waits for transactions still finishing,
 * closes the ones this producer's earlier epochs left open, and throws OpenTransactionError for
 * another producer's that do not finish.
 */
export async function settleOpenTransactions(options: SettleOptions): Promise<OpenTransactionVerdict> {
  const deadline = Date.now() + options.waitMs;
  let open = openPartitions(await partitionEnds(options.kafka, options.topics));
  if (open.length > 0) {
    options.log.info(
      { partitions: open.map((e) => `${e.topic}-${e.partition}@${e.stable}..${e.high}`), waitMs: options.waitMs },
      'waiting for transactions open on walcast\'s topics to finish before reading the committed position',
    );
  }
  while (open.length > 0 && Date.now() < deadline) {
    await sleep(200);
    open = openPartitions(await partitionEnds(options.kafka, open.map((e) => e.topic)));
  }
  if (open.length === 0) return { kind: 'none' };
  const regions = await readOpenRegions(options.kafka, open);
  const verdict = judgeOpenRegions(regions, options.producer.producerId(), options.offsetsTopic, options.sourceId);
  if (verdict.kind === 'foreign') throw new OpenTransactionError(describeForeignOpenTransactions(verdict.regions, options.brokers));
  if (verdict.kind === 'own') {
    options.log.warn(
      { outcome: verdict.outcome, partitions: verdict.regions.map((r) => `${r.topic}-${r.partition}@${r.stable}..${r.high}`) },
      `Kafka left an earlier transaction of this walcast open (its markers were never written, a broker failure); ${verdict.outcome === 'commit' ? 'committing it: it held its offset record, so it was complete' : 'aborting it: it never reached its commit'}`,
    );
    await options.producer.endOpenTransaction(verdict.regions, verdict.outcome);
    const closeBy = Date.now() + 30_000;
    for (;;) {
      const still = openPartitions(await partitionEnds(options.kafka, verdict.regions.map((r) => r.topic)));
      if (!still.some((e) => verdict.regions.some((r) => r.topic === e.topic && r.partition === e.partition))) break;
      if (Date.now() > closeBy) throw new OpenTransactionError(`the transaction left open on ${still.map((e) => `${e.topic}-${e.partition}`).join(', ')} did not close after walcast ended it`);
      await sleep(100);
    }
  }
  return verdict;
}
