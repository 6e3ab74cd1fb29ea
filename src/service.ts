/**
 * One walcast instance: prepares the source, fences older instances, reads the committed offset,
 * streams, and restarts the streaming session with backoff after transient faults (broker,
 * registry or database restarts) without losing or duplicating anything.
 */
import pg from 'pg';
import type { WalcastConfig } from './config/load.ts';
import { AvroEncoder } from './encode/avro-encoder.ts';
import type { EventEncoder } from './encode/encoder.ts';
import { JsonEncoder } from './encode/json-encoder.ts';
import { SchemaRegistryClient } from './encode/registry.ts';
import { ExitCode, WalcastError } from './errors.ts';
import { ensureOffsetsTopic, readOffset } from './kafka/offsets.ts';
import { settleOpenTransactions } from './kafka/open-transactions.ts';
import { createKafka, KafkajsTransactionalProducer, ProducerFencedError } from './kafka/producer.ts';
import { TopicManager } from './kafka/topics.ts';
import type { Logger } from './log.ts';
import { Pipeline, type PipelineStats } from './pipeline.ts';
import { Catalog } from './pg/catalog.ts';
import { formatLsn, parseLsn, type Lsn } from './pg/lsn.ts';
import { PgoutputDecodeError } from './source/cdc/pgoutput.ts';
import { ReplicationStream } from './source/cdc/replication-stream.ts';
import { checkSource, createSource } from './source/cdc/setup.ts';
import { quoteIdent } from './pg/sql.ts';
import { WALCAST_VERSION } from './version.ts';

export type ServiceState = 'starting' | 'running' | 'retrying' | 'stopping' | 'stopped' | 'failed';

export interface ServiceStatus {
  state: ServiceState;
  lastError: string | null;
  restarts: number;
  stats: PipelineStats | null;
}

class StartTimeoutError extends Error {
  readonly code = 'WALCAST_START_TIMEOUT';
}

/** PostgreSQL error codes that mean "fix the setup", not "try again". */
const FATAL_PG_CODES: Record<string, string> = {
  '28P01': 'password authentication failed: check WALCAST_PG_URL',
  '28000': 'authorization failed (pg_hba.conf or role): check WALCAST_PG_URL and pg_hba.conf',
  '3D000': 'database does not exist: check the database name in WALCAST_PG_URL',
  '42501': 'insufficient privilege',
  '42704': 'publication or object does not exist',
};

function classify(error: unknown): { fatal: boolean; exitCode: number; message: string } {
  if (error instanceof StartTimeoutError) return { fatal: false, exitCode: ExitCode.unreachable, message: error.message };
  if (error instanceof WalcastError) return { fatal: true, exitCode: error.exitCode, message: error.message };
  if (error instanceof ProducerFencedError) return { fatal: true, exitCode: ExitCode.fenced, message: error.message };
  const code = (error as { code?: string } | null)?.code;
  if (typeof code === 'string' && code in FATAL_PG_CODES) {
    return { fatal: true, exitCode: code.startsWith('28') || code === '3D000' ? ExitCode.config : ExitCode.sourceSetup, message: `${FATAL_PG_CODES[code]}: ${(error as Error).message}` };
  }
  if (error instanceof PgoutputDecodeError || (typeof code === 'string' && code.startsWith('WALCAST_'))) {
    return { fatal: true, exitCode: ExitCode.failure, message: (error as Error).message };
  }
  return { fatal: false, exitCode: ExitCode.unreachable, message: (error as Error)?.message ?? String(error) };
}

function isSlotBusy(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '55006';
}

export class WalcastService {
  private readonly config: WalcastConfig;
  private readonly log: Logger;
  private pipeline: Pipeline | null = null;
  private stopping = false;
  private pausedByOperator = false;
  /** What the current step talks to, so errors say which service and setting to check. */
  private stage = 'starting';
  private readonly created = { slot: false, publication: false };
  private wakeBackoff: (() => void) | null = null;
  readonly status: ServiceStatus = { state: 'starting', lastError: null, restarts: 0, stats: null };

  constructor(config: WalcastConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  get sourceId(): string {
    return this.config.kafka.transactionalId;
  }

  /** Runs until stop() (returns 0) or a fatal error (returns its exit code). */
  async run(): Promise<number> {
    const deadline = Date.now() + this.config.startupTimeoutMs;
    let everStreamed = false;
    let backoffMs = 500;
    try {
      while (!this.stopping) {
        try {
          // Until walcast first streams, an attempt may not outlive the startup timeout (client
          // libraries retry internally for longer); once streaming, the deadline no longer applies.
          let timer: NodeJS.Timeout | undefined;
          const expired = new Promise<never>((_, reject) => {
            if (everStreamed) return;
            timer = setTimeout(
              () => reject(new StartTimeoutError(`no answer before the startup deadline while ${this.stage}`)),
              Math.max(0, deadline - Date.now()),
            );
          });
          const session = this.session(() => {
            everStreamed = true;
            backoffMs = 500;
            clearTimeout(timer);
          });
          session.catch(() => undefined);
          await Promise.race([session, expired]).finally(() => clearTimeout(timer));
          if (this.stopping) break;
        } catch (error) {
          if (this.stopping) break;
          const verdict = classify(error);
          const message = `${this.stage}: ${verdict.message}`;
          this.status.lastError = message;
          if (verdict.fatal) {
            this.status.state = 'failed';
            this.log.fatal({ err: error, exitCode: verdict.exitCode }, message);
            return verdict.exitCode;
          }
          if (isSlotBusy(error)) {
            this.log.warn({ slot: this.config.pg.slot }, 'replication slot is in use by another process (another walcast instance?); waiting for it to be released');
          } else if (!everStreamed && Date.now() >= deadline) {
            this.status.state = 'failed';
            this.log.fatal({ err: error, exitCode: ExitCode.unreachable }, `could not start within ${this.config.startupTimeoutMs} ms (WALCAST_STARTUP_TIMEOUT_MS): ${message}`);
            return ExitCode.unreachable;
          } else if (!everStreamed) {
            this.log.warn({ err: error, retryInMs: backoffMs }, `start failed: ${message}; retrying`);
          } else {
            this.log.warn({ err: error, retryInMs: backoffMs }, `streaming interrupted: ${message}; restarting from the last committed position`);
          }
        }
        if (this.stopping) break;
        this.status.state = 'retrying';
        this.status.restarts += 1;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs);
          this.wakeBackoff = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
      this.status.state = 'stopped';
      return ExitCode.ok;
    } finally {
      // Never leave half-created state: what this run created and never streamed from goes.
      if (!everStreamed) await this.dropCreatedSource();
    }
  }

  private async dropCreatedSource(): Promise<void> {
    if (!this.created.slot && !this.created.publication) return;
    const client = new pg.Client({ connectionString: this.config.pg.url, application_name: 'walcast' });
    try {
      await client.connect();
      if (this.created.slot) await client.query('select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active', [this.config.pg.slot]);
      if (this.created.publication) await client.query(`drop publication if exists ${quoteIdent(this.config.pg.publication)}`);
      this.log.info({ slot: this.created.slot ? this.config.pg.slot : null, publication: this.created.publication ? this.config.pg.publication : null }, 'removed the slot and publication this run created, as it never streamed');
    } catch (error) {
      this.log.warn({ err: error }, `could not remove what this run created; drop them by hand: SELECT pg_drop_replication_slot('${this.config.pg.slot}'); DROP PUBLICATION ${quoteIdent(this.config.pg.publication)};`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Management API: pause at the next transaction boundary, resume, or restart the session. */
  pause(): void {
    this.pausedByOperator = true;
    this.pipeline?.setPaused(true);
  }

  resume(): void {
    this.pausedByOperator = false;
    this.pipeline?.setPaused(false);
  }

  restart(): void {
    this.log.info('restart requested through the management API');
    this.pipeline?.requestStop();
  }

  get paused(): boolean {
    return this.pausedByOperator;
  }

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.status.state = 'stopping';
    this.pipeline?.requestStop();
    this.wakeBackoff?.();
  }

  /**
   * The walsender drops a client silent for wal_sender_timeout, and a paused stream reads no
   * keepalives: report at least three times per timeout whatever WALCAST_PG_STATUS_INTERVAL_MS says.
   */
  private async statusInterval(client: pg.Client): Promise<number> {
    const row = (await client.query<{ ms: string }>(
      "select setting::bigint * case unit when 's' then 1000 when 'min' then 60000 else 1 end as ms from pg_settings where name = 'wal_sender_timeout'",
    )).rows[0];
    const timeoutMs = Number(row?.ms ?? 0);
    if (timeoutMs > 0 && this.config.pg.statusIntervalMs > timeoutMs / 3) {
      const interval = Math.max(100, Math.floor(timeoutMs / 3));
      this.log.info({ walSenderTimeoutMs: timeoutMs, statusIntervalMs: interval }, 'status interval shortened to a third of wal_sender_timeout');
      return interval;
    }
    return this.config.pg.statusIntervalMs;
  }

  private async session(onStreaming: () => void): Promise<void> {
    const { config, log } = this;
    const pgClient = new pg.Client({ connectionString: config.pg.url, application_name: 'walcast' });
    pgClient.on('error', (error) => log.warn({ err: error }, 'catalog connection error'));
    const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, log });
    const topics = new TopicManager(kafka, { partitions: config.kafka.topicPartitions, replicationFactor: config.kafka.topicReplicationFactor });
    const producer = new KafkajsTransactionalProducer({ kafka, transactionalId: config.kafka.transactionalId, transactionTimeoutMs: config.kafka.transactionTimeoutMs });
    let stream: ReplicationStream | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    try {
      const pgAddress = new URL(config.pg.url);
      this.stage = `connecting to PostgreSQL (WALCAST_PG_URL, ${pgAddress.hostname || 'localhost'}:${pgAddress.port || 5432})`;
      await pgClient.connect();
      const database = (await pgClient.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
      this.stage = 'checking PostgreSQL (wal_level, privileges, tables)';
      const sourceOptions = { slot: config.pg.slot, publication: config.pg.publication, tables: config.pg.tables };
      const plan = await checkSource(pgClient, sourceOptions);

      // Kafka before anything is created in PostgreSQL: an unreachable broker leaves no slot behind.
      this.stage = `connecting to Kafka (WALCAST_KAFKA_BROKERS=${config.kafka.brokers.join(',')})`;
      await ensureOffsetsTopic(topics, config.kafka.offsetsTopic);
      // Fence first, then read the offset: a zombie could otherwise commit after we read (GUIDE).
      await producer.connect();
      this.stage = 'checking Kafka for transactions left open';
      await settleOpenTransactions({
        kafka,
        topics: [config.kafka.offsetsTopic, ...(await topics.listWithPrefix(`${config.events.topicPrefix}.`))],
        offsetsTopic: config.kafka.offsetsTopic,
        sourceId: this.sourceId,
        brokers: config.kafka.brokers,
        producer,
        waitMs: config.kafka.openTransactionWaitMs,
        log,
      });
      const offset = await readOffset(kafka, config.kafka.offsetsTopic, this.sourceId);

      this.stage = 'creating the publication and slot';
      const setup = await createSource(pgClient, sourceOptions, plan, log);
      this.created.slot ||= setup.createdSlot;
      this.created.publication ||= setup.createdPublication;

      const slotRow = (await pgClient.query<{ confirmed_flush_lsn: string | null }>(
        'select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1',
        [config.pg.slot],
      )).rows[0];
      const confirmed: Lsn = slotRow?.confirmed_flush_lsn ? parseLsn(slotRow.confirmed_flush_lsn) : 0n;
      if (offset && offset.lsn < confirmed) {
        log.error(
          { kafkaOffset: formatLsn(offset.lsn), slotConfirmed: formatLsn(confirmed) },
          'the slot has confirmed more than Kafka holds (offsets topic deleted or a different cluster?): changes between these positions are not in Kafka',
        );
      }
      const startLsn = offset && offset.lsn > confirmed ? offset.lsn : confirmed;

      const encoder: EventEncoder = config.events.format === 'avro' ? new AvroEncoder(new SchemaRegistryClient(config.registry.url)) : new JsonEncoder();
      const pipeline = new Pipeline({
        config,
        log,
        producer,
        encoder,
        topics,
        catalog: new Catalog(pgClient),
        database,
        version: WALCAST_VERSION,
        sourceId: this.sourceId,
        skipBelow: offset?.lsn ?? null,
        startLsn,
        stats: this.status.stats ?? undefined,
      });
      this.pipeline = pipeline;
      this.status.stats = pipeline.stats;
      if (this.pausedByOperator) pipeline.setPaused(true);
      if (this.stopping) return;

      stream = new ReplicationStream({
        // pgoutput renders values with the walsender's settings: pin the ones the decoders parse.
        connection: {
          connectionString: config.pg.url,
          application_name: 'walcast',
          options: '-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3',
        },
        slot: config.pg.slot,
        publication: config.pg.publication,
        startLsn,
        onItem: pipeline.push,
        onError: pipeline.fail,
      });
      pipeline.attach(stream);
      this.stage = 'starting replication';
      await stream.start();
      statusTimer = setInterval(() => pipeline.sendStatus(), await this.statusInterval(pgClient));
      this.status.state = 'running';
      this.stage = 'streaming';
      onStreaming();
      log.info(
        { slot: config.pg.slot, publication: config.pg.publication, startLsn: formatLsn(startLsn), kafkaOffset: offset ? formatLsn(offset.lsn) : null, offsetRecord: offset ? `${offset.recordOffset}/${offset.partitionEnd}` : null, transactionalId: config.kafka.transactionalId },
        'streaming',
      );
      await pipeline.run();
      pipeline.sendStatus();
      log.info({ ackedLsn: formatLsn(pipeline.stats.ackedLsn), events: pipeline.stats.eventsSent }, 'stopped streaming; position acknowledged');
    } finally {
      if (statusTimer) clearInterval(statusTimer);
      this.pipeline = null;
      await stream?.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await topics.disconnect().catch(() => undefined);
      await pgClient.end().catch(() => undefined);
    }
  }
}
