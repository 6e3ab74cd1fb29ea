/**
 * The CDC source connector: one session prepares the source (checks, publication, slot), opens
 * the transactional delivery (fence, settle, read the stored position), then streams the slot
 * from that position until stopped. The supervisor restarts sessions after transient faults.
 */
import type pg from 'pg';
import type { CdcConnectorConfig } from '../../config/load.ts';
import { SnapshotRequestError, type Connector, type ErrorVerdict, type SessionContext, type SnapshotControl, type SnapshotRequest } from '../../connector.ts';
import { AvroEncoder } from '../../encode/avro-encoder.ts';
import type { EventEncoder } from '../../encode/encoder.ts';
import { JsonEncoder } from '../../encode/json-encoder.ts';
import { RegistryUnavailableError, SchemaRegistryClient } from '../../encode/registry.ts';
import { ExitCode, WalcastError } from '../../errors.ts';
import { openDelivery } from '../../kafka/delivery.ts';
import type { StoredOffset } from '../../kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer, ProducerFencedError } from '../../kafka/producer.ts';
import { checkKafkaTls, kafkaSecurityError } from '../../kafka/security.ts';
import { TopicManager } from '../../kafka/topics.ts';
import type { Logger } from '../../log.ts';
import { Catalog } from '../../pg/catalog.ts';
import { negotiateTls, newClient, pgAddress, type PgConnection } from '../../pg/connect.ts';
import { pgTlsError } from '../../pg/tls.ts';
import { formatLsn, type Lsn } from '../../pg/lsn.ts';
import { quoteIdent } from '../../pg/sql.ts';
import { WALCAST_VERSION } from '../../version.ts';
import { ChangeTranslator } from './changes.ts';
import { PgoutputDecodeError } from './pgoutput.ts';
import { fromSourcePosition, toSourcePosition, type CdcPosition, type CdcStoredPosition } from './position.ts';
import { ReplicationQueue } from './replication-queue.ts';
import { ReplicationStream } from './replication-stream.ts';
import { PublicationKeeper } from './publication-keeper.ts';
import { checkSource, createSource, logCheckWarnings, publishedTables, type SourceSetupResult } from './setup.ts';
import { SLOT_IN_USE_SQLSTATE, SlotInUseError, slotState } from './slot.ts';
import { CdcStream } from './stream.ts';
import { RetainedWalMonitor } from './wal-monitor.ts';
import { planSnapshot } from '../snapshot/plan.ts';
import { progressJson, snapshotDone, type SnapshotProgress } from '../snapshot/progress.ts';
import { Snapshotter } from '../snapshot/snapshotter.ts';
import { listenForSignals } from '../snapshot/signals.ts';
import { ChunkWindows } from '../snapshot/windows.ts';

/** Replication bytes buffered before the stream is paused, whatever the message count. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** PostgreSQL error codes that mean "fix the setup", not "try again". */
const FATAL_PG_CODES: Record<string, string> = {
  '28P01': 'password authentication failed: check WALCAST_PG_URL (or WALCAST_PG_PASSWORD)',
  '28000': 'authorization failed (pg_hba.conf or role): check WALCAST_PG_URL, WALCAST_PG_SSL_MODE (pg_hba.conf may require TLS or a client certificate) and pg_hba.conf',
  '3D000': 'database does not exist: check the database name in WALCAST_PG_URL',
  '42501': 'insufficient privilege',
  '42704': 'publication or object does not exist',
};

/** What a running session offers to snapshot requests. */
interface LiveSession {
  /** Tables the publication publishes for the include list. */
  tables: Array<{ schema: string; table: string }>;
  client: pg.Client;
  /** Id of the snapshot in progress, or null. */
  running(): string | null;
  /** Starts the snapshot; resolves once its progress is in a committed offset record (it survives a crash). */
  start(progress: SnapshotProgress): Promise<void>;
  stop(): boolean;
  pause(paused: boolean): boolean;
}

export class CdcConnector implements Connector {
  readonly type = 'source' as const;
  private readonly config: CdcConnectorConfig;
  private live: LiveSession | null = null;
  readonly snapshots: SnapshotControl = {
    execute: (request) => this.executeSnapshot(request),
    stop: () => this.live?.stop() ?? false,
    pause: (paused) => this.live?.pause(paused) ?? false,
  };
  /** What a session created in PostgreSQL, removed again when the connector never streamed. */
  private readonly created = { slot: false, publication: false };
  /** The counters sessions share (set by the first session). */
  private stats: SessionContext['stats'] | null = null;
  /** Kafka commits when the broker last refused a batch as too large (see classify). */
  private refusedAtCommits: number | null = null;

  constructor(config: CdcConnectorConfig) {
    this.config = config;
  }

  get name(): string {
    return this.config.name;
  }

  /** The key of this connector's records in the offsets topic (its transactional id). */
  get sourceId(): string {
    return this.config.kafka.transactionalId;
  }

  classify(error: unknown): ErrorVerdict {
    if (error instanceof RegistryUnavailableError) return { permanent: false, exitCode: ExitCode.unreachable, message: error.message };
    const security = kafkaSecurityError(error) ?? pgTlsError(error);
    if (security) return { permanent: true, exitCode: security.exitCode, message: security.message, code: security.code };
    if (error instanceof WalcastError) return { permanent: true, exitCode: error.exitCode, message: error.message };
    const refused = brokerRefusedSize(error);
    if (refused !== null) {
      // walcast checks every record against its topic's limit before sending (record-limits.ts), so
      // this means a limit changed under it: a new session reads the limits again. Refused again
      // with nothing committed in between, it is no passing state: stop rather than loop.
      const commits = this.stats?.kafkaCommits ?? 0;
      const again = this.refusedAtCommits === commits;
      this.refusedAtCommits = commits;
      const message = `the broker refused a batch as too large (${refused}) although every record was checked against its topic's max.message.bytes`;
      return again
        ? { permanent: true, exitCode: ExitCode.unpublishableRow, message: `${message}, twice at the same position: check the topics' and the broker's message size limits (max.message.bytes, message.max.bytes) and WALCAST_KAFKA_COMPRESSION` }
        : { permanent: false, exitCode: ExitCode.unreachable, message: `${message}; reading the topics' limits again` };
    }
    if (error instanceof ProducerFencedError) return { permanent: true, exitCode: ExitCode.fenced, message: error.message };
    const code = (error as { code?: string } | null)?.code;
    if (error instanceof SlotInUseError) return { permanent: false, waitForOwner: true, exitCode: ExitCode.unreachable, message: error.message };
    if (code === SLOT_IN_USE_SQLSTATE) {
      return { permanent: false, waitForOwner: true, exitCode: ExitCode.unreachable, message: `replication slot ${this.config.pg.slot} is in use by another process; waiting to take over when it is released` };
    }
    if (typeof code === 'string' && code in FATAL_PG_CODES) {
      return { permanent: true, exitCode: code.startsWith('28') || code === '3D000' ? ExitCode.config : ExitCode.sourceSetup, message: `${FATAL_PG_CODES[code]}: ${(error as Error).message}` };
    }
    if (error instanceof PgoutputDecodeError || (typeof code === 'string' && code.startsWith('WALCAST_'))) {
      return { permanent: true, exitCode: ExitCode.failure, message: (error as Error).message };
    }
    return { permanent: false, exitCode: ExitCode.unreachable, message: (error as Error)?.message ?? String(error) };
  }

  async cleanup(log: Logger): Promise<void> {
    if (!this.created.slot && !this.created.publication) return;
    const { pg: source } = this.config;
    let client: pg.Client | null = null;
    try {
      client = newClient(await negotiateTls(source.connection));
      client.on('error', () => undefined);
      await client.connect();
      if (this.created.slot) await client.query('select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active', [source.slot]);
      if (this.created.publication) await client.query(`drop publication if exists ${quoteIdent(source.publication)}`);
      log.info({ slot: this.created.slot ? source.slot : null, publication: this.created.publication ? source.publication : null }, 'removed the slot and publication this run created, as it never streamed');
    } catch (error) {
      log.warn({ err: error }, `could not remove what this run created; drop them by hand: SELECT pg_drop_replication_slot('${source.slot}'); DROP PUBLICATION ${quoteIdent(source.publication)};`);
    } finally {
      await client?.end().catch(() => undefined);
    }
  }

  /**
   * The snapshot this session runs: the stored one to resume, a new one when the mode asks for it,
   * null for none; 'finished' when WALCAST_SNAPSHOT_MODE=initial_only has nothing left to do.
   */
  private async snapshotToRun(client: pg.Client, offset: CdcStoredPosition | null, setup: SourceSetupResult, confirmed: Lsn, log: Logger): Promise<SnapshotProgress | null | 'finished'> {
    const { mode } = this.config.snapshot;
    if (offset?.snapshot) {
      // An incremental snapshot was asked for explicitly: the mode (about the initial one) does not cancel it.
      if (mode === 'no_data' && offset.snapshot.kind === 'initial') {
        log.warn({ snapshot: offset.snapshot.id }, 'an interrupted initial snapshot is recorded but WALCAST_SNAPSHOT_MODE=no_data: it is abandoned; existing rows that it did not read are not published');
        return null;
      }
      return offset.snapshot;
    }
    const needed =
      offset === null ||
      (mode === 'when_needed' && (setup.createdSlot || offset.lsn < confirmed));
    if (mode === 'no_data' || !needed || (mode === 'initial' && offset !== null)) return mode === 'initial_only' && offset !== null ? 'finished' : null;
    const plan = await planSnapshot(client, setup.tables);
    log.info({ mode, tables: plan.tables.map((t) => `${t.schema}.${t.table}`), reason: offset === null ? 'no recorded position' : setup.createdSlot ? 'the slot is new' : 'the slot is ahead of the position in Kafka' }, 'snapshot planned');
    return plan;
  }

  /** An incremental snapshot of `request.tables`, beside the stream, reconciled like the initial one. */
  private async executeSnapshot(request: SnapshotRequest): Promise<{ id: string; tables: string[] }> {
    const live = this.live;
    if (!live) throw new SnapshotRequestError(409, `connector ${this.name} is not streaming; retry once it runs`);
    const running = live.running();
    if (running) throw new SnapshotRequestError(409, `snapshot ${running} is still running: wait for it or stop it (DELETE /connectors/${this.name}/snapshots)`);
    if (request.tables.length === 0) throw new SnapshotRequestError(400, 'name at least one table (data-collections: ["schema.table"])');
    const captured = new Map(live.tables.map((t) => [`${t.schema}.${t.table}`, t]));
    const unknown = request.tables.filter((name) => !captured.has(name));
    if (unknown.length > 0) {
      throw new SnapshotRequestError(404, `not captured by this connector: ${unknown.join(', ')} (captured: ${[...captured.keys()].slice(0, 20).join(', ') || 'none'})`);
    }
    const stray = Object.keys(request.filters).filter((name) => !request.tables.includes(name));
    if (stray.length > 0) throw new SnapshotRequestError(400, `additional-conditions name tables that are not snapshotted: ${stray.join(', ')}`);
    const plan = await planSnapshot(live.client, request.tables.map((name) => captured.get(name)!), 'incremental');
    for (const table of plan.tables) {
      const published = table.root ?? table;
      const filter = request.filters[`${published.schema}.${published.table}`];
      if (filter !== undefined) table.filter = filter;
    }
    await live.start(plan);
    return { id: plan.id, tables: request.tables };
  }

  async runSession(context: SessionContext): Promise<void | 'finished'> {
    try {
      return await this.session(context);
    } catch (error) {
      // Another instance streams the slot: what this one created is in use, not half-created.
      if (error instanceof SlotInUseError) {
        this.created.slot = false;
        this.created.publication = false;
      }
      throw error;
    }
  }

  private async session(context: SessionContext): Promise<void | 'finished'> {
    const { config } = this;
    this.stats = context.stats;
    const { log, signal } = context;
    const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, security: config.kafka.security, log });
    const topics = new TopicManager(kafka, { partitions: config.kafka.topicPartitions, replicationFactor: config.kafka.topicReplicationFactor });
    const producer = new KafkajsTransactionalProducer({
      kafka,
      transactionalId: config.kafka.transactionalId,
      transactionTimeoutMs: config.kafka.transactionTimeoutMs,
      compression: config.kafka.compression,
    });
    const deadLetterTopic = config.errors.deadLetterQueueTopicName;
    let claim: SlotClaim | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    let pgClient: pg.Client | null = null;
    const cleanups: Array<() => void> = [];
    let finished = false;
    try {
      context.stage(`connecting to PostgreSQL (WALCAST_PG_URL, ${pgAddress(config.pg.connection)})`);
      // prefer/allow settle once per session; every connection of the session then agrees.
      const connection = await negotiateTls(config.pg.connection);
      pgClient = newClient(connection);
      pgClient.on('error', (error) => log.warn({ err: error }, 'catalog connection error'));
      await pgClient.connect();
      // A standby polls here every second: one query, before the checks and their warnings.
      const held = await slotState(pgClient, config.pg.slot);
      if (held?.activePid) throw new SlotInUseError(config.pg.slot, held);
      const database = (await pgClient.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
      context.stage('checking PostgreSQL (wal_level, privileges, tables)');
      const sourceOptions = { slot: config.pg.slot, publication: config.pg.publication, tables: config.pg.tables };
      const plan = await checkSource(pgClient, sourceOptions);
      logCheckWarnings(plan, log);
      const statusIntervalMs = await statusInterval(pgClient, config.pg.statusIntervalMs, log);
      const queue = new ReplicationQueue({ maxMessages: config.batch.maxBufferedMessages, maxBytes: MAX_BUFFERED_BYTES }, context.stats);
      // The catalog connection serves the translator, the publication refresh and the retained-WAL
      // readings: without it the session restarts, rather than stream on with them failing.
      pgClient.on('error', (error) => queue.fail(new Error(`catalog connection lost: ${error.message}`, { cause: error })));

      // An existing slot is taken before Kafka is touched: a standby finds it in use and waits
      // without fencing the active instance's producer, and once this instance holds it no other
      // can start streaming (and fence this one) while it reads its position.
      if (!plan.createSlot) {
        context.stage(`taking replication slot ${config.pg.slot}`);
        claim = await this.claimSlot(pgClient, connection, queue, statusIntervalMs);
      }

      // The registry and Kafka before anything is created in PostgreSQL: an unreachable service or a
      // refused credential leaves no slot behind.
      const registry = config.events.format === 'avro' ? new SchemaRegistryClient(config.registry) : null;
      if (registry) {
        cleanups.push(() => registry.close());
        context.stage(`connecting to the schema registry (WALCAST_SCHEMA_REGISTRY_URL, ${registry.origin})`);
        await registry.check();
      }
      context.stage(`connecting to Kafka (WALCAST_KAFKA_BROKERS=${config.kafka.brokers.join(',')}, ${config.kafka.security.protocol})`);
      await checkKafkaTls(config.kafka.brokers, config.kafka.security);
      const { delivery, stored } = await openDelivery<CdcPosition>({
        kafka,
        topics,
        producer,
        brokers: config.kafka.brokers,
        offsetsTopic: config.kafka.offsetsTopic,
        sourceId: this.sourceId,
        topicPrefix: config.events.topicPrefix,
        openTransactionWaitMs: config.kafka.openTransactionWaitMs,
        extraTopics: config.errors.tolerance === 'all' ? [deadLetterTopic] : [],
        compression: config.kafka.compression,
        sendChunkEvents: config.batch.sendChunkEvents,
        // The snapshot's progress rides along with every position until the snapshot is complete.
        positionJson: (position) => {
          const json = toSourcePosition(position);
          if (snapshotter && !snapshotDone(snapshotter.progress)) json.snapshot = progressJson(snapshotter.progress);
          return json;
        },
        stats: context.stats,
        log,
        stage: context.stage,
      });
      const offset = stored ? fromSourcePosition(stored.position) : null;
      let snapshotter: Snapshotter | null = null;

      context.stage('creating the publication and slot');
      const created = await createSource(pgClient, sourceOptions, plan, log);
      this.created.slot ||= created.createdSlot;
      this.created.publication ||= created.createdPublication;
      const keeper = new PublicationKeeper(pgClient, sourceOptions, log, context.stats);
      await keeper.sync();
      const setup: SourceSetupResult = { ...created, tables: await publishedTables(pgClient, sourceOptions) };
      if (!claim) {
        context.stage(`taking replication slot ${config.pg.slot}`);
        claim = await this.claimSlot(pgClient, connection, queue, statusIntervalMs);
      }

      const confirmed = claim.confirmed;
      if (offset && stored && offset.lsn < confirmed) reportSlotAhead(log, stored, offset.lsn, confirmed);
      // The slot streams from what it confirmed; transactions up to the offset in Kafka (ahead of
      // the slot after a crash between commit and acknowledgement) are skipped by the translator.
      const startLsn = offset && offset.lsn > confirmed ? offset.lsn : confirmed;
      const snapshot = await this.snapshotToRun(pgClient, offset, setup, confirmed, log);
      if (snapshot === 'finished') {
        log.info({ mode: config.snapshot.mode }, 'snapshot complete and WALCAST_SNAPSHOT_MODE=initial_only: stopping');
        return 'finished';
      }

      const encoder: EventEncoder = registry ? new AvroEncoder(registry) : new JsonEncoder();
      const translator = new ChangeTranslator({
        topicPrefix: config.events.topicPrefix,
        database,
        version: WALCAST_VERSION,
        tables: config.pg.tables,
        tombstones: config.events.tombstones,
        toastPlaceholder: config.events.toastPlaceholder,
        decimalHandling: config.events.decimalHandling,
        moneyFractionDigits: config.events.moneyFractionDigits,
        registryUrl: config.registry.url,
        catalog: new Catalog(pgClient),
        prepare: async (schema) => {
          await topics.ensure([schema.topic]);
          // Each topic's size limit, read as its schema is prepared: records are checked against it (record-limits.ts).
          if (!delivery.knowsTopicLimit(schema.topic)) {
            for (const [topic, bytes] of await topics.maxMessageBytes([schema.topic])) delivery.setTopicLimit(topic, bytes);
          }
          await encoder.prepare(schema);
        },
        widenedFields: (topic) => encoder.widenedFields(topic),
        ...(encoder.encodesRows ? { encodesRows: (table) => encoder.encodesRows!(table) } : {}),
        skipBelow: offset?.lsn ?? null,
        counters: context.stats.tableEvents,
        log,
      });
      const stream = new CdcStream({
        queue,
        translator,
        delivery,
        encoder,
        stats: context.stats,
        log,
        batch: config.batch,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        positionIntervalMs: statusIntervalMs,
        startLsn: confirmed,
        recordedLsn: offset?.lsn ?? null,
        windows: new ChunkWindows(config.pg.slot),
        errors: {
          tolerance: config.errors.tolerance,
          connectorName: config.name,
          database,
          publication: config.pg.publication,
          brokers: config.kafka.brokers,
          deadLetterTopic,
          toastPlaceholder: config.events.toastPlaceholder,
        },
      });
      stream.setPaused(context.isPaused());
      cleanups.push(context.onPauseChange((paused) => stream.setPaused(paused)));
      if (signal.aborted) return;
      const onAbort = (): void => stream.requestStop();
      signal.addEventListener('abort', onAbort);
      cleanups.push(() => signal.removeEventListener('abort', onAbort));

      stream.attach(claim.replication);
      claim.release();
      statusTimer = setInterval(() => stream.sendStatus(), statusIntervalMs);
      const walMonitor = new RetainedWalMonitor({ client: pgClient, slot: config.pg.slot, warnBytes: config.pg.retainedWalWarnBytes, log, stats: context.stats });
      const pollWal = (): void => {
        walMonitor.poll().catch((error: unknown) => log.warn({ err: error }, 'could not read the WAL the slot retains; tried again at the next interval'));
      };
      pollWal();
      const walTimer = setInterval(pollWal, statusIntervalMs);
      cleanups.push(() => clearInterval(walTimer));
      if (config.pg.publicationRefreshIntervalMs > 0) {
        const catalogClient = pgClient;
        const refreshTimer = setInterval(() => {
          keeper
            .sync()
            .then(async (changed) => {
              // Incremental snapshots may then name the tables the refresh added.
              if (changed) setup.tables.splice(0, setup.tables.length, ...(await publishedTables(catalogClient, sourceOptions)));
            })
            .catch((error: unknown) => log.warn({ err: error }, 'publication refresh failed; tried again at the next interval'));
        }, config.pg.publicationRefreshIntervalMs);
        cleanups.push(() => clearInterval(refreshTimer));
      }
      context.running();
      context.stats.lastEventAt ??= Date.now();
      log.info(
        { slot: config.pg.slot, publication: config.pg.publication, startLsn: formatLsn(startLsn), kafkaOffset: offset ? formatLsn(offset.lsn) : null, offsetRecord: stored ? `${stored.recordOffset}/${stored.partitionEnd}` : null, transactionalId: config.kafka.transactionalId },
        'streaming',
      );
      let snapshotEnd: AbortController | null = null;
      const startSnapshot = (progress: SnapshotProgress): Promise<void> => {
        const end = new AbortController();
        snapshotEnd = end;
        const runner = new Snapshotter({ connection, threads: config.snapshot.maxThreads, progress, owner: config.pg.slot, log, signal: end.signal, register: stream.registerChunk });
        snapshotter = runner;
        stream.attachSnapshot(runner);
        context.stats.snapshot = () => runner.summary();
        runner.run().then(
          () => {
            if (!snapshotDone(progress)) return;
            context.stats.snapshot = null;
            if (config.snapshot.mode === 'initial_only' && progress.kind === 'initial') {
              finished = true;
              stream.requestStop();
            }
          },
          (error: unknown) => {
            if (!end.signal.aborted) queue.fail(error as Error);
          },
        );
        // Accepted is durable: a crash from then on resumes the snapshot instead of forgetting it.
        return stream.recordSnapshotProgress();
      };
      cleanups.push(() => snapshotEnd?.abort());
      this.live = {
        tables: setup.tables,
        client: pgClient,
        running: () => (snapshotter !== null && !snapshotDone(snapshotter.progress) ? snapshotter.progress.id : null),
        start: startSnapshot,
        stop: () => {
          if (!snapshotter || snapshotDone(snapshotter.progress)) return false;
          log.info({ snapshot: snapshotter.progress.id, rows: snapshotter.summary().rows }, 'snapshot stopped on request; what it published stays');
          snapshotEnd?.abort();
          stream.detachSnapshot();
          snapshotter = null;
          context.stats.snapshot = null;
          return true;
        },
        pause: (paused) => (snapshotter && !snapshotDone(snapshotter.progress) ? snapshotter.setPaused(paused) : false),
      };
      cleanups.push(() => {
        this.live = null;
      });
      if (snapshot) void startSnapshot(snapshot).catch(() => undefined);
      if (config.snapshot.signalTopic) {
        await topics.ensure([config.snapshot.signalTopic]);
        const stopSignals = await listenForSignals({
          kafka,
          topic: config.snapshot.signalTopic,
          connectorName: this.name,
          groupId: `${config.kafka.transactionalId}-signals`,
          control: this.snapshots,
          log,
          onCrash: (error) => queue.fail(error),
        });
        cleanups.push(() => void stopSignals());
      }
      await stream.run();
      stream.sendStatus();
      log.info({ ackedLsn: formatLsn(context.stats.ackedLsn), events: context.stats.eventsSent }, 'stopped streaming; position acknowledged');
      if (finished) {
        log.info('snapshot complete and WALCAST_SNAPSHOT_MODE=initial_only: stopping');
        return 'finished';
      }
      return undefined;
    } finally {
      for (const cleanup of cleanups) cleanup();
      if (statusTimer) clearInterval(statusTimer);
      claim?.release();
      await claim?.replication.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await topics.disconnect().catch(() => undefined);
      await pgClient?.end().catch(() => undefined);
    }
  }

  /**
   * Starts streaming the slot from the position it confirmed, which makes this instance its only
   * reader. Until the stream loop is attached, the queue buffers what arrives (backpressure
   * pauses the socket) and a timer reports the slot's own position, so the walsender does not
   * time out while Kafka is being prepared.
   */
  private async claimSlot(pgClient: pg.Client, connection: PgConnection, queue: ReplicationQueue, statusIntervalMs: number): Promise<SlotClaim> {
    const { slot, publication } = this.config.pg;
    const state = await slotState(pgClient, slot);
    if (state?.activePid) throw new SlotInUseError(slot, state);
    const confirmed = state?.confirmedFlush ?? 0n;
    const replication = new ReplicationStream({
      connection,
      slot,
      publication,
      startLsn: confirmed,
      sink: queue,
      onError: queue.fail,
    });
    queue.attach(replication);
    try {
      await replication.start();
    } catch (error) {
      await replication.stop().catch(() => undefined);
      if ((error as { code?: string } | null)?.code === SLOT_IN_USE_SQLSTATE) throw new SlotInUseError(slot, null, { cause: error });
      throw error;
    }
    const holding = setInterval(() => replication.sendStatus(confirmed, confirmed), statusIntervalMs);
    return { replication, confirmed, release: () => clearInterval(holding) };
  }
}

/** A slot this session streams; `release()` ends the interim status reports. */
interface SlotClaim {
  replication: ReplicationStream;
  confirmed: Lsn;
  release(): void;
}

/**
 * The slot never confirms past the position recorded in Kafka (stream.ts), so a slot ahead of the
 * offsets topic is a real gap: the offsets topic was deleted or is another cluster's. Records of
 * earlier builds (version 1) did not record idle confirmations: there the gap may be idle WAL only.
 */
function reportSlotAhead(log: Logger, stored: StoredOffset, offset: Lsn, confirmed: Lsn): void {
  const fields = { kafkaOffset: formatLsn(offset), slotConfirmed: formatLsn(confirmed), offsetRecordVersion: stored.version };
  if (stored.version === 1) {
    log.warn(fields, 'the slot has confirmed past the last position in Kafka, which an earlier walcast version wrote without recording idle confirmations: expected after an idle period, and no data is missing if the database was idle then; from now on positions are recorded so that a real gap can be told apart');
    return;
  }
  log.error(fields, 'the slot has confirmed more than Kafka holds (offsets topic deleted or a different cluster?): changes between these positions are not in Kafka');
}

/**
 * The walsender drops a client silent for wal_sender_timeout, and a paused stream reads no
 * keepalives: report at least three times per timeout whatever WALCAST_PG_STATUS_INTERVAL_MS says.
 */
async function statusInterval(client: pg.Client, configuredMs: number, log: Logger): Promise<number> {
  const row = (await client.query<{ ms: string }>(
    "select setting::bigint * case unit when 's' then 1000 when 'min' then 60000 else 1 end as ms from pg_settings where name = 'wal_sender_timeout'",
  )).rows[0];
  const timeoutMs = Number(row?.ms ?? 0);
  if (timeoutMs > 0 && configuredMs > timeoutMs / 3) {
    const interval = Math.max(100, Math.floor(timeoutMs / 3));
    log.info({ walSenderTimeoutMs: timeoutMs, statusIntervalMs: interval }, 'status interval shortened to a third of wal_sender_timeout');
    return interval;
  }
  return configuredMs;
}

/** The broker's error type when it refused a batch for its size (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE), else null. */
function brokerRefusedSize(error: unknown): string | null {
  for (let e = error as { type?: unknown; cause?: unknown; originalError?: unknown } | null, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return e.type;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return null;
}
