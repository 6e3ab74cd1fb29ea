/**
 * The streaming loop: replication items in, Kafka transactions out, slot acknowledged only up to
 * what Kafka has committed.
 *
 * Batching: whole PostgreSQL transactions share a Kafka transaction until it holds
 * `batch.maxEvents` events, the input runs dry for `batch.maxDelayMs` (low latency when keeping
 * up), or it has been open `batch.maxAgeMs` (bounded latency while catching up). Inside a Kafka
 * transaction events go out in chunks, one produce request in flight while the next chunk is
 * encoded, so a huge PostgreSQL transaction streams through bounded memory.
 */
import type { WalcastConfig } from './config/load.ts';
import type { EventEncoder } from './encode/encoder.ts';
import { IncompatibleSchemaError } from './encode/registry.ts';
import { WalcastError } from './errors.ts';
import { ChangeEventBuilder, type ChangeEvent, type TransactionContext } from './events/change-events.ts';
import { buildTableSchema, messageEventSchema, type EventSchema, type TableSchema } from './events/table-schema.ts';
import { offsetRecord } from './kafka/offsets.ts';
import type { KafkaRecord, TransactionalProducer } from './kafka/producer.ts';
import type { TopicManager } from './kafka/topics.ts';
import type { Logger } from './log.ts';
import type { Catalog } from './pg/catalog.ts';
import { formatLsn, type Lsn } from './pg/lsn.ts';
import type { BeginMessage, LogicalMessage, PgoutputMessage, RelationMessage, TruncateMessage } from './source/cdc/pgoutput.ts';
import type { ReplicationItem } from './source/cdc/replication-stream.ts';
import { selectsTable } from './pg/table-filter.ts';

/** Largest produce request walcast builds: brokers refuse record batches over message.max.bytes (1 MiB default). */
const SEND_CHUNK_BYTES = 900 * 1024;
/** Replication bytes buffered before the stream is paused, whatever the message count. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

export interface ReplicationControl {
  pause(): void;
  resume(): void;
  sendStatus(received: Lsn, flushed: Lsn, replyRequested?: boolean): void;
}

export interface PipelineStats {
  eventsSent: number;
  transactionsDelivered: number;
  kafkaCommits: number;
  /** End LSN of the last PostgreSQL transaction committed to Kafka: what the slot has been told. */
  ackedLsn: Lsn;
  receivedLsn: Lsn;
  lastCommitTimeMicros: bigint | null;
  lastKafkaCommitAt: number | null;
  bufferedMessages: number;
  paused: boolean;
  tables: number;
}

export interface PipelineOptions {
  config: WalcastConfig;
  log: Logger;
  producer: TransactionalProducer;
  encoder: EventEncoder;
  topics: TopicManager;
  catalog: Catalog;
  database: string;
  version: string;
  sourceId: string;
  /** Transactions whose commit record lies below this LSN are already in Kafka: skip them. */
  skipBelow: Lsn | null;
  /** Position the slot has already confirmed (nothing below it will be streamed again). */
  startLsn: Lsn;
  /** Counters to continue from (the previous session's), so metrics stay monotonic across restarts. */
  stats?: PipelineStats;
}

interface Batch {
  open: boolean;
  records: KafkaRecord[];
  recordBytes: number;
  events: number;
  completeTransactions: number;
  lastEndLsn: Lsn | null;
  lastXid: number | null;
  firstCompleteAt: number;
}

function emptyBatch(): Batch {
  return { open: false, records: [], recordBytes: 0, events: 0, completeTransactions: 0, lastEndLsn: null, lastXid: null, firstCompleteAt: 0 };
}

export class Pipeline {
  readonly stats: PipelineStats;
  private readonly options: PipelineOptions;
  private readonly log: Logger;
  private readonly builder: ChangeEventBuilder;
  private readonly messageSchema: EventSchema;
  private control: ReplicationControl | null = null;

  private queue: ReplicationItem[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private stopRequestedAt: number | null = null;
  private operatorPaused = false;

  private readonly tables = new Map<number, TableSchema | null>();
  private tx: TransactionContext | null = null;
  private skipping = false;
  private previousCommitLsn: Lsn | null = null;
  private batch = emptyBatch();
  private inflight: Promise<void> | null = null;

  constructor(options: PipelineOptions) {
    this.options = options;
    this.log = options.log.child({ component: 'pipeline' });
    this.builder = new ChangeEventBuilder({
      connectorName: options.config.events.topicPrefix,
      database: options.database,
      version: options.version,
      tombstones: options.config.events.tombstones,
      toastPlaceholder: options.config.events.toastPlaceholder,
    });
    this.messageSchema = messageEventSchema(options.config.events.topicPrefix);
    this.stats = options.stats ?? {
      eventsSent: 0,
      transactionsDelivered: 0,
      kafkaCommits: 0,
      ackedLsn: options.startLsn,
      receivedLsn: options.startLsn,
      lastCommitTimeMicros: null,
      lastKafkaCommitAt: null,
      bufferedMessages: 0,
      paused: false,
      tables: 0,
    };
    this.stats.ackedLsn = options.startLsn;
    this.stats.receivedLsn = options.startLsn;
    this.stats.bufferedMessages = 0;
    this.stats.paused = false;
  }

  attach(control: ReplicationControl): void {
    this.control = control;
  }

  /** Called by the replication stream for every frame, synchronously from the socket handler. */
  push = (item: ReplicationItem): void => {
    this.queue.push(item);
    if (item.kind === 'message') {
      this.queuedBytes += item.size;
      if (item.lsn > this.stats.receivedLsn) this.stats.receivedLsn = item.lsn;
    }
    const buffered = this.queue.length - this.queueHead;
    this.stats.bufferedMessages = buffered;
    if (!this.stats.paused && (buffered >= this.options.config.batch.maxBufferedMessages || this.queuedBytes >= MAX_BUFFERED_BYTES)) {
      this.stats.paused = true;
      this.control?.pause();
    }
    this.wakeUp();
  };

  /** A fatal error from the stream (connection lost, undecodable frame): the loop rethrows it. */
  fail = (error: Error): void => {
    this.failure ??= error;
    this.wakeUp();
  };

  /**
   * Operator pause (management API): finish the PostgreSQL transaction in progress, commit, then
   * stop reading until resume(). Keepalives are still answered by the status timer.
   */
  setPaused(paused: boolean): void {
    this.operatorPaused = paused;
    this.wakeUp();
  }

  get paused(): boolean {
    return this.operatorPaused;
  }

  /** Graceful stop: finish the current PostgreSQL transaction if it is already buffered, else abort. */
  requestStop(): void {
    this.stopRequestedAt ??= Date.now();
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private take(): ReplicationItem | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const item = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as ReplicationItem;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (item.kind === 'message') this.queuedBytes -= item.size;
    const buffered = this.queue.length - this.queueHead;
    this.stats.bufferedMessages = buffered;
    if (this.stats.paused && buffered <= this.options.config.batch.maxBufferedMessages / 2 && this.queuedBytes <= MAX_BUFFERED_BYTES / 2) {
      this.stats.paused = false;
      this.control?.resume();
    }
    return item;
  }

  private waitForItem(timeoutMs: number | null): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === null ? null : setTimeout(() => {
        this.wake = null;
        resolve();
      }, timeoutMs);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Runs until requestStop() (resolves) or a failure (rejects, after aborting the open Kafka transaction). */
  async run(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.stopRequestedAt !== null && (await this.finishForStop())) return;
        if (this.operatorPaused && this.tx === null) {
          await this.commitBatch();
          this.control?.pause();
          while (this.operatorPaused && this.stopRequestedAt === null && !this.failure) await this.waitForItem(null);
          if (!this.stats.paused) this.control?.resume();
          continue;
        }
        const item = this.take();
        if (item === undefined) {
          if (this.batch.completeTransactions > 0 && this.tx === null) {
            const waited = Date.now() - this.batch.firstCompleteAt;
            const remaining = this.options.config.batch.maxDelayMs - waited;
            if (remaining <= 0) await this.commitBatch();
            else await this.waitForItem(remaining);
          } else {
            await this.waitForItem(this.stopRequestedAt === null ? null : 50);
          }
          continue;
        }
        if (item.kind === 'keepalive') this.keepalive(item.walEnd, item.replyRequested);
        else {
          const waiting = this.handle(item.lsn, item.message);
          if (waiting) await waiting;
        }
      }
    } catch (error) {
      await this.abortBatch();
      throw error;
    }
  }

  /** true when the loop may end now. */
  private async finishForStop(): Promise<boolean> {
    const graceOver = Date.now() - this.stopRequestedAt! > this.options.config.shutdownTimeoutMs;
    const nothingBuffered = this.queueHead >= this.queue.length;
    if (this.tx === null) {
      await this.commitBatch();
      return true;
    }
    if (graceOver || nothingBuffered) {
      this.log.info({ xid: this.tx.xid }, 'stopping inside a PostgreSQL transaction: aborting its Kafka transaction; it is redelivered on restart');
      await this.abortBatch();
      return true;
    }
    return false;
  }

  private keepalive(walEnd: Lsn, replyRequested: boolean): void {
    // Idle: nothing buffered, in flight or half-read, so everything up to walEnd is delivered.
    const idle = this.tx === null && !this.batch.open && this.batch.completeTransactions === 0 && this.queueHead >= this.queue.length;
    if (idle && walEnd > this.stats.ackedLsn) this.stats.ackedLsn = walEnd;
    if (walEnd > this.stats.receivedLsn) this.stats.receivedLsn = walEnd;
    if (replyRequested || idle) this.control?.sendStatus(this.stats.receivedLsn, this.stats.ackedLsn);
  }

  /** Periodic standby status: keeps the walsender from timing out while the stream is paused. */
  sendStatus(): void {
    this.control?.sendStatus(this.stats.receivedLsn, this.stats.ackedLsn);
  }

  /**
   * Row changes are handled synchronously and return a promise only when they have to wait (a
   * transaction to begin, a chunk to send, a batch to commit): an async function per event cost a
   * quarter of walcast's allocations, and survivors of those are what the scavenger copies.
   */
  private handle(lsn: Lsn, message: PgoutputMessage): Promise<void> | undefined {
    switch (message.tag) {
      case 'begin': {
        const { batch } = this;
        if (
          batch.completeTransactions > 0 &&
          (batch.events >= this.options.config.batch.maxEvents || Date.now() - batch.firstCompleteAt >= this.options.config.batch.maxAgeMs)
        ) {
          return this.commitBatch().then(() => this.begin(message));
        }
        this.begin(message);
        return undefined;
      }
      case 'commit': {
        this.previousCommitLsn = message.endLsn;
        const tx = this.tx;
        this.tx = null;
        if (this.skipping) {
          this.skipping = false;
          this.log.debug({ xid: tx?.xid, lsn: formatLsn(message.endLsn) }, 'skipped transaction already in Kafka');
          if (!this.batch.open && this.batch.completeTransactions === 0 && message.endLsn > this.stats.ackedLsn) {
            this.stats.ackedLsn = message.endLsn;
          }
          return undefined;
        }
        this.completeUnit(message.endLsn, tx?.xid ?? null);
        this.stats.lastCommitTimeMicros = message.commitTimeMicros;
        if (this.batch.events >= this.options.config.batch.maxEvents) return this.commitBatch();
        return undefined;
      }
      case 'type':
      case 'origin':
        return undefined;
      case 'insert': {
        const table = this.tableFor(message.relationId);
        if (this.skipping || !table) return undefined;
        return this.add(this.builder.insert(table, this.requireTx(), lsn, message.newTuple));
      }
      case 'update': {
        const table = this.tableFor(message.relationId);
        if (this.skipping || !table) return undefined;
        return this.add(this.builder.update(table, this.requireTx(), lsn, message.oldTuple, message.oldTupleKind, message.newTuple));
      }
      case 'delete': {
        const table = this.tableFor(message.relationId);
        if (this.skipping || !table) return undefined;
        return this.add(this.builder.delete(table, this.requireTx(), lsn, message.oldTuple));
      }
      case 'relation':
      case 'truncate':
      case 'message':
        return this.handleRare(lsn, message);
    }
  }

  private begin(message: BeginMessage): void {
    this.skipping = this.options.skipBelow !== null && message.finalLsn < this.options.skipBelow;
    this.tx = {
      xid: message.xid,
      commitTimeMicros: message.commitTimeMicros,
      finalLsn: message.finalLsn,
      previousCommitLsn: this.previousCommitLsn,
      totalOrder: 0,
      orderByTable: new Map(),
    };
  }

  private async handleRare(lsn: Lsn, message: RelationMessage | TruncateMessage | LogicalMessage): Promise<void> {
    switch (message.tag) {
      case 'relation':
        await this.relation(message);
        return;
      case 'truncate': {
        if (this.skipping) return;
        for (const relationId of message.relationIds) {
          const table = this.tableFor(relationId);
          if (table) await this.add(this.builder.truncate(table, this.requireTx(), lsn));
        }
        return;
      }
      case 'message': {
        if (message.transactional) {
          if (this.skipping) return;
          await this.prepare(this.messageSchema);
          await this.add([this.builder.message(this.messageSchema, this.requireTx(), message.lsn, message.prefix, message.content)]);
          return;
        }
        // Non-transactional messages arrive outside any transaction and are a unit of their own.
        if (this.options.skipBelow !== null && message.lsn < this.options.skipBelow) return;
        await this.prepare(this.messageSchema);
        await this.add([this.builder.message(this.messageSchema, null, message.lsn, message.prefix, message.content)]);
        this.completeUnit(message.lsn, null);
        return;
      }
    }
  }

  private requireTx(): TransactionContext {
    if (!this.tx) throw new Error('internal: row change outside a transaction');
    return this.tx;
  }

  private completeUnit(endLsn: Lsn, xid: number | null): void {
    const { batch } = this;
    if (batch.completeTransactions === 0) batch.firstCompleteAt = Date.now();
    batch.completeTransactions += 1;
    batch.lastEndLsn = endLsn;
    batch.lastXid = xid;
  }

  private tableFor(relationId: number): TableSchema | null {
    const table = this.tables.get(relationId);
    if (table === undefined) throw new Error(`internal: row for relation ${relationId} before its Relation message`);
    return table;
  }

  private async relation(message: RelationMessage): Promise<void> {
    if (!selectsTable(this.options.config.pg.tables, message.schema, message.table)) {
      this.tables.set(message.relationId, null);
      return;
    }
    const { catalog } = this.options;
    // Relation messages follow DDL: refresh type definitions (new enum labels, altered domains).
    await catalog.loadTypes(message.columns.map((c) => c.typeOid), true);
    const details = await catalog.relationDetails(message.relationId);
    const table = buildTableSchema({
      topicPrefix: this.options.config.events.topicPrefix,
      relationId: message.relationId,
      schema: message.schema,
      table: message.table,
      columns: message.columns.map((c) => ({ ...c, dimensions: details.arrayDimensions.get(c.name) })),
      primaryKey: details.primaryKey,
      lookupType: catalog.lookup,
      codecOptions: { decimalHandling: this.options.config.events.decimalHandling, moneyFractionDigits: this.options.config.events.moneyFractionDigits },
    });
    const previous = this.tables.get(message.relationId);
    // Registered before the first event that needs it: a rejected version stops walcast here,
    // with nothing of the current transaction committed or acknowledged.
    try {
      await this.prepare(table);
    } catch (error) {
      if (error instanceof IncompatibleSchemaError) throw incompatibleTableChange(error, table, previous ?? null, this.options.config.registry.url);
      throw error;
    }
    if (previous && previous.fingerprint !== table.fingerprint) {
      this.log.info({ table: `${table.schema}.${table.table}`, topic: table.topic }, 'table shape changed: new schema version registered');
    }
    this.tables.set(message.relationId, table);
    this.stats.tables = [...this.tables.values()].filter((t) => t !== null).length;
  }

  private async prepare(schema: EventSchema): Promise<void> {
    await this.options.topics.ensure([schema.topic]);
    await this.options.encoder.prepare(schema);
  }

  private add(events: ChangeEvent[]): Promise<void> | undefined {
    const { batch } = this;
    if (!batch.open) return this.beginKafkaTransaction().then(() => this.add(events));
    const { encoder } = this.options;
    for (const event of events) {
      const key = encoder.encodeKey(event);
      const value = encoder.encodeValue(event);
      batch.records.push({ topic: event.schema.topic, key, value });
      batch.recordBytes += (key?.length ?? 0) + (value?.length ?? 0) + 64;
      batch.events += 1;
    }
    if (batch.records.length >= this.options.config.batch.sendChunkEvents || batch.recordBytes >= SEND_CHUNK_BYTES) {
      return this.flushChunk();
    }
    return undefined;
  }

  private async beginKafkaTransaction(): Promise<void> {
    await this.options.producer.begin();
    this.batch.open = true;
  }

  private async flushChunk(): Promise<void> {
    const { batch } = this;
    if (batch.records.length === 0) return;
    if (this.inflight) await this.inflight;
    const chunk = batch.records;
    batch.records = [];
    batch.recordBytes = 0;
    const sending = this.options.producer.send(chunk);
    // Observed when awaited (next chunk or commit); keep it from counting as unhandled meanwhile.
    sending.catch(() => undefined);
    this.inflight = sending;
  }

  private async commitBatch(): Promise<void> {
    const { batch } = this;
    if (batch.completeTransactions === 0 || batch.lastEndLsn === null) return;
    const endLsn = batch.lastEndLsn;
    if (batch.open) {
      batch.records.push(
        offsetRecord(this.options.config.kafka.offsetsTopic, this.options.sourceId, { lsn: endLsn, txId: batch.lastXid, tsMs: Date.now() }),
      );
      await this.flushChunk();
      await this.inflight;
      this.inflight = null;
      await this.options.producer.commit();
      this.stats.kafkaCommits += 1;
      this.stats.eventsSent += batch.events;
      this.stats.lastKafkaCommitAt = Date.now();
    }
    this.stats.transactionsDelivered += batch.completeTransactions;
    this.batch = emptyBatch();
    if (endLsn > this.stats.ackedLsn) this.stats.ackedLsn = endLsn;
    this.control?.sendStatus(this.stats.receivedLsn, this.stats.ackedLsn);
  }

  private async abortBatch(): Promise<void> {
    const wasOpen = this.batch.open;
    this.batch = emptyBatch();
    const inflight = this.inflight;
    this.inflight = null;
    await inflight?.catch(() => undefined);
    if (wasOpen) {
      await this.options.producer.abort().catch((error: unknown) => this.log.warn({ err: error }, 'abort of the open Kafka transaction failed; the broker aborts it at its timeout or when walcast restarts'));
    }
  }
}

/** Describes what changed in the table's shape, for the operator reading the error at 3 a.m. */
export function describeShapeChange(previous: TableSchema | null, next: TableSchema): string {
  if (!previous) return `current columns: ${next.columns.map((c) => `${c.name} ${c.typeName}`).join(', ')}`;
  const before = new Map(previous.columns.map((c) => [c.name, c.typeName]));
  const after = new Map(next.columns.map((c) => [c.name, c.typeName]));
  const changes: string[] = [];
  for (const [name, type] of after) {
    if (!before.has(name)) changes.push(`added ${name} ${type}`);
    else if (before.get(name) !== type) changes.push(`changed ${name} from ${before.get(name)} to ${type}`);
  }
  for (const [name, type] of before) if (!after.has(name)) changes.push(`dropped ${name} ${type}`);
  return changes.length > 0 ? changes.join('; ') : 'column types kept, annotations changed';
}

function incompatibleTableChange(error: IncompatibleSchemaError, table: TableSchema, previous: TableSchema | null, registryUrl: string): WalcastError {
  const subject = error.subject;
  const base = registryUrl.replace(/\/+$/, '').replace(/\/\/[^@/]*@/, '//');
  return new WalcastError(
    'WALCAST_INCOMPATIBLE_SCHEMA',
    `table ${table.schema}.${table.table} changed shape (${describeShapeChange(previous, table)}) and the schema registry rejected ` +
      `the new version of ${subject} as incompatible: ${error.message.replace(/^.*?incompatible: /, '')}. ` +
      `Nothing after the last delivered transaction was acknowledged. Ways out: ` +
      `(1) allow it for this subject: curl -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"NONE"}' ${base}/config/${encodeURIComponent(subject)} ; ` +
      `(2) revert the DDL; (3) stop capturing the table (WALCAST_TABLES). Then restart walcast: it resumes from the last delivered transaction.`,
    error.exitCode,
    { cause: error },
  );
}
