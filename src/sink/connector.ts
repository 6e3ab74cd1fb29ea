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
import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import type pg from 'pg';
import type { SinkConfig } from '../config/load.ts';
import type { Connector, ErrorVerdict, SessionContext } from '../connector.ts';
import { RegistryUnavailableError, SchemaRegistryClient } from '../encode/registry.ts';
import { ExitCode, WalcastError } from '../errors.ts';
import { createKafka } from '../kafka/producer.ts';
import { checkKafkaTls, kafkaSecurityError } from '../kafka/security.ts';
import type { Logger } from '../log.ts';
import { negotiateTls, newClient, pgAddress } from '../pg/connect.ts';
import { pgTlsError } from '../pg/tls.ts';
import { BatchApplier } from './apply.ts';
import { ChangeDecoder, SinkRecordError, type SinkChange } from './decode.ts';
import { SinkOffsets } from './offsets.ts';
import { SinkStats } from './stats.ts';
import { TargetTables } from './target.ts';

/** How often the positions are also committed to the consumer group (for lag tools and a quicker start). */
const GROUP_COMMIT_INTERVAL_MS = 2000;

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

export class SinkConnector implements Connector {
  readonly type = 'sink' as const;
  private readonly config: SinkConfig;

  constructor(config: SinkConfig) {
    this.config = config;
  }

  get name(): string {
    return this.config.name;
  }

  classify(error: unknown): ErrorVerdict {
    if (error instanceof RegistryUnavailableError) return { permanent: false, exitCode: ExitCode.unreachable, message: error.message };
    const security = kafkaSecurityError(error) ?? pgTlsError(error);
    if (security) return { permanent: true, exitCode: security.exitCode, message: security.message };
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
      const session = new SinkSession({ config, client, consumer, offsets, stats, log, decoder: new ChangeDecoder(registry, config.toastPlaceholder) });
      consumer.on(consumer.events.CRASH, (event) => failSession(event.payload.error));
      consumer.on(consumer.events.GROUP_JOIN, (event) => session.joined(Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}/${p}`))));
      await consumer.connect();
      await consumer.subscribe({ topics: config.topics.length > 0 ? config.topics : [config.topicsRegex!], fromBeginning: true });
      const applyPause = (paused: boolean): void => session.setPaused(paused);
      const unsubscribe = context.onPauseChange(applyPause);
      try {
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => session.eachBatch(payload),
        });
        context.running();
        if (context.isPaused()) session.setPaused(true);
        log.info({ group: config.groupId, topics: config.topics.length > 0 ? config.topics : String(config.topicsRegex), partitions: stats.partitions }, 'sink running');
        await Promise.race([failed, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
      } finally {
        unsubscribe();
      }
    } finally {
      await consumer?.disconnect().catch(() => undefined);
      await client?.end().catch(() => undefined);
      registry?.close();
    }
  }
}

interface SessionParts {
  config: SinkConfig;
  client: pg.Client;
  consumer: Consumer;
  offsets: SinkOffsets;
  stats: SinkStats;
  log: Logger;
  decoder: ChangeDecoder;
}

/** One session's partitions and their positions, and the batch loop. */
class SinkSession {
  private readonly parts: SessionParts;
  private readonly applier: BatchApplier;
  private readonly owner = `${hostname()}/${process.pid}`;
  private readonly partitions = new Map<string, PartitionState>();
  /** Resumes partitions paused after losing them to another process, at the next rebalance. */
  private resumeFenced: Array<() => void> = [];
  private joins = 0;
  private assigned: string[] = [];
  private lastGroupCommit = 0;
  private readonly groupOffsets = new Map<string, { topic: string; partition: number; offset: string }>();

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
    this.parts.stats.partitions = assigned;
    for (const key of this.parts.stats.lagRecords.keys()) if (!assigned.includes(key)) this.parts.stats.lagRecords.delete(key);
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
    const { epoch, next } = await this.parts.offsets.claim(this.parts.client, topic, partition, this.owner);
    const state: PartitionState = { join: this.joins, epoch, persisted: next, position: next };
    this.partitions.set(`${topic}/${partition}`, state);
    this.parts.log.debug({ topic, partition, epoch, next: next?.toString() ?? null }, 'partition claimed');
    return state;
  }

  async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, pause } = payload;
    if (!isRunning() || isStale()) return;
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    const { stats, log } = this.parts;
    let state = this.partitions.get(key);
    if (!state || state.join !== this.joins) state = await this.claim(topic, partition);
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
    const changes = await this.decodeBatch(batch, state.position);
    const decodeMs = Number(process.hrtime.bigint() - decodeStarted) / 1e6;
    stats.recordsConsumed += batch.messages.length;
    if (changes.length > 0) {
      const started = process.hrtime.bigint();
      const result = await this.applier.apply(this.parts.client, changes, { topic, partition, epoch: state.epoch, expected: state.persisted, next });
      if (result === 'fenced') {
        stats.fencedBatches += 1;
        this.partitions.delete(key);
        log.warn({ topic, partition }, 'another sink process of the group claimed this partition (rebalance): batch rolled back, partition paused until this process rejoins the group');
        this.resumeFenced.push(pause());
        return;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      log.debug({ topic, partition, records: batch.messages.length, changes: changes.length, rows: result.rows, decodeMs, applyMs: seconds * 1000 }, 'batch applied');
      state.persisted = next;
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
      const last = changes[changes.length - 1]!;
      if (last.sourceTsMs !== null) stats.millisBehindSource = Math.max(0, Date.now() - last.sourceTsMs);
    }
    // A batch wholly below the recorded position (a fetch from an older group offset) must not move it back.
    if (state.position === null || next > state.position) state.position = next;
    stats.lagRecords.set(key, Math.max(0, Number(BigInt(batch.highWatermark) - next)));
    resolveOffset(batch.lastOffset());
    this.groupOffsets.set(key, { topic, partition, offset: next.toString() });
    await heartbeat();
    await this.commitGroupOffsets();
  }

  private async decodeBatch(batch: Batch, from: bigint | null): Promise<SinkChange[]> {
    const changes: SinkChange[] = [];
    for (const message of batch.messages) {
      if (from !== null && BigInt(message.offset) < from) continue;
      const change = await this.parts.decoder.decode(batch.topic, batch.partition, message.offset, message.key, message.value);
      if (change) changes.push(change);
    }
    return changes;
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

