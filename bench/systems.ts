/**
 * How each system under test is started. The measuring (timing, /proc sampling, verification)
 * lives in bench/run.ts; this file only knows command lines and configuration.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { pgUrlParts } from './lib/pg.ts';
import { runWithRusage, spawnWatched, type RusageResult, type Watched } from './lib/proc.ts';
import { baseEnv, BENCH, ROOT, type ServicesEnv } from './lib/util.ts';

export interface Tooling {
  services: ServicesEnv;
  runDir: string;
  connectLibs: string | null;
  pluginPath: string | null;
  debeziumAvailable: boolean;
  /** Debezium's JDBC sink connector is in plugin.path (bench/maven/debezium-jdbc-pom.xml). */
  debeziumJdbcAvailable?: boolean;
  apicurioConverter: boolean;
  /** Extra node flags for walcast (e.g. --cpu-prof). */
  walcastNodeFlags: string[];
  /** Extra WALCAST_* settings (experiments); the defaults otherwise. */
  walcastEnv: Record<string, string>;
  /** pgstream's binary and the directory holding wal2json.so (bench/lib/fetch-pgstream.sh); null: not available. */
  pgstream: { binary: string; wal2jsonDir: string } | null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface CdcJob {
  name: string;
  slot: string;
  publication: string;
  schema: string;
  table: string;
  topicPrefix: string;
}

export interface CdcProcess {
  proc: Watched;
  /** Resolves when the system reports that it streams from the slot (a snapshot run need not wait for it). */
  streaming: Promise<void>;
  topic: string;
  metricsPort: number | null;
  /** A snapshot run (workload e): when the system reports what marks its snapshot's start and end. */
  snapshot: SnapshotMarks | null;
}

export interface SnapshotMarks {
  /** The system reports that its snapshot starts (walcast: "snapshot planned"; Debezium: "Snapshot step 1 - Preparing"). */
  started: Promise<void>;
  /**
   * walcast: "stopped streaming; position acknowledged", logged after the Kafka commit of the last
   * snapshot chunk (WALCAST_SNAPSHOT_MODE=initial_only). null for Debezium, whose end is read from the topic.
   */
  committed: Promise<void> | null;
  /** walcast: its "snapshot complete" line, when seen. */
  completeLine(): string | null;
}

/** A snapshot run: how many reader threads (null: the system's default). */
export interface SnapshotSettings {
  threads: number | null;
}

/**
 * Resolves at a log line. The promise is marked handled at once: a line a run does not wait for
 * (e.g. Debezium's "Processing messages" in a snapshot run, stopped before or long after it) must
 * not become an unhandled rejection when it times out or the process ends; whoever awaits it still
 * sees the rejection.
 */
function line(proc: Watched, re: RegExp, timeoutMs: number, what: string): Promise<void> {
  const p = proc.waitForLine(re, timeoutMs, what).then(() => undefined);
  p.catch(() => undefined);
  return p;
}

/**
 * The node flags walcast's own launcher sets (the `#!/usr/bin/env -S node <flags>` line of
 * bin/walcast.js, e.g. --max-semi-space-size=8), so the benchmark runs walcast as `npm start`,
 * the bin and the container do.
 */
export function walcastLauncherFlags(root = ROOT): string[] {
  const first = readFileSync(join(root, 'bin', 'walcast.js'), 'utf8').split('\n')[0] ?? '';
  const m = /^#!.*\bnode\b(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter((f) => f.startsWith('--')) : [];
}

/** The walcast commit under test: short HEAD, "+dirty" when src/, bin/ or package.json differ from it. */
export function walcastRevision(): string {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'bin', 'package.json'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() && !/package\.json$/.test(l)).length > 0;
    return head + (dirty ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

/**
 * walcast with its default configuration (Avro + registry, exactly-once transactions). `root` is
 * the compiled tree to run: this repository, or the `--baseline` build, which gets the same node
 * flags (this tree's launcher's) and the same settings.
 */
function supportsSnapshots(root: string): boolean {
  const schema = join(root, 'src', 'config', 'connector-schema.ts');
  return existsSync(schema) && readFileSync(schema, 'utf8').includes('WALCAST_SNAPSHOT_MODE');
}

export async function startWalcast(t: Tooling, job: CdcJob, root = ROOT, snapshot: SnapshotSettings | null = null): Promise<CdcProcess> {
  const port = await freePort();
  const env = {
    ...baseEnv(),
    WALCAST_PG_URL: t.services.pgUrl,
    WALCAST_KAFKA_BROKERS: t.services.brokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: t.services.registryUrl,
    WALCAST_SLOT: job.slot,
    WALCAST_PUBLICATION: job.publication,
    WALCAST_TABLES: `${job.schema}.${job.table}`,
    WALCAST_TOPIC_PREFIX: job.topicPrefix,
    WALCAST_OFFSETS_TOPIC: `${job.topicPrefix}.offsets`,
    WALCAST_HTTP_HOST: '127.0.0.1',
    WALCAST_HTTP_PORT: String(port),
    // The workload's rows are in the slot's WAL: stream them, do not also read them as a snapshot.
    // (A baseline build older than snapshots refuses the variable.) Workload (e): the snapshot
    // alone, after which walcast exits 0.
    ...(snapshot
      ? { WALCAST_SNAPSHOT_MODE: 'initial_only', ...(snapshot.threads !== null ? { WALCAST_SNAPSHOT_MAX_THREADS: String(snapshot.threads) } : {}) }
      : supportsSnapshots(root) ? { WALCAST_SNAPSHOT_MODE: 'no_data' } : {}),
    ...t.walcastEnv,
  };
  // Each build with its own launcher's flags: a change of those flags is part of a before/after.
  const proc = spawnWatched(process.execPath, [...walcastLauncherFlags(root), ...t.walcastNodeFlags, join(root, 'bin', 'walcast.js'), 'run'], {
    env,
    cwd: t.runDir,
    logFile: join(t.runDir, `${job.name}.log`),
  });
  let complete: string | null = null;
  if (snapshot) void proc.waitForLine(/"msg":"snapshot complete"/, 60 * 60_000, 'walcast "snapshot complete"').then((l) => (complete = l), () => undefined);
  return {
    proc,
    streaming: line(proc, /"msg":"streaming"/, 120_000, 'walcast "streaming"'),
    topic: `${job.topicPrefix}.${job.schema}.${job.table}`,
    metricsPort: port,
    snapshot: snapshot
      ? {
          started: line(proc, /"msg":"snapshot planned"/, 180_000, 'walcast "snapshot planned"'),
          committed: line(proc, /"msg":"stopped streaming; position acknowledged"/, 60 * 60_000, 'walcast "stopped streaming; position acknowledged"'),
          completeLine: () => complete,
        }
      : null,
  };
}

/** Connect's key and value converter settings: Apicurio's AvroConverter (Confluent wire format) or JsonConverter with schemas. */
function connectConverterLines(t: Tooling, converter: 'json' | 'avro'): string[] {
  const registryV2 = t.services.registryUrl.replace(/\/apis\/ccompat\/v\d+\/?$/, '/apis/registry/v2');
  return converter === 'avro' && t.apicurioConverter
    ? ['key', 'value'].flatMap((k) => [
        `${k}.converter=io.apicurio.registry.utils.converter.AvroConverter`,
        `${k}.converter.apicurio.registry.url=${registryV2}`,
        `${k}.converter.apicurio.registry.auto-register=true`,
        `${k}.converter.apicurio.registry.find-latest=true`,
        // Confluent wire format (magic byte + 4-byte content id in the payload, like walcast) instead of
        // the 2.x default of ids in record headers
        `${k}.converter.apicurio.registry.as-confluent=true`,
        `${k}.converter.apicurio.registry.headers.enabled=false`,
        `${k}.converter.apicurio.registry.use-id=contentId`,
      ])
    : ['key.converter=org.apache.kafka.connect.json.JsonConverter', 'value.converter=org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable=true', 'value.converter.schemas.enable=true'];
}

/** Kafka Connect standalone as connect-standalone.sh runs it: -Xms256M -Xmx2G and Kafka's G1 settings. */
function connectStandalone(t: Tooling, name: string, worker: string, connector: string): Watched {
  const java = join(t.services.java21Home, 'bin', 'java');
  const args = [
    '-Xms256m', '-Xmx2g', '-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${join(BENCH, 'lib', 'log4j2-connect.xml')}`,
    '-cp', `${t.connectLibs}/*`, 'org.apache.kafka.connect.cli.ConnectStandalone', worker, connector,
  ];
  return spawnWatched(java, args, { env: baseEnv(), cwd: t.runDir, logFile: join(t.runDir, `${name}.log`) });
}

/**
 * A Connect standalone worker's properties file: the brokers, `settings` (converters, consumer
 * overrides), file offsets flushed every `offsetFlushMs`, the plugin path and a free REST port.
 */
async function writeWorkerProperties(t: Tooling, name: string, settings: string[], offsetFlushMs: number): Promise<string> {
  const restPort = await freePort();
  const path = join(t.runDir, `${name}.worker.properties`);
  writeFileSync(
    path,
    [
      `bootstrap.servers=${t.services.brokers.join(',')}`,
      ...settings,
      `offset.storage.file.filename=${join(t.runDir, `${name}.offsets`)}`,
      `offset.flush.interval.ms=${offsetFlushMs}`,
      `plugin.path=${t.pluginPath}`,
      `listeners=http://127.0.0.1:${restPort}`,
      '',
    ].join('\n'),
  );
  return path;
}

/**
 * Debezium's PostgreSQL connector on Kafka Connect standalone, as connect-standalone.sh runs it.
 * `connectorOverrides` are appended to the connector's properties (a later line wins): the
 * Debezium fixtures' generator runs Debezium's defaults (decimal.handling.mode=precise) this way.
 */
export async function startDebezium(t: Tooling, job: CdcJob, converter: 'json' | 'avro', snapshot: SnapshotSettings | null = null, connectorOverrides: string[] = []): Promise<CdcProcess> {
  if (!t.connectLibs || !t.pluginPath || !t.debeziumAvailable) throw new Error('Debezium/Connect jars are not available (see the fetch output above)');
  const pg = pgUrlParts(t.services.pgUrl);
  const worker = await writeWorkerProperties(t, job.name, connectConverterLines(t, converter), 10_000);
  const connector = join(t.runDir, `${job.name}.connector.properties`);
  writeFileSync(
    connector,
    [
      `name=${job.name}`,
      'connector.class=io.debezium.connector.postgresql.PostgresConnector',
      'tasks.max=1',
      `database.hostname=${pg.host}`,
      `database.port=${pg.port}`,
      `database.user=${pg.user}`,
      `database.password=${pg.password}`,
      `database.dbname=${pg.database}`,
      'plugin.name=pgoutput',
      `slot.name=${job.slot}`,
      `publication.name=${job.publication}`,
      'publication.autocreate.mode=filtered',
      `topic.prefix=${job.topicPrefix}`,
      `table.include.list=${job.schema}.${job.table}`,
      // catch-up workloads: stream from the slot only, the rows are in the WAL the slot holds;
      // (e): the initial snapshot (Debezium's default mode), at its default snapshot.max.threads or the given one
      ...(snapshot ? ['snapshot.mode=initial', ...(snapshot.threads !== null ? [`snapshot.max.threads=${snapshot.threads}`] : [])] : ['snapshot.mode=no_data']),
      'decimal.handling.mode=string',
      ...connectorOverrides,
      '',
    ].join('\n'),
  );
  const proc = connectStandalone(t, job.name, worker, connector);
  return {
    proc,
    streaming: line(proc, /PostgresStreamingChangeEventSource - Processing messages/, 180_000, 'Debezium "Processing messages"'),
    topic: `${job.topicPrefix}.${job.schema}.${job.table}`,
    metricsPort: null,
    snapshot: snapshot
      ? { started: line(proc, /Snapshot step 1 - Preparing/, 180_000, 'Debezium "Snapshot step 1 - Preparing"'), committed: null, completeLine: () => null }
      : null,
  };
}

/**
 * The source's ceiling for a snapshot: psql's `\copy <table> to '/dev/null'`, i.e. a bare
 * `COPY <table> TO STDOUT` in text format whose bytes psql writes to /dev/null. One backend formats
 * the rows, one libpq client receives them. `applicationName` finds the backend in pg_stat_activity.
 */
export function runCopy(t: Tooling, name: string, table: string, applicationName: string): Promise<RusageResult> {
  return runWithRusage('/usr/lib/postgresql/15/bin/psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', t.services.pgUrl, '-c', `\\copy ${table} to '/dev/null'`], {
    env: { ...baseEnv(), PGAPPNAME: applicationName },
    logFile: join(t.runDir, `${name}.log`),
    timeoutMs: 15 * 60_000,
  });
}

/** The walsender alone: pg_recvlogical with pgoutput into /dev/null, exiting at `endLsn`. */
export function runRecvlogical(t: Tooling, job: CdcJob, endLsn: string): Promise<RusageResult> {
  const bin = '/usr/lib/postgresql/15/bin/pg_recvlogical';
  return runWithRusage(
    bin,
    ['-d', t.services.pgUrl, '--slot', job.slot, '--start', '-o', 'proto_version=1', '-o', `publication_names=${job.publication}`, '-f', '/dev/null', '-F', '0', '-s', '1', '--no-loop', '-E', endLsn],
    { env: baseEnv(), logFile: join(t.runDir, `${job.name}.log`), timeoutMs: 30 * 60_000 },
  );
}

export interface KafkajsAloneOptions {
  topic: string;
  count: number;
  keyBytes: number;
  valueBytes: number;
  txnRecords: number;
  chunkRecords: number;
  transactionalId: string;
}

export interface KafkajsAloneResult {
  records: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  transactions: number;
}

export async function runKafkajsAlone(t: Tooling, name: string, o: KafkajsAloneOptions): Promise<KafkajsAloneResult> {
  const proc = spawnWatched(process.execPath, [join(BENCH, 'tools', 'kafka-producer.ts'), JSON.stringify({ brokers: t.services.brokers, ...o })], {
    env: baseEnv(),
    logFile: join(t.runDir, `${name}.log`),
  });
  const line = await proc.waitForLine(/^\{"records"/, 30 * 60_000, 'the kafkajs producer result');
  await proc.exited;
  return JSON.parse(line) as KafkajsAloneResult;
}

export interface PerfResult extends RusageResult {
  recordsPerSec: number | null;
  summary: string;
}

/** Kafka's own org.apache.kafka.tools.ProducerPerformance, transactional. */
export async function runProducerPerf(t: Tooling, name: string, o: { topic: string; count: number; recordBytes: number; transactionDurationMs: number }): Promise<PerfResult> {
  const java = join(t.services.java21Home, 'bin', 'java');
  const result = await runWithRusage(
    java,
    [
      '-Xmx512m', `-Dlog4j2.configurationFile=${t.services.kafkaToolsLog4j}`, '-cp', `${t.services.kafkaLibs}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--bootstrap-server', t.services.brokers.join(','),
      '--topic', o.topic, '--num-records', String(o.count), '--record-size', String(o.recordBytes), '--throughput', '-1',
      '--command-property', 'acks=all',
      '--transactional-id', `${name}-txn`, '--transaction-duration-ms', String(o.transactionDurationMs),
      // JVM warm-up (JIT) would dominate short runs: the steady-state line excludes the first 10%
      '--warmup-records', String(Math.floor(o.count / 10)),
    ],
    { env: baseEnv(), logFile: join(t.runDir, `${name}.log`), timeoutMs: 15 * 60_000 },
  );
  // "1000000 records sent, 351493.8 records/sec (38.54 MB/sec), 52.31 ms avg latency, ..." and, last,
  // "900000 steady state records sent, 360000.0 records/sec ..."
  const summary = result.output.split('\n').filter((l) => /records sent,/.test(l)).pop() ?? '';
  const m = /records sent, ([\d.]+) records\/sec/.exec(summary);
  return { ...result, recordsPerSec: m ? Number(m[1]) : null, summary };
}

/** pgstream's Kafka writer batch settings: its defaults (100 messages), or larger batches. */
export interface PgstreamBatch {
  /** Messages per batch (PGSTREAM_KAFKA_WRITER_BATCH_SIZE); null: pgstream's default (100). */
  size: number | null;
  /** Bytes per batch (PGSTREAM_KAFKA_WRITER_BATCH_BYTES); null: pgstream's default (1.5 MiB). */
  bytes: number | null;
}

/**
 * A PostgreSQL URL with `dynamic_library_path` as a startup parameter (pgx sends unknown URL
 * parameters as runtime parameters): the walsender loads wal2json from the benchmark's copy, and
 * nothing is set on the shared server or database. Needs a superuser (the bench's admin role is).
 */
export function withLibraryPath(url: string, dir: string): string {
  const u = new URL(url);
  u.searchParams.set('dynamic_library_path', `$libdir:${dir}`);
  return u.toString();
}

/**
 * xataio/pgstream v1.3.1 (Go) from a wal2json slot to its Kafka writer: one JSON message per row
 * change, non-transactional (at-least-once), no schema registry. The slot is created beforehand by
 * the run (with wal2json, as `pgstream init` would); `add-tables` filters at the source as
 * walcast's publication does.
 */
export function startPgstream(t: Tooling, job: CdcJob, batch: PgstreamBatch): CdcProcess {
  if (!t.pgstream) throw new Error('pgstream is not available (see the fetch-pgstream output above)');
  const topic = `${job.topicPrefix}.${job.schema}.${job.table}`;
  const env: Record<string, string> = {
    ...baseEnv(),
    PGSTREAM_POSTGRES_LISTENER_URL: withLibraryPath(t.services.pgUrl, t.pgstream.wal2jsonDir),
    PGSTREAM_POSTGRES_REPLICATION_SLOT_NAME: job.slot,
    PGSTREAM_POSTGRES_REPLICATION_PLUGIN_ADD_TABLES: `${job.schema}.${job.table}`,
    PGSTREAM_KAFKA_WRITER_SERVERS: t.services.brokers.join(','),
    PGSTREAM_KAFKA_TOPIC_NAME: topic,
    PGSTREAM_HEALTH_CHECK_ENABLED: 'false',
    ...(batch.size !== null ? { PGSTREAM_KAFKA_WRITER_BATCH_SIZE: String(batch.size) } : {}),
    ...(batch.bytes !== null ? { PGSTREAM_KAFKA_WRITER_BATCH_BYTES: String(batch.bytes) } : {}),
  };
  const proc = spawnWatched(t.pgstream.binary, ['run', '--log-level', 'info'], { env, cwd: t.runDir, logFile: join(t.runDir, `${job.name}.log`) });
  return {
    proc,
    streaming: line(proc, /logical replication started/, 60_000, 'pgstream "logical replication started"'),
    topic,
    metricsPort: null,
    snapshot: null,
  };
}

/** A sink run of workload (s): one change topic applied into one pre-created table. */
export interface SinkJob {
  name: string;
  topic: string;
  /** `schema.table` of the target table (created beforehand, like the source's). */
  table: string;
  /** walcast: its offsets table; Debezium: unused (Connect commits offsets to the consumer group `connect-<name>`). */
  offsetsTable: string;
}

/** `walcast sink` with its default configuration, running the compiled code as the container does. */
export async function startWalcastSink(t: Tooling, job: SinkJob): Promise<Watched> {
  const port = await freePort();
  const env = {
    ...baseEnv(),
    WALCAST_KAFKA_BROKERS: t.services.brokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: t.services.registryUrl,
    WALCAST_SINK_PG_URL: t.services.pgUrl,
    WALCAST_SINK_TOPICS: job.topic,
    WALCAST_SINK_GROUP_ID: job.name,
    WALCAST_SINK_TABLE_NAME_FORMAT: job.table,
    WALCAST_SINK_OFFSETS_TABLE: job.offsetsTable,
    WALCAST_HTTP_HOST: '127.0.0.1',
    WALCAST_HTTP_PORT: String(port),
    ...t.walcastEnv,
  };
  return spawnWatched(process.execPath, [...walcastLauncherFlags(), ...t.walcastNodeFlags, join(ROOT, 'bin', 'walcast.js'), 'sink'], {
    env,
    cwd: t.runDir,
    logFile: join(t.runDir, `${job.name}.log`),
  });
}

/**
 * Debezium's JDBC sink connector on Connect standalone, configured as the issue asks
 * (insert.mode=upsert, delete.enabled=true, primary.key.mode=record_key), reading walcast's Avro
 * through Apicurio's converter with read_committed. Connect commits the consumed offsets to the
 * group `connect-<name>` every second (offset.flush.interval.ms; its default is 60 s).
 */
export async function startDebeziumJdbcSink(t: Tooling, job: SinkJob): Promise<Watched> {
  if (!t.connectLibs || !t.pluginPath || !t.debeziumJdbcAvailable) throw new Error("Connect or Debezium's JDBC sink jars are not available (see the fetch output above)");
  const pg = pgUrlParts(t.services.pgUrl);
  const worker = await writeWorkerProperties(t, job.name, [...connectConverterLines(t, 'avro'), 'consumer.isolation.level=read_committed', 'consumer.auto.offset.reset=earliest'], 1000);
  const connector = join(t.runDir, `${job.name}.connector.properties`);
  writeFileSync(
    connector,
    [
      `name=${job.name}`,
      'connector.class=io.debezium.connector.jdbc.JdbcSinkConnector',
      'tasks.max=1',
      `topics=${job.topic}`,
      `connection.url=jdbc:postgresql://${pg.host}:${pg.port}/${pg.database}`,
      `connection.username=${pg.user}`,
      `connection.password=${pg.password}`,
      'insert.mode=upsert',
      'delete.enabled=true',
      'primary.key.mode=record_key',
      'schema.evolution=basic',
      `collection.name.format=${job.table}`,
      '',
    ].join('\n'),
  );
  return connectStandalone(t, job.name, worker, connector);
}
