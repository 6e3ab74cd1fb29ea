/**
 * One transactional delivery for every source: records in, Kafka transactions out, each carrying
 * the source's position in the offsets topic (GUIDE, invariant 2).
 *
 * A batch is one Kafka transaction holding whole source units (PostgreSQL transactions, snapshot
 * chunks, polls). Records go out in chunks, one produce request in flight while the next chunk is
 * built, so a huge unit streams through bounded memory; the offset record goes last, in the same
 * transaction, with the position of the last complete unit.
 *
 * openDelivery() runs the prelude every source needs before it may read its position: fence older
 * instances, settle transactions a failed broker left open, then read the stored position.
 */
import type { Kafka } from 'kafkajs';
import type { ConnectorStats } from '../connector.ts';
import type { Logger } from '../log.ts';
import { ensureOffsetsTopic, offsetRecord, readOffset, type SourcePosition, type StoredOffset } from './offsets.ts';
import { settleOpenTransactions } from './open-transactions.ts';
import type { KafkaRecord, TransactionalProducer } from './producer.ts';
import type { TopicManager } from './topics.ts';

/** Largest produce request walcast builds: brokers refuse record batches over message.max.bytes (1 MiB default). */
const SEND_CHUNK_BYTES = 900 * 1024;
/** Bytes counted per record beside its key and value (headers, framing). */
const RECORD_OVERHEAD_BYTES = 64;

export interface DeliveryOptions<P> {
  producer: TransactionalProducer;
  /** The source's position as the JSON object stored in the offsets topic (called once per commit). */
  positionJson(position: P): SourcePosition;
  offsetsTopic: string;
  /** The key of this source's records in the offsets topic. */
  sourceId: string;
  /** Records per produce request at most. */
  sendChunkEvents: number;
  /** Counters updated at each commit (events, source units, Kafka transactions). */
  stats: ConnectorStats;
  log: Logger;
}

export interface CommitResult<P> {
  /** Position of the last unit of the batch. */
  position: P;
  /** false when the batch held no records: nothing was written, the position is not in Kafka. */
  recorded: boolean;
}

export class TransactionalDelivery<P> {
  private readonly options: DeliveryOptions<P>;
  private records: KafkaRecord[] = [];
  private recordBytes = 0;
  private open = false;
  private inflight: Promise<void> | null = null;
  private position: P | null = null;
  /** Records appended to the current batch (the offset record not counted). */
  events = 0;
  /** Complete source units in the current batch. */
  units = 0;
  /** When the batch's first unit completed (ms since epoch). */
  firstUnitAt = 0;

  constructor(options: DeliveryOptions<P>) {
    this.options = options;
  }

  /** A Kafka transaction is open (records appended since the last commit or abort). */
  get inTransaction(): boolean {
    return this.open;
  }

  /** Nothing appended, nothing complete: no batch to commit or abort. */
  get empty(): boolean {
    return !this.open && this.units === 0;
  }

  /** Opens the Kafka transaction; call before append() when inTransaction is false. */
  async begin(): Promise<void> {
    await this.options.producer.begin();
    this.open = true;
  }

  append(record: KafkaRecord): void {
    this.records.push(record);
    this.recordBytes += (record.key?.length ?? 0) + (record.value?.length ?? 0) + RECORD_OVERHEAD_BYTES;
    this.events += 1;
  }

  /** Sends a chunk when enough is buffered; a promise only when it has to wait for the previous one. */
  flushIfFull(): Promise<void> | undefined {
    if (this.records.length >= this.options.sendChunkEvents || this.recordBytes >= SEND_CHUNK_BYTES) return this.flushChunk();
    return undefined;
  }

  /** The records appended so far complete a source unit; `position` resumes after it. */
  completeUnit(position: P): void {
    if (this.units === 0) this.firstUnitAt = Date.now();
    this.units += 1;
    this.position = position;
  }

  /**
   * Commits the batch with the offset record of its last complete unit. Resolves with that
   * position (null when no unit is complete: nothing to commit).
   */
  async commit(): Promise<CommitResult<P> | null> {
    const position = this.position;
    if (this.units === 0 || position === null) return null;
    const recorded = this.open;
    if (recorded) {
      const started = performance.now();
      this.records.push(offsetRecord(this.options.offsetsTopic, this.options.sourceId, this.options.positionJson(position)));
      await this.flushChunk();
      await this.inflight;
      this.inflight = null;
      await this.options.producer.commit();
      this.countCommit(this.events, started);
    }
    this.options.stats.transactionsDelivered += this.units;
    this.reset();
    return { position, recorded };
  }

  /**
   * Records a position without events (a source that moved past data it does not publish), in a
   * Kafka transaction of its own. Only between batches.
   */
  async commitPosition(position: P): Promise<void> {
    if (!this.empty) throw new Error('internal: commitPosition() with a batch open');
    await this.begin();
    try {
      const started = performance.now();
      this.records.push(offsetRecord(this.options.offsetsTopic, this.options.sourceId, this.options.positionJson(position)));
      await this.flushChunk();
      await this.inflight;
      this.inflight = null;
      await this.options.producer.commit();
      this.countCommit(0, started);
    } catch (error) {
      await this.abort();
      throw error;
    } finally {
      this.reset();
    }
  }

  /** Drops the batch and aborts its Kafka transaction; it is redelivered from the stored position. */
  async abort(): Promise<void> {
    const wasOpen = this.open;
    const inflight = this.inflight;
    this.inflight = null;
    this.reset();
    // Redelivered from the stored position: counted again then.
    this.options.stats.tableEvents.discard();
    await inflight?.catch(() => undefined);
    if (wasOpen) {
      await this.options.producer.abort().catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'abort of the open Kafka transaction failed; the broker aborts it at its timeout or when walcast restarts'),
      );
    }
  }

  private countCommit(events: number, startedAt: number): void {
    const { stats } = this.options;
    const now = Date.now();
    stats.kafkaCommitLatency.observe((performance.now() - startedAt) / 1000);
    stats.kafkaCommits += 1;
    stats.eventsSent += events;
    stats.lastKafkaCommitAt = now;
    if (events > 0) {
      stats.tableEvents.commit();
      stats.lastEventAt = now;
      if (stats.lastCommitTimeMicros !== null) stats.millisBehindSource = Math.max(0, now - Number(stats.lastCommitTimeMicros / 1000n));
    }
  }

  private reset(): void {
    this.records = [];
    this.recordBytes = 0;
    this.open = false;
    this.position = null;
    this.events = 0;
    this.units = 0;
    this.firstUnitAt = 0;
  }

  private async flushChunk(): Promise<void> {
    if (this.records.length === 0) return;
    if (this.inflight) await this.inflight;
    const chunk = this.records;
    this.records = [];
    this.recordBytes = 0;
    const sending = this.options.producer.send(chunk);
    // Observed when awaited (next chunk or commit); keep it from counting as unhandled meanwhile.
    sending.catch(() => undefined);
    this.inflight = sending;
  }
}

export interface OpenDeliveryOptions<P> extends DeliveryOptions<P> {
  kafka: Kafka;
  topics: TopicManager;
  brokers: string[];
  /** The source's topics start with `<topicPrefix>.`: transactions left open there are settled too. */
  topicPrefix: string;
  /** How long another producer's open transaction may take to finish before it counts as left open. */
  openTransactionWaitMs: number;
  /** Names the step in progress, for errors that say which service and setting to check. */
  stage(description: string): void;
}

/**
 * The prelude, in the order exactly-once needs: create the offsets topic, fence older instances
 * (a zombie could otherwise commit after the position is read), settle transactions left open,
 * then read the stored position.
 */
export async function openDelivery<P>(options: OpenDeliveryOptions<P>): Promise<{ delivery: TransactionalDelivery<P>; stored: StoredOffset | null }> {
  const { kafka, topics, producer, offsetsTopic, sourceId } = options;
  options.stage(`connecting to Kafka (WALCAST_KAFKA_BROKERS=${options.brokers.join(',')})`);
  await ensureOffsetsTopic(topics, offsetsTopic);
  await producer.connect();
  options.stage('checking Kafka for transactions left open');
  await settleOpenTransactions({
    kafka,
    topics: [offsetsTopic, ...(await topics.listWithPrefix(`${options.topicPrefix}.`))],
    offsetsTopic,
    sourceId,
    brokers: options.brokers,
    producer,
    waitMs: options.openTransactionWaitMs,
    log: options.log,
  });
  const stored = await readOffset(kafka, offsetsTopic, sourceId);
  return { delivery: new TransactionalDelivery(options), stored };
}
