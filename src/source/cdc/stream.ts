/**
 * The CDC stream loop: replication items in, Kafka transactions out, the slot confirmed only up
 * to a position recorded in Kafka (GUIDE, invariant 1).
 *
 * Batching: whole PostgreSQL transactions share a Kafka transaction until it holds
 * `batch.maxEvents` events, the input runs dry once its first transaction has waited
 * `batch.maxDelayMs` since it reached walcast (queued behind the previous commit included: low
 * latency when keeping up), or it has been open `batch.maxAgeMs` (bounded latency while catching up).
 *
 * Positions: `delivered` is the LSN below which nothing is left to deliver (committed to Kafka,
 * skipped, or idle WAL with nothing published in it); `recorded` is the position in the offsets
 * topic. The slot is confirmed up to `recorded` only: when the stream moved past data it does not
 * publish (idle WAL, filtered tables), it records that position in a Kafka transaction of its own,
 * at most once per `positionIntervalMs`. So a slot confirmed beyond the offsets topic always means
 * a real gap (connector.ts checks it at start).
 *
 * A row that cannot be published as it is (row-failures.ts) ends the loop with its error; run()
 * then looks at that row alone: a value that needs its column's widened shape widens the column
 * and the row is handled again; anything else goes by WALCAST_ERRORS_TOLERANCE (stop, or a
 * dead-letter record in the same Kafka transaction). The try that catches it wraps the loop, not
 * each event, and the happy path only records which message is in progress (two fields).
 */
import { SnapshotRequestError, type ConnectorStats } from '../../connector.ts';
import { ValueDecodeError } from '../../decode/errors.ts';
import { AvroEncodeError } from '../../encode/avro-writer.ts';
import type { EventEncoder } from '../../encode/encoder.ts';
import type { ChangeEvent, RowChange } from '../../events/change-events.ts';
import type { TableSchema } from '../../events/table-schema.ts';
import { deadLetterRecord, DeadLetterTooLargeError } from '../../kafka/dead-letter.ts';
import type { TransactionalDelivery } from '../../kafka/delivery.ts';
import { RecordTooLargeError } from '../../kafka/record-limits.ts';
import type { Logger } from '../../log.ts';
import { formatLsn, type Lsn } from '../../pg/lsn.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { WATERMARK_PREFIX, type ChunkRead, type ChunkWindows } from '../snapshot/windows.ts';
import { WideningRefusedError, type ChangeTranslator } from './changes.ts';
import { decodeFrame, type DeleteMessage, type InsertMessage, type LogicalMessage, type PgoutputMessage, type UpdateMessage } from './pgoutput.ts';
import type { CdcPosition } from './position.ts';
import type { FlowControl, ReplicationQueue } from './replication-queue.ts';
import { SnapshotChunks } from './snapshot-chunks.ts';
import { deadLetterFor, describeFailure, keyDocument, UnpublishableRowError, type FailureContext, type RowFailure, type RowMessage } from './row-failures.ts';

export interface ReplicationControl extends FlowControl {
  sendStatus(received: Lsn, flushed: Lsn, replyRequested?: boolean): void;
}

export interface StreamOptions {
  queue: ReplicationQueue;
  translator: ChangeTranslator;
  delivery: TransactionalDelivery<CdcPosition>;
  encoder: EventEncoder;
  stats: ConnectorStats;
  log: Logger;
  batch: { maxEvents: number; maxDelayMs: number; maxAgeMs: number };
  shutdownTimeoutMs: number;
  /** Least time between two positions recorded without events (idle WAL). */
  positionIntervalMs: number;
  /** What the slot has confirmed (nothing below it will be streamed again). */
  startLsn: Lsn;
  /** The position stored in the offsets topic, if any. */
  recordedLsn: Lsn | null;
  /** Reconciles snapshot chunks with the stream (always present: watermarks are never published). */
  windows: ChunkWindows;
  /** WALCAST_ERRORS_TOLERANCE and what its messages and dead letters name. */
  errors: { tolerance: 'none' | 'all' } & FailureContext;
}

/** Errors one row raises when it cannot be published as it is (anything else ends the session). */
function isRowError(error: unknown): boolean {
  return error instanceof ValueDecodeError || error instanceof AvroEncodeError || error instanceof RecordTooLargeError;
}

export class CdcStream {
  private readonly options: StreamOptions;
  private readonly log: Logger;
  private readonly queue: ReplicationQueue;
  private readonly translator: ChangeTranslator;
  private readonly delivery: TransactionalDelivery<CdcPosition>;
  private readonly stats: ConnectorStats;
  private control: ReplicationControl | null = null;
  private stopRequestedAt: number | null = null;
  private operatorPaused = false;
  private delivered: Lsn;
  private recorded: Lsn;
  private lastRecordAt = 0;
  /** Snapshot chunks reconciled with the stream and published at their high watermarks. */
  private readonly snapshot: SnapshotChunks;
  /** Chunks read and waiting for their high watermark. */
  /** Callers waiting for the next commit that records a newly started snapshot (recordSnapshotProgress). */
  private progressWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** The row or logical message in progress: what a row error refers to. */
  private currentMessage: InsertMessage | UpdateMessage | DeleteMessage | LogicalMessage | null = null;
  private currentLsn: Lsn = 0n;
  /** Handle currentMessage again before the next item (a column was widened for it). */
  private retryCurrent = false;

  constructor(options: StreamOptions) {
    this.options = options;
    this.log = options.log.child({ component: 'stream' });
    this.queue = options.queue;
    this.translator = options.translator;
    this.delivery = options.delivery;
    this.stats = options.stats;
    this.snapshot = new SnapshotChunks(options.windows, {
      translator: options.translator,
      delivery: options.delivery,
      encoder: options.encoder,
      add: (events) => this.add(events),
      rowFailed: (failure) => this.rowFailed(failure),
      decodeFailure: (table, message, lsn) => this.decodeFailure(table, message, lsn),
      publishFailure: (error, table, message, lsn) => this.publishFailure(error, table, message, lsn),
    });
    this.delivered = options.recordedLsn !== null && options.recordedLsn > options.startLsn ? options.recordedLsn : options.startLsn;
    this.recorded = options.recordedLsn ?? 0n;
    this.stats.ackedLsn = this.delivered;
    // The slot was taken before this loop existed: what arrived since may already be counted.
    if (this.delivered > this.stats.receivedLsn) this.stats.receivedLsn = this.delivered;
  }

  attach(control: ReplicationControl): void {
    this.control = control;
    this.queue.attach(control);
  }

  /**
   * Operator pause: finish the PostgreSQL transaction in progress, commit, then stop reading
   * until resumed. Keepalives are still answered by the status timer.
   */
  setPaused(paused: boolean): void {
    this.operatorPaused = paused;
    this.queue.wakeUp();
  }

  /** Graceful stop: finish the current PostgreSQL transaction if it is already buffered, else abort. */
  requestStop(): void {
    this.stopRequestedAt ??= Date.now();
    this.queue.wakeUp();
  }

  /** A snapshot runs beside the stream: its chunks are published at their high watermarks. */
  attachSnapshot(snapshotter: Snapshotter): void {
    this.snapshot.attach(snapshotter);
  }

  /** The snapshot was stopped: chunks still in flight are dropped when their marks arrive. */
  detachSnapshot(): void {
    this.snapshot.detach();
  }

  /** Called by the snapshot's readers before they write a chunk's high watermark. */
  registerChunk = (chunk: ChunkRead): void => {
    this.snapshot.register(chunk);
  };

  /**
   * Resolves once a commit recorded the position together with the attached snapshot's progress;
   * rejects when the session ends first.
   */
  recordSnapshotProgress(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.progressWaiters.push({ resolve, reject });
      this.queue.wakeUp();
    });
  }

  /** Periodic standby status: keeps the walsender from timing out while the stream is paused. */
  sendStatus(): void {
    this.control?.sendStatus(this.stats.receivedLsn, this.stats.ackedLsn);
  }

  /** Runs until requestStop() (resolves) or a failure (rejects, after aborting the open Kafka transaction). */
  async run(): Promise<void> {
    try {
      for (;;) {
        try {
          await this.loop();
          return;
        } catch (error) {
          if (!(await this.recover(error))) throw error;
        }
      }
    } catch (error) {
      await this.delivery.abort();
      throw error;
    } finally {
      for (const w of this.progressWaiters.splice(0)) w.reject(new SnapshotRequestError(503, 'the connector\'s session ended before the snapshot was recorded: ask again once it streams'));
    }
  }

  private async loop(): Promise<void> {
    const { queue, translator } = this;
    for (;;) {
      if (this.retryCurrent) {
        this.retryCurrent = false;
        const waiting = this.handle(this.currentLsn, this.currentMessage!);
        if (waiting) await waiting;
        continue;
      }
      if (queue.failure) throw queue.failure;
      if (this.stopRequestedAt !== null && (await this.finishForStop())) return;
      if (this.operatorPaused && !translator.inTransaction) {
        await this.commitBatch();
        this.control?.pause();
        while (this.operatorPaused && this.stopRequestedAt === null && !queue.failure) await queue.wait(null);
        if (!this.stats.paused) this.control?.resume();
        continue;
      }
      const item = queue.take();
      if (item === undefined) {
        await this.idle();
        continue;
      }
      if (item.kind === 'keepalive') this.keepalive(item.walEnd, item.replyRequested);
      else {
        // Decoded only now (replication-stream.ts): a frame that does not decode ends the session.
        const waiting = this.handle(item.lsn, decodeFrame(item.frame));
        if (waiting) await waiting;
      }
    }
  }

  /**
   * After the loop failed: true when the failure was the row or message in progress and is dealt
   * with (a column widened, or the row dead-lettered), so the loop goes on; false to end the session.
   */
  private async recover(error: unknown): Promise<boolean> {
    const message = this.currentMessage;
    if (message === null || !isRowError(error)) return false;
    const { delivery, translator } = this;
    delivery.rollbackRow();
    if (message.tag !== 'message') translator.rewindRow(message);
    const failure = await this.diagnose(error as Error, message);
    if (failure === null) return false;
    if (failure === 'widened') {
      this.retryCurrent = true;
      return true;
    }
    await this.rowFailed(failure);
    // A message outside any transaction is a unit of its own: its position moves on with it.
    if (message.tag === 'message' && !message.transactional) this.delivery.completeUnit({ lsn: message.lsn, txId: null });
    return true;
  }

  /**
   * A row that cannot be published: WALCAST_ERRORS_TOLERANCE=none throws UnpublishableRowError;
   * all appends its dead-letter record to the Kafka transaction in progress and logs it.
   */
  private async rowFailed(failure: RowFailure): Promise<void> {
    const { delivery } = this;
    const { message } = failure;
    const { errors } = this.options;
    if (errors.tolerance === 'none') throw new UnpublishableRowError(failure, errors);
    let record;
    try {
      record = deadLetterRecord(errors.deadLetterTopic, deadLetterFor(failure, errors), delivery.topicLimit(errors.deadLetterTopic));
    } catch (cause) {
      // Even cut, the row does not fit the dead-letter topic: stopping is the only way not to lose it.
      if (cause instanceof DeadLetterTooLargeError) throw new UnpublishableRowError({ ...failure, cause: new DeadLetterTooLargeError(`${failure.cause.message}; ${cause.message}`) }, errors);
      throw cause;
    }
    if (!delivery.inTransaction) await delivery.begin();
    delivery.appendDeadLetter(record);
    const key = failure.table && message.tag !== 'message' ? keyDocument(failure.table, message) : null;
    this.log.warn(
      {
        code: failure.cause.code,
        table: failure.table ? `${failure.table.schema}.${failure.table.table}` : null,
        column: failure.column?.name ?? null,
        key,
        lsn: formatLsn(failure.lsn),
        xid: failure.xid,
        deadLetterTopic: errors.deadLetterTopic,
        cause: describeFailure(failure, errors),
      },
      'row sent to the dead-letter topic (WALCAST_ERRORS_TOLERANCE=all)',
    );
    const waiting = delivery.flushIfFull();
    if (waiting) await waiting;
  }

  /** What went wrong with one row: 'widened' when widening a column fixed it; null when it is not the row's fault. */
  private async diagnose(error: Error, message: RowMessage | LogicalMessage): Promise<RowFailure | 'widened' | null> {
    const { translator } = this;
    const lsn = this.currentLsn;
    const xid = translator.xid;
    if (message.tag === 'message') {
      if (!(error instanceof RecordTooLargeError)) return null;
      return { kind: 'too-large', stage: 'KAFKA_PRODUCE', className: 'walcast.kafka.TransactionalDelivery', cause: error, table: null, column: null, text: null, message, lsn, xid, topic: error.topic };
    }
    const table = translator.table(message.relationId);
    if (!table) return null;
    if (error instanceof RecordTooLargeError || error instanceof AvroEncodeError) return this.publishFailure(error, table, message, lsn);
    return this.decodeFailure(table, message, lsn);
  }

  /** A row whose event was refused on its way to Kafka (too large, or the encoder refused a value). */
  private publishFailure(error: RecordTooLargeError | AvroEncodeError, table: TableSchema, message: RowMessage, lsn: Lsn): RowFailure {
    const base = { table, message, lsn, xid: message.tag === 'read' ? null : this.translator.xid, topic: table.topic, column: null, text: null };
    return error instanceof RecordTooLargeError
      ? { ...base, kind: 'too-large', stage: 'KAFKA_PRODUCE', className: 'walcast.kafka.TransactionalDelivery', cause: error }
      : { ...base, kind: 'encode', stage: 'VALUE_CONVERTER', className: 'walcast.encode.AvroEncoder', cause: error };
  }

  /** A row whose text a codec refused: widen the column when its widened shape holds the value. null: no column refuses it. */
  private async decodeFailure(table: TableSchema, message: RowMessage, lsn: Lsn): Promise<RowFailure | 'widened' | null> {
    const { translator } = this;
    const failed = translator.diagnoseRow(message);
    if (failed === null) return null;
    const base = { table, message, lsn, xid: message.tag === 'read' ? null : translator.xid, topic: table.topic, column: failed.column, text: failed.text };
    if (!failed.widenable) return { ...base, kind: 'decode', stage: 'TASK_POLL', className: 'walcast.decode.ColumnCodec', cause: failed.error };
    try {
      await translator.widen(message.relationId, failed.column);
      return 'widened';
    } catch (cause) {
      if (!(cause instanceof WideningRefusedError)) throw cause;
      return { ...base, kind: 'schema', stage: 'VALUE_CONVERTER', className: 'walcast.encode.SchemaRegistryClient', cause };
    }
  }

  /** Nothing to read: commit a batch whose delay is over, record an idle position, or wait. */
  private async idle(): Promise<void> {
    const { delivery } = this;
    if (this.progressWaiters.length > 0 && !this.translator.inTransaction) {
      if (delivery.units > 0) await this.commitBatch();
      else await this.recordPosition();
      return;
    }
    if (delivery.units > 0 && !this.translator.inTransaction) {
      const remaining = this.options.batch.maxDelayMs - (Date.now() - delivery.firstUnitSince);
      if (remaining <= 0) await this.commitBatch();
      else await this.queue.wait(remaining);
      return;
    }
    if (this.stopRequestedAt !== null) {
      await this.queue.wait(50);
      return;
    }
    if (this.delivered > this.recorded && delivery.empty && !this.translator.inTransaction) {
      const remaining = this.options.positionIntervalMs - (Date.now() - this.lastRecordAt);
      if (remaining <= 0) await this.recordPosition();
      else await this.queue.wait(remaining);
      return;
    }
    await this.queue.wait(null);
  }

  /** true when the loop may end now. */
  private async finishForStop(): Promise<boolean> {
    const graceOver = Date.now() - this.stopRequestedAt! > this.options.shutdownTimeoutMs;
    if (!this.translator.inTransaction) {
      await this.commitBatch();
      if (this.delivered > this.recorded) {
        await this.recordPosition().catch((error: unknown) =>
          this.log.warn({ err: error }, 'could not record the idle position at stop; the slot keeps the WAL since the last commit until the next start'),
        );
      }
      return true;
    }
    if (graceOver || this.queue.empty) {
      this.log.info({ xid: this.translator.xid }, 'stopping inside a PostgreSQL transaction: aborting its Kafka transaction; it is redelivered on restart');
      await this.delivery.abort();
      return true;
    }
    return false;
  }

  private keepalive(walEnd: Lsn, replyRequested: boolean): void {
    // Idle: nothing buffered, in flight or half-read, so everything up to walEnd is delivered.
    const idle = !this.translator.inTransaction && this.delivery.empty && this.queue.empty;
    if (idle && walEnd > this.delivered) this.delivered = walEnd;
    if (walEnd > this.stats.receivedLsn) this.stats.receivedLsn = walEnd;
    if (replyRequested || idle) this.sendStatus();
  }

  /**
   * Row changes are handled synchronously and return a promise only when they have to wait (a
   * transaction to begin, a chunk to send, a batch to commit): an async function per event cost a
   * quarter of walcast's allocations, and survivors of those are what the scavenger copies.
   */
  private handle(lsn: Lsn, message: PgoutputMessage): Promise<void> | undefined {
    switch (message.tag) {
      case 'begin': {
        this.snapshot.transaction(message.xid);
        const { delivery } = this;
        if (
          delivery.units > 0 &&
          (delivery.events >= this.options.batch.maxEvents || Date.now() - delivery.firstUnitAt >= this.options.batch.maxAgeMs)
        ) {
          return this.commitBatch().then(() => this.translator.begin(message));
        }
        this.translator.begin(message);
        return undefined;
      }
      case 'commit': {
        const { xid, skipped } = this.translator.commit(message);
        if (skipped) {
          this.log.debug({ xid, lsn: formatLsn(message.endLsn) }, 'skipped transaction already in Kafka');
          if (this.delivery.empty && message.endLsn > this.delivered) this.delivered = message.endLsn;
          return undefined;
        }
        this.delivery.completeUnit({ lsn: message.endLsn, txId: xid }, this.queue.busySince);
        this.stats.lastCommitTimeMicros = message.commitTimeMicros;
        if (this.delivery.events >= this.options.batch.maxEvents) return this.commitBatch();
        return undefined;
      }
      case 'type':
      case 'origin':
        return undefined;
      case 'insert':
      case 'update':
      case 'delete': {
        this.currentMessage = message;
        this.currentLsn = lsn;
        this.delivery.markRow();
        this.snapshot.change(message);
        const events = this.translator.row(lsn, message);
        if (events === null) return undefined;
        if (events instanceof Promise) {
          // A table's first change after a new shape: its topic and schemas were made ready.
          return events.then((ready) => {
            this.stats.tables = this.translator.capturedTables;
            return ready === null ? undefined : this.add(ready);
          });
        }
        return this.add(events);
      }
      case 'relation':
        return this.translator.relation(message);
      case 'truncate':
        this.snapshot.truncated(message.relationIds);
        return this.translator.truncate(lsn, message).then((events) => {
          this.stats.tables = this.translator.capturedTables;
          return events.length === 0 ? undefined : this.add(events);
        });
      case 'message':
        if (message.prefix === WATERMARK_PREFIX) {
          // Snapshot rows deal with their own failures (watermark()): none is the message's.
          this.currentMessage = null;
          return this.snapshot.watermark(message.lsn, message.content, message.transactional);
        }
        this.currentMessage = message;
        this.currentLsn = lsn;
        this.delivery.markRow();
        return this.translator.logicalMessage(message).then(async ({ events, unitEnd }) => {
          if (events.length > 0) await this.add(events);
          if (unitEnd !== null) this.delivery.completeUnit({ lsn: unitEnd, txId: null });
        });
    }
  }

  /** The records of a RowChange, as the encoder makes them. */
  private rowTopic = '';
  private readonly appendRow = (key: Buffer | null, value: Buffer | null): void => {
    this.delivery.append({ topic: this.rowTopic, key, value });
  };

  private add(events: ChangeEvent[] | RowChange): Promise<void> | undefined {
    const { delivery } = this;
    if (!delivery.inTransaction) return delivery.begin().then(() => this.add(events));
    const { encoder } = this.options;
    if (!Array.isArray(events)) {
      this.rowTopic = events.table.topic;
      encoder.encodeRow!(events, this.appendRow);
      return delivery.flushIfFull();
    }
    for (const event of events) {
      delivery.append({ topic: event.schema.topic, key: encoder.encodeKey(event), value: encoder.encodeValue(event) });
    }
    return delivery.flushIfFull();
  }

  private async commitBatch(): Promise<void> {
    const result = await this.recording(() => this.delivery.commit(), (r) => r !== null && r.recorded);
    if (!result) return;
    const { lsn } = result.position;
    if (lsn > this.delivered) this.delivered = lsn;
    if (result.recorded) this.recorded = lsn;
    if (result.recorded) this.lastRecordAt = Date.now();
    this.acknowledge();
  }

  /** Records `delivered` without events, so that the slot may be confirmed up to it. */
  private async recordPosition(): Promise<void> {
    const lsn = this.delivered;
    this.lastRecordAt = Date.now();
    await this.recording(() => this.delivery.commitPosition({ lsn, txId: null }), () => true);
    this.recorded = lsn;
    this.acknowledge();
  }

  /**
   * Runs a commit for the snapshot-progress waiters registered before it began: they are resolved
   * when it recorded the position (with the progress), and wait for the next commit otherwise.
   */
  private async recording<T>(commit: () => Promise<T>, recorded: (result: T) => boolean): Promise<T> {
    const waiting = this.progressWaiters.splice(0);
    let done = false;
    try {
      const result = await commit();
      done = recorded(result);
      return result;
    } finally {
      if (done) for (const w of waiting) w.resolve();
      else this.progressWaiters.unshift(...waiting);
    }
  }

  private acknowledge(): void {
    if (this.recorded > this.stats.ackedLsn) this.stats.ackedLsn = this.recorded;
    this.sendStatus();
  }
}
