/**
 * The sink connector: one session consumes the change topics in a Kafka consumer group
 * (read_committed) and applies each partition's fetched batch in one PostgreSQL transaction
 * together with the partition's offsets row (apply.ts, offsets.ts).
 *
 * Positions: the offsets table is the truth, Kafka's group offsets only a hint (committed after
 * the PostgreSQL commit, so never ahead of it). When this process is handed a partition it claims
 * the partition's row (bumping its epoch, which fences the previous owner) and reads the next
 * offset; a batch is applied only when the fetch started at or before that offset (records below
 * it are skipped), otherwise the consumer is sent back to it. A batch's records are contiguous
 * from the fetch offset (kafkajs drops only control records and aborted transactions), so nothing
 * is skipped unseen and nothing is applied twice.
 */
import { hostname } from 'node:os';
import type { Batch, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type pg from 'pg';
import type { SinkConfig } from '../config/load.ts';
import type { Connector, ConnectorStats, ErrorVerdict, SessionContext } from '../connector.ts';
import { RegistryUnavailableError, SchemaRegistryClient } from '../encode/registry.ts';
import { ExitCode, WalcastError } from '../errors.ts';
import { deadLetterRecord, type ErrorStage } from '../kafka/dead-letter.ts';
import { createKafka, type KafkaRecord } from '../kafka/producer.ts';
import { TopicManager } from '../kafka/topics.ts';
import { checkKafkaTls, kafkaSecurityError } from '../kafka/security.ts';
import type { Logger } from '../log.ts';
import { negotiateTls, newClient, pgAddress } from '../pg/connect.ts';
import { pgTlsError } from '../pg/tls.ts';
import { BatchApplier } from './apply.ts';
import { SinkDeadLetters } from './dead-letters.ts';
import { ChangeDecoder, RecordDecodeError, SinkRecordError, transientDecodeError, type SinkChange } from './decode.ts';
import { SinkOffsets } from './offsets.ts';
import { SinkStats } from './stats.ts';
import { TargetTables } from './target.ts';

/** How often the positions are also committed to the consumer group (for lag tools and a quicker start). */
const GROUP_COMMIT_INTERVAL_MS = 2000;
/** Where the dead-letter publisher keeps the last outbox id it published (the source's default offsets topic). */
const SINK_OFFSETS_TOPIC = 'walcast-offsets';

/** Kafka's default max.message.bytes: what a dead-letter record must fit (a consumed record did). */
const DEAD_LETTER_LIMIT = 1_048_588;

/** A batch error that one record causes (its data), found again by applying the batch in parts. */
function refusedRecord(error: unknown): boolean {
  if (error instanceof SinkRecordError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** PostgreSQL errors that a retry does not cure: the data or the target's definition must change. */
function permanentPgError(code: string): boolean {
  return code.startsWith('22') || code.startsWith('23') || code.startsWith('42') || code.startsWith('28') || code === '3D000' || code === '0A000';
}

interface PartitionState {
  /** The GROUP_JOIN this claim belongs to. */
  join: number;
  epoch: string;
  /** next_offset in the offsets table (what the next apply compares). */
  persisted: bigint | null;
  /** Next offset to apply: past persisted when batches held only tombstones or control records. */
  position: bigint | null;
}

/** One task of a worker's sink (tasks.max): its number names its consumer in the offsets table. */
export interface SinkTask {
  task: number;
}

export class SinkConnector implements Connector {
  readonly type = 'sink' as const;
  private readonly config: SinkConfig;
  /** Who claims partitions in the offsets table: the process, and the task within it. */
  private readonly owner: string;

  constructor(config: SinkConfig, task?: SinkTask) {
    this.config = config;
    this.owner = `${hostname()}/${process.pid}${task ? `/task-${task.task}` : ''}`;
  }

  get name(): string {
    return this.config.name;
  }

  classify(thrown: unknown): ErrorVerdict {
    const security = kafkaSecurityError(thrown) ?? pgTlsError(thrown);
    if (security) return { permanent: true, exitCode: security.exitCode, message: security.message, code: security.code };
    // An error of the batch handler reaches the CRASH event wrapped by kafkajs's retrier.
    let error = thrown;
    while (error instanceof Error && error.name.startsWith('KafkaJS') && error.cause instanceof Error) error = error.cause;
    if (error instanceof RegistryUnavailableError) return { permanent: false, exitCode: ExitCode.unreachable, message: error.message };
    if (error instanceof WalcastError) return { permanent: true, exitCode: error.exitCode, message: error.message };
    if (error instanceof SinkRecordError) return { permanent: true, exitCode: ExitCode.unpublishableRow, message: error.message };
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && permanentPgError(code)) {
      const exitCode = code.startsWith('28') || code === '3D000' ? ExitCode.config : ExitCode.unpublishableRow;
      return { permanent: true, exitCode, message: `the target database refused a batch (${code}): ${(error as Error).message}` };
    }
    return { permanent: false, exitCode: ExitCode.unreachable, message: (error as Error)?.message ?? String(error) };
  }

  async cleanup(): Promise<void> {}

  async runSession(context: SessionContext): Promise<void> {
    const { config } = this;
    const { log, signal } = context;
    const stats = (context.stats.sink ??= new SinkStats());
    let client: pg.Client | null = null;
    let consumer: Consumer | null = null;
    let registry: SchemaRegistryClient | null = null;
    let topics: TopicManager | null = null;
    let session: SinkSession | null = null;
    let failSession: (error: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => {
      failSession = reject;
    });
    failed.catch(() => undefined);
    try {
      context.stage(`connecting to the target PostgreSQL ${pgAddress(config.pg.connection)} (WALCAST_SINK_PG_URL)`);
      client = newClient(await negotiateTls(config.pg.connection));
      client.on('error', (error) => failSession(error));
      await client.connect();
      const offsets = new SinkOffsets(config.offsetsTable, config.groupId);
      context.stage(`creating the offsets table ${config.offsetsTable} (WALCAST_SINK_OFFSETS_TABLE)`);
      await offsets.ensureTable(client);
      if (config.registry.url) {
        registry = new SchemaRegistryClient(config.registry);
        context.stage(`checking the schema registry ${registry.origin} (WALCAST_SCHEMA_REGISTRY_URL)`);
        await registry.check();
      }
      context.stage(`joining consumer group ${config.groupId} on Kafka ${config.kafka.brokers.join(',')} (WALCAST_KAFKA_BROKERS)`);
      await checkKafkaTls(config.kafka.brokers, config.kafka.security);
      const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, security: config.kafka.security, log });
      consumer = kafka.consumer({
        groupId: config.groupId,
        readUncommitted: false,
        sessionTimeout: config.sessionTimeoutMs,
        heartbeatInterval: Math.max(100, Math.floor(config.sessionTimeoutMs / 5)),
        maxBytesPerPartition: config.fetchMaxBytesPerPartition,
        maxBytes: Math.max(config.fetchMaxBytesPerPartition, 4 * config.fetchMaxBytesPerPartition),
        maxWaitTimeInMs: 250,
        allowAutoTopicCreation: false,
        // A failed batch ends the session; the supervisor restarts it from the offsets table.
        retry: { retries: 5, restartOnFailure: async () => false },
      });
      let deadLetters: SinkDeadLetters | null = null;
      if (config.errors.tolerance === 'all') {
        context.stage(`creating the dead-letter topic ${config.errors.deadLetterQueueTopicName} (WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME)`);
        deadLetters = new SinkDeadLetters({
          table: `${config.offsetsTable}_dlq`,
          groupId: config.groupId,
          deadLetterTopic: config.errors.deadLetterQueueTopicName,
          offsetsTopic: SINK_OFFSETS_TOPIC,
          kafka,
          topics: (topics = new TopicManager(kafka, { partitions: 1, replicationFactor: -1 })),
          log,
        });
        await deadLetters.ensure(client);
        // What an earlier session committed to the outbox and did not get to publish.
        await deadLetters.publish(client);
      }
      const current = new SinkSession({
        config,
        owner: this.owner,
        client,
        consumer,
        offsets,
        stats,
        connectorStats: context.stats,
        log,
        decoder: new ChangeDecoder(registry, config.toastPlaceholder, config.records ?? 'envelope'),
        deadLetters,
        fail: (error) => failSession(error),
      });
      session = current;
      consumer.on(consumer.events.CRASH, (event) => failSession(event.payload.error));
      consumer.on(consumer.events.GROUP_JOIN, (event) => current.joined(Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}/${p}`))));
      await consumer.connect();
      await consumer.subscribe({ topics: config.topics.length > 0 ? config.topics : [config.topicsRegex!], fromBeginning: true });
      const applyPause = (paused: boolean): void => current.setPaused(paused);
      const unsubscribe = context.onPauseChange(applyPause);
      try {
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => current.eachBatch(payload),
        });
        context.running();
        if (context.isPaused()) current.setPaused(true);
        log.info({ group: config.groupId, topics: config.topics.length > 0 ? config.topics : String(config.topicsRegex), partitions: stats.partitions }, 'sink running');
        await Promise.race([failed, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
      } finally {
        unsubscribe();
      }
    } finally {
      await consumer?.disconnect().catch(() => undefined);
      // An apply still in flight finishes (or fails) before its connection is closed.
      await session?.drain();
      await topics?.disconnect().catch(() => undefined);
      await client?.end().catch(() => undefined);
      registry?.close();
    }
  }
}

interface SessionParts {
  config: SinkConfig;
  /** This consumer in the offsets table's owner column. */
  owner: string;
  client: pg.Client;
  consumer: Consumer;
  offsets: SinkOffsets;
  stats: SinkStats;
  connectorStats: ConnectorStats;
  log: Logger;
  decoder: ChangeDecoder;
  /** The outbox of dead letters (WALCAST_ERRORS_TOLERANCE=all), else null. */
  deadLetters: SinkDeadLetters | null;
  /** Ends the session: an apply that failed after its eachBatch returned. */
  fail(error: unknown): void;
}

/** A record that could not be decoded or applied. */
interface RecordFailure {
  message: KafkaMessage;
  stage: ErrorStage;
  error: Error & { code?: string };
  /** The target table, when the failure is the target's refusal. */
  table?: string;
}

/** One session's partitions and their positions, and the batch loop. */
class SinkSession {
  private readonly parts: SessionParts;
  private readonly applier: BatchApplier;
  private readonly partitions = new Map<string, PartitionState>();
  /** Resumes partitions paused after losing them to another process, at the next rebalance. */
  private resumeFenced: Array<() => void> = [];
  private joins = 0;
  private assigned: string[] = [];
  private lastGroupCommit = 0;
  private readonly groupOffsets = new Map<string, { topic: string; partition: number; offset: string }>();
  /** The apply in flight (never rejects: a failure ends the session through `fail`). */
  private inflight: Promise<void> = Promise.resolve();

  constructor(parts: SessionParts) {
    this.parts = parts;
    this.applier = new BatchApplier({
      tableNameFormat: parts.config.tableNameFormat,
      fold: { primaryKeyFields: parts.config.primaryKeyFields, deleteEnabled: parts.config.deleteEnabled, truncateEnabled: parts.config.truncateEnabled },
      tables: new TargetTables({ evolution: parts.config.schemaEvolution }),
      offsets: parts.offsets,
    });
  }

  /** A rebalance gave this process `assigned` (topic/partition): each is claimed again at its next batch. */
  joined(assigned: string[]): void {
    this.joins += 1;
    this.assigned = assigned;
    this.parts.stats.assign(this.parts.owner, assigned);
    for (const key of this.groupOffsets.keys()) if (!assigned.includes(key)) this.groupOffsets.delete(key);
    const resumers = this.resumeFenced;
    this.resumeFenced = [];
    for (const resume of resumers) resume();
    this.parts.log.info({ partitions: assigned, rebalance: this.joins }, 'partitions assigned');
  }

  setPaused(paused: boolean): void {
    const topics = [...new Set(this.assigned.map((key) => key.slice(0, key.lastIndexOf('/'))))].map((topic) => ({ topic }));
    if (topics.length === 0) return;
    if (paused) this.parts.consumer.pause(topics);
    else this.parts.consumer.resume(topics);
  }

  private async claim(topic: string, partition: number): Promise<PartitionState> {
    const { epoch, next } = await this.parts.offsets.claim(this.parts.client, topic, partition, this.parts.owner);
    const state: PartitionState = { join: this.joins, epoch, persisted: next, position: next };
    this.partitions.set(`${topic}/${partition}`, state);
    this.parts.log.debug({ topic, partition, epoch, next: next?.toString() ?? null }, 'partition claimed');
    return state;
  }

  /**
   * Decoding a batch (CPU here) overlaps the previous batch's PostgreSQL transaction (work in the
   * server): eachBatch starts the apply and returns, so that kafkajs hands over the next batch
   * while it runs. Everything that touches the connection waits for the apply in flight first,
   * so transactions still run one at a time, in offset order, each from the offset the previous
   * one committed; a failed apply ends the session (the offsets table is the truth).
   */
  async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, pause } = payload;
    if (!isRunning() || isStale()) return;
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    const { stats, log } = this.parts;
    let state = this.partitions.get(key);
    if (!state || state.join !== this.joins) {
      // The claim reads the offsets row: after the apply in flight has committed it.
      await this.inflight;
      state = await this.claim(topic, partition);
    }
    // kafkajs keeps the offset it fetched from, untyped: the records are contiguous from there.
    const fetchedOffset = (batch as Batch & { fetchedOffset: string }).fetchedOffset;
    const fetched = BigInt(fetchedOffset);
    if (state.position !== null && fetched > state.position) {
      // The consumer is past what the offsets table says is applied (a group offset from
      // elsewhere, a previous owner that had not committed): go back to it.
      log.debug({ topic, partition, fetched: fetchedOffset, next: state.position.toString() }, 'seeking to the offset recorded in the target');
      this.parts.consumer.seek({ topic, partition, offset: state.position.toString() });
      return;
    }
    const next = BigInt(batch.lastOffset()) + 1n;
    const decodeStarted = process.hrtime.bigint();
    const { changes, failures } = await this.decodeBatch(batch, state.position);
    const decodeMs = Number(process.hrtime.bigint() - decodeStarted) / 1e6;
    stats.recordsConsumed += batch.messages.length;
    await this.inflight;
    // The previous batch of this partition was fenced (partition paused), or a rebalance came meanwhile.
    if (this.partitions.get(key) !== state || !isRunning() || isStale()) return;
    // A batch wholly below the recorded position (a fetch from an older group offset) must not move it back.
    if (state.position === null || next > state.position) state.position = next;
    stats.lagRecords.set(key, Math.max(0, Number(BigInt(batch.highWatermark) - next)));
    resolveOffset(batch.lastOffset());
    if (changes.length > 0 || failures.length > 0) {
      const applying = state;
      this.inflight = this.applyBatch({ batch, state: applying, next, changes, failures, decodeMs, pause }).catch((error: unknown) => this.parts.fail(error));
    } else {
      this.groupOffsets.set(key, { topic, partition, offset: next.toString() });
    }
    await heartbeat();
    await this.commitGroupOffsets();
  }

  /** Resolves once nothing is in flight on the connection (before it is closed). */
  async drain(): Promise<void> {
    await this.inflight;
  }

  private async applyBatch(work: { batch: Batch; state: PartitionState; next: bigint; changes: SinkChange[]; failures: RecordFailure[]; decodeMs: number; pause: () => () => void }): Promise<void> {
    const { batch, state, next, changes, failures, decodeMs, pause } = work;
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    const { stats, log } = this.parts;
    const started = process.hrtime.bigint();
    const position = { topic, partition, epoch: state.epoch, expected: state.persisted, next };
    const letters: KafkaRecord[] = failures.map((failure) => this.deadLetter(topic, partition, failure));
    let result: Awaited<ReturnType<BatchApplier['apply']>>;
    try {
      result = await this.applier.apply(this.parts.client, changes, position, (client) => this.parts.deadLetters?.insert(client, letters) ?? Promise.resolve());
    } catch (error) {
      if (!refusedRecord(error)) throw error;
      // Which record? Apply the batch again in parts down to the ones the target refuses.
      log.warn({ topic, partition, err: error }, 'the target refused a batch: applying it in parts to find the records at fault');
      const byOffset = new Map(batch.messages.map((m) => [m.offset, m]));
      result = await this.applier.applyIsolating(this.parts.client, changes, position, refusedRecord, async (client, refused) => {
        const applyFailures = refused.map(({ change, error: cause }): RecordFailure => ({
          message: byOffset.get(change.offset)!,
          stage: 'TASK_PUT',
          error: cause,
          table: this.applier.targetName(change).table,
        }));
        if (applyFailures.length > 0 && !this.parts.deadLetters) throw this.stopError(topic, partition, applyFailures[0]!);
        letters.push(...applyFailures.map((failure) => this.deadLetter(topic, partition, failure)));
        await this.parts.deadLetters?.insert(client, letters);
      });
    }
    if (result === 'fenced') {
      stats.fencedBatches += 1;
      if (this.partitions.get(key) === state) this.partitions.delete(key);
      log.warn({ topic, partition }, 'another sink process of the group claimed this partition (rebalance): batch rolled back, partition paused until this process rejoins the group');
      this.resumeFenced.push(pause());
      return;
    }
    state.persisted = next;
    this.groupOffsets.set(key, { topic, partition, offset: next.toString() });
    if (letters.length > 0) {
      this.parts.connectorStats.deadLettered += letters.length;
      log.warn({ topic, partition, records: letters.length, deadLetterTopic: this.parts.config.errors.deadLetterQueueTopicName }, 'records sent to the dead-letter topic (WALCAST_ERRORS_TOLERANCE=all)');
      await this.parts.deadLetters!.publish(this.parts.client);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    log.debug({ topic, partition, records: batch.messages.length, changes: changes.length, rows: result.rows, decodeMs, applyMs: seconds * 1000 }, 'batch applied');
    stats.applyLatency.observe(seconds);
    stats.batchSize.observe(changes.length);
    stats.batches += 1;
    stats.changesApplied += changes.length;
    stats.rowsWritten += result.rows;
    for (const { table, counts } of result.tables) {
      const dot = table.indexOf('.');
      const counter = stats.tables.forTable(table.slice(0, dot), table.slice(dot + 1));
      for (const op of ['c', 'u', 'd', 'r', 't'] as const) counter.committed[op] += counts[op];
    }
    stats.lastAppliedAt = Date.now();
    const last = changes[changes.length - 1];
    if (last && last.sourceTsMs !== null) stats.millisBehindSource = Math.max(0, Date.now() - last.sourceTsMs);
  }

  private async decodeBatch(batch: Batch, from: bigint | null): Promise<{ changes: SinkChange[]; failures: RecordFailure[] }> {
    const changes: SinkChange[] = [];
    const failures: RecordFailure[] = [];
    for (const message of batch.messages) {
      if (from !== null && BigInt(message.offset) < from) continue;
      let change: SinkChange | null;
      try {
        // Synchronous while the schemas are known: no promise per record.
        const known = this.parts.decoder.tryDecode(batch.topic, batch.partition, message.offset, message.key, message.value);
        change = known !== undefined ? known : await this.parts.decoder.decode(batch.topic, batch.partition, message.offset, message.key, message.value);
      } catch (error) {
        if (transientDecodeError(error)) throw error;
        const failure: RecordFailure = { message, stage: error instanceof RecordDecodeError && error.part === 'key' ? 'KEY_CONVERTER' : 'VALUE_CONVERTER', error: error as Error };
        if (!this.parts.deadLetters) throw this.stopError(batch.topic, batch.partition, failure);
        failures.push(failure);
        continue;
      }
      if (change) changes.push(change);
    }
    return { changes, failures };
  }

  /** WALCAST_ERRORS_TOLERANCE=none: the record, where it is, why, and the ways out. */
  private stopError(topic: string, partition: number, failure: RecordFailure): SinkRecordError {
    const what = failure.stage === 'TASK_PUT' ? `the target refused its change${failure.table ? ` to table ${failure.table}` : ''}` : 'it cannot be decoded';
    const error = new SinkRecordError(
      `topic ${topic} partition ${partition} offset ${failure.message.offset}: ${what}: ${failure.error.message}. ` +
        `Nothing from this offset on was applied: after the fix the sink resumes there. ` +
        `Or set WALCAST_ERRORS_TOLERANCE=all to copy such records to the dead-letter topic ${this.parts.config.errors.deadLetterQueueTopicName} (WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME) and go on.`,
    );
    error.cause = failure.error;
    return error;
  }

  /** The consumed record as it was, with Connect's error headers. */
  private deadLetter(topic: string, partition: number, failure: RecordFailure): KafkaRecord {
    return deadLetterRecord(
      this.parts.config.errors.deadLetterQueueTopicName,
      {
        topic,
        origin: { partition, offset: failure.message.offset },
        connectorName: this.parts.config.name,
        stage: failure.stage,
        className: failure.stage === 'TASK_PUT' ? 'walcast.sink.apply' : 'walcast.sink.decode',
        error: failure.error,
        key: failure.message.key ?? null,
        value: failure.message.value ?? null,
        context: { table: failure.table },
      },
      DEAD_LETTER_LIMIT,
    );
  }

  /** Kafka's group offsets trail the target's: for lag tools and so that a new session starts near its position. */
  private async commitGroupOffsets(): Promise<void> {
    if (Date.now() - this.lastGroupCommit < GROUP_COMMIT_INTERVAL_MS || this.groupOffsets.size === 0) return;
    this.lastGroupCommit = Date.now();
    try {
      await this.parts.consumer.commitOffsets([...this.groupOffsets.values()]);
    } catch (error) {
      this.parts.log.debug({ err: error }, 'committing the group offsets failed (they are only a hint; the target holds the positions)');
    }
  }
}

