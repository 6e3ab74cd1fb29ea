/**
 * One transactional delivery for every source: records in, Kafka transactions out, each carrying
 * the source's position in the offsets topic (GUIDE, invariant 2).
 *
 * A batch is one Kafka transaction holding whole source units (PostgreSQL transactions, snapshot
 * chunks, polls). Records go out in chunks, one produce request in flight while the next chunk is
 * built (it grows while the request is in flight: flushIfFull()), so a huge unit streams through
 * bounded memory; the offset record goes last, in the same transaction, with the position of the
 * last complete unit.
 *
 * Size limits (record-limits.ts): every record is checked against its topic's max.message.bytes
 * as it is appended, so one the broker would refuse is a RecordTooLargeError of that record, thrown
 * before anything is sent; a chunk is sealed before it would outgrow the smallest limit, so the
 * broker never refuses a batch of records that each fit. Dead-letter records (row errors) go in the
 * same transaction as the events around them.
 *
 * openDelivery() runs the prelude every source needs before it may read its position: fence older
 * instances, settle transactions a failed broker left open, then read the stored position.
 */
import type { Kafka } from 'kafkajs';
import type { ConnectorStats } from '../connector.ts';
import type { Logger } from '../log.ts';
import type { CompressionName } from './compression.ts';
import { ensureOffsetsTopic, offsetRecord, readOffset, readOffsets, type SourcePosition, type StoredOffset } from './offsets.ts';
import { settleOpenTransactions } from './open-transactions.ts';
import type { KafkaRecord, TransactionalProducer } from './producer.ts';
import { checkRecordFits, DEFAULT_MAX_MESSAGE_BYTES, headerBytes } from './record-limits.ts';
import type { TopicManager } from './topics.ts';

/** Largest produce request walcast builds (before a smaller topic limit lowers it). */
const SEND_CHUNK_BYTES = 900 * 1024;
/** Bytes counted per record beside its key and value (framing). */
const RECORD_OVERHEAD_BYTES = 64;

/** Lets I/O callbacks run (a Produce answer) before the caller goes on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Chunk budget under a size limit: room for the batch framing and what a codec may add. */
function chunkBudget(limit: number): number {
  return Math.max(1, Math.min(SEND_CHUNK_BYTES, Math.floor(limit * 0.95) - 1024));
}

export interface DeliveryOptions<P> {
  producer: TransactionalProducer;
  /** The source's position as the JSON object stored in the offsets topic (called once per commit). */
  positionJson(position: P): SourcePosition;
  offsetsTopic: string;
  /** The key of this source's records in the offsets topic. */
  sourceId: string;
  /**
   * The key of a position's offset record, for a source that keeps one record per part (the
   * polling source: per table); sourceId otherwise.
   */
  offsetKey?(position: P): string;
  /** Records per produce request at most. */
  sendChunkEvents: number;
  /** Counters updated at each commit (events, source units, Kafka transactions, dead letters). */
  stats: ConnectorStats;
  log: Logger;
  /** The producer's compression: a record over its topic's limit may still fit compressed. */
  compression?: CompressionName;
}

export interface CommitResult<P> {
  /** Position of the last unit of the batch. */
  position: P;
  /** false when the batch held no records: nothing was written, the position is not in Kafka. */
  recorded: boolean;
}

export class TransactionalDelivery<P> {
  private readonly options: DeliveryOptions<P>;
  private readonly compression: CompressionName;
  private records: KafkaRecord[] = [];
  /** Where the chunk being filled starts in `records`; sealed chunks (sent one request each) lie before. */
  private chunkStart = 0;
  /** Ends (exclusive indexes in `records`) of the chunks sealed and not yet sent. */
  private sealedEnds: number[] = [];
  /** Bytes of the records of the chunk being filled. */
  private recordBytes = 0;
  private open = false;
  private inflight: Promise<void> | null = null;
  /** The request in flight was answered (or failed): the next chunk may go without waiting. */
  private inflightSettled = true;
  private position: P | null = null;
  /** max.message.bytes of the topics written so far (record-limits.ts). */
  private readonly limits = new Map<string, number>();
  /** The smallest of them (Kafka's default until one is smaller): records below it need no lookup. */
  private smallestLimit = DEFAULT_MAX_MESSAGE_BYTES;
  private chunkBytes = chunkBudget(DEFAULT_MAX_MESSAGE_BYTES);
  /** `records.length` and `events` when the row in progress started (rollbackRow). */
  private rowStart = 0;
  private rowEvents = 0;
  /** Records appended to the current batch (the offset record and dead letters not counted). */
  events = 0;
  /** Dead-letter records appended to the current batch. */
  deadLetters = 0;
  /** Complete source units in the current batch. */
  units = 0;
  /** When the batch's first unit completed (ms since epoch). */
  firstUnitAt = 0;
  /**
   * When the batch's first unit started waiting in walcast (ms since epoch): earlier than
   * firstUnitAt when the source held it while the previous batch committed.
   */
  firstUnitSince = 0;

  constructor(options: DeliveryOptions<P>) {
    this.options = options;
    this.compression = options.compression ?? 'none';
  }

  /** Records a topic's max.message.bytes (before its first record is appended). */
  setTopicLimit(topic: string, bytes: number): void {
    this.limits.set(topic, bytes);
    if (bytes < this.smallestLimit) {
      this.smallestLimit = bytes;
      this.chunkBytes = chunkBudget(bytes);
    }
  }

  knowsTopicLimit(topic: string): boolean {
    return this.limits.has(topic);
  }

  /** The max.message.bytes a record for `topic` must fit (Kafka's default when unknown). */
  topicLimit(topic: string): number {
    return this.limits.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES;
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

  /**
   * Appends a change event. Throws RecordTooLargeError, appending nothing, when the record cannot
   * fit its topic even alone in a batch.
   */
  append(record: KafkaRecord): void {
    this.add(record, (record.key?.length ?? 0) + (record.value?.length ?? 0) + RECORD_OVERHEAD_BYTES);
    this.events += 1;
  }

  /** Appends a dead-letter record (its value already cut to fit: see dead-letter.ts). */
  appendDeadLetter(record: KafkaRecord): void {
    this.add(record, (record.key?.length ?? 0) + (record.value?.length ?? 0) + headerBytes(record) + RECORD_OVERHEAD_BYTES);
    this.deadLetters += 1;
  }

  private add(record: KafkaRecord, bytes: number): void {
    if (bytes > this.smallestLimit) checkRecordFits(record, this.topicLimit(record.topic), this.compression);
    // Seal the chunk before it would outgrow the budget: a record that fits alone then never
    // shares a batch the broker would refuse.
    if (this.recordBytes + bytes > this.chunkBytes && this.records.length > this.chunkStart) {
      this.sealedEnds.push(this.records.length);
      this.chunkStart = this.records.length;
      this.recordBytes = 0;
    }
    this.records.push(record);
    this.recordBytes += bytes;
  }

  /** The row (or message) about to be appended starts here: rollbackRow() returns to this point. */
  markRow(): void {
    this.rowStart = this.records.length;
    this.rowEvents = this.events;
  }

  /**
   * Drops what was appended since markRow(): a row that failed part-way is handled again or
   * dead-lettered whole. Nothing of it was sent (chunks go out only after a row is complete).
   */
  rollbackRow(): void {
    if (this.rowStart > this.records.length) throw new Error('internal: rollback of a row whose records were already sent');
    this.records.length = this.rowStart;
    this.events = this.rowEvents;
    while (this.sealedEnds.length > 0 && this.sealedEnds[this.sealedEnds.length - 1]! >= this.rowStart) this.sealedEnds.pop();
    this.chunkStart = this.sealedEnds.length > 0 ? this.sealedEnds[this.sealedEnds.length - 1]! : 0;
    this.recordBytes = 0;
    for (let i = this.chunkStart; i < this.records.length; i++) {
      const record = this.records[i]!;
      this.recordBytes += (record.key?.length ?? 0) + (record.value?.length ?? 0) + headerBytes(record) + RECORD_OVERHEAD_BYTES;
    }
  }

  /**
   * Sends a chunk when enough is buffered. A promise when the caller must let it go on: to wait
   * for the request in flight (a chunk full by bytes), or to let its answer in (see below).
   *
   * kafkajs keeps one Produce request in flight per broker for an idempotent producer. Waiting for
   * it every sendChunkEvents records left walcast idle a third of the time on the catch-up
   * workloads while the broker answered (bench (a), 2 cores). So while a request is in flight the
   * chunk keeps growing, up to the byte budget where add() seals it, and goes out as one request
   * as soon as the answer is in; every sendChunkEvents records the caller yields to the event loop
   * once, so that the answer can arrive.
   */
  flushIfFull(): Promise<void> | undefined {
    if (this.sealedEnds.length > 0) return this.flushChunk();
    const unsent = this.records.length - this.chunkStart;
    const { sendChunkEvents } = this.options;
    if (unsent < sendChunkEvents && this.recordBytes < this.chunkBytes) return undefined;
    if (this.inflight === null || this.inflightSettled || this.recordBytes >= this.chunkBytes) return this.flushChunk();
    return unsent % sendChunkEvents === 0 ? yieldToEventLoop() : undefined;
  }

  /**
   * The records appended so far complete a source unit; `position` resumes after it. `since`: when
   * the unit reached walcast, if the source knows (a lower bound is fine).
   */
  completeUnit(position: P, since?: number): void {
    if (this.units === 0) {
      this.firstUnitAt = Date.now();
      this.firstUnitSince = since === undefined ? this.firstUnitAt : Math.min(since, this.firstUnitAt);
    }
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
    if (recorded) await this.commitWithOffset(position, this.events, this.deadLetters);
    this.options.stats.transactionsDelivered += this.units;
    this.reset();
    return { position, recorded };
  }

  /** The offset record last, every chunk acknowledged, then the Kafka commit. */
  private async commitWithOffset(position: P, events: number, deadLetters: number): Promise<void> {
    const started = performance.now();
    this.add(offsetRecord(this.options.offsetsTopic, this.options.offsetKey?.(position) ?? this.options.sourceId, this.options.positionJson(position)), 0);
    await this.flushChunk();
    await this.inflight;
    this.inflight = null;
    await this.options.producer.commit();
    this.countCommit(events, deadLetters, started);
  }

  /**
   * Records a position without events (a source that moved past data it does not publish), in a
   * Kafka transaction of its own. Only between batches.
   */
  async commitPosition(position: P): Promise<void> {
    if (!this.empty) throw new Error('internal: commitPosition() with a batch open');
    await this.begin();
    try {
      await this.commitWithOffset(position, 0, 0);
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

  private countCommit(events: number, deadLetters: number, startedAt: number): void {
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
    stats.deadLettered += deadLetters;
  }

  private reset(): void {
    this.records = [];
    this.chunkStart = 0;
    this.sealedEnds = [];
    this.recordBytes = 0;
    this.rowStart = 0;
    this.rowEvents = 0;
    this.open = false;
    this.position = null;
    this.events = 0;
    this.deadLetters = 0;
    this.units = 0;
    this.firstUnitAt = 0;
    this.firstUnitSince = 0;
  }

  /** Sends every record appended so far: each sealed chunk, then the one being filled, one request at a time. */
  private async flushChunk(): Promise<void> {
    if (this.records.length === 0) return;
    const records = this.records;
    const ends = this.sealedEnds;
    this.records = [];
    this.sealedEnds = [];
    this.chunkStart = 0;
    this.recordBytes = 0;
    this.rowStart = 0;
    let start = 0;
    for (let i = 0; i <= ends.length; i++) {
      const end = i < ends.length ? ends[i]! : records.length;
      if (end <= start) continue;
      if (this.inflight) await this.inflight;
      const sending = this.options.producer.send(start === 0 && end === records.length ? records : records.slice(start, end));
      // Observed when awaited (next chunk or commit); keep it from counting as unhandled meanwhile.
      sending.catch(() => undefined);
      this.inflight = sending;
      this.inflightSettled = false;
      const settled = (): void => {
        if (this.inflight === sending) this.inflightSettled = true;
      };
      sending.then(settled, settled);
      start = end;
    }
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
  /** Topics the source writes beside its change topics (the dead-letter topic): created, and settled like them. */
  extraTopics?: string[];
  /** Names the step in progress, for errors that say which service and setting to check. */
  stage(description: string): void;
  /** The keys of a source keeping one offset record per part (offsetKey): each is read back, instead of sourceId. */
  positionKeys?: readonly string[];
}

/**
 * The prelude, in the order exactly-once needs: create the offsets topic, fence older instances
 * (a zombie could otherwise commit after the position is read), settle transactions left open,
 * then read the stored position.
 */
export async function openDelivery<P>(
  options: OpenDeliveryOptions<P>,
): Promise<{ delivery: TransactionalDelivery<P>; stored: StoredOffset | null; storedByKey: Map<string, StoredOffset> }> {
  const { kafka, topics, producer, offsetsTopic, sourceId } = options;
  options.stage(`connecting to Kafka (WALCAST_KAFKA_BROKERS=${options.brokers.join(',')})`);
  await ensureOffsetsTopic(topics, offsetsTopic);
  const extraTopics = options.extraTopics ?? [];
  await topics.ensure(extraTopics);
  await producer.connect();
  options.stage('checking Kafka for transactions left open');
  await settleOpenTransactions({
    kafka,
    topics: [offsetsTopic, ...extraTopics, ...(await topics.listWithPrefix(`${options.topicPrefix}.`))],
    offsetsTopic,
    sourceId: options.positionKeys ? [sourceId, ...options.positionKeys] : sourceId,
    brokers: options.brokers,
    producer,
    waitMs: options.openTransactionWaitMs,
    log: options.log,
  });
  const keys = options.positionKeys;
  const stored = keys ? null : await readOffset(kafka, offsetsTopic, sourceId);
  const storedByKey = keys ? await readOffsets(kafka, offsetsTopic, (key) => keys.includes(key)) : new Map<string, StoredOffset>();
  const delivery = new TransactionalDelivery(options);
  for (const [topic, bytes] of await topics.maxMessageBytes(extraTopics)) delivery.setTopicLimit(topic, bytes);
  return { delivery, stored, storedByKey };
}
