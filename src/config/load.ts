/**
 * Loads and validates configuration by scope: process (worker) settings and one CDC connector's
 * settings, each from a map of WALCAST_* names to values: the environment for `walcast run`, a
 * JSON map for connectors configured at runtime. Every problem is reported at once, each naming
 * its variable, so an operator fixes the deployment in one round trip.
 */
import convict from 'convict';
import type { PgConnection } from '../pg/connect.ts';
import type { KafkaSecurity } from '../kafka/security.ts';
import type { CompressionName } from '../kafka/compression.ts';
import { cdcConnectorSchema } from './connector-schema.ts';
import { configVariables, convictSchema, type ConfigScope } from './schema.ts';
import { rememberSecrets } from '../secrets.ts';
import { FILE_SUFFIX, readSecretFiles } from './secret-files.ts';
import { httpSecurityFrom, kafkaSecurityFrom, pgConnectionFrom, registryFrom, type HttpSecurity, type RawKafkaSecurity, type RawPgSecurity, type RegistryConfig } from './security.ts';

/** Variable name -> value, as in process.env. */
export type ConfigSource = Record<string, string | undefined>;

export type { RegistryConfig, HttpSecurity };

/** Settings of the process: shared by every connector it runs. */
export interface WorkerConfig {
  kafka: { brokers: string[]; clientId: string; security: KafkaSecurity };
  registry: RegistryConfig;
  http: { port: number; host: string } & HttpSecurity;
  /** `walcast worker`: where connector configs are kept, and the key that encrypts their secrets ('' for none). */
  worker: { configStorageTopic: string; statusStorageTopic: string; groupId: string; sessionTimeoutMs: number; configEncryptionKey: string };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  startupTimeoutMs: number;
  shutdownTimeoutMs: number;
}

/** Settings of one CDC connector, as its schema declares them. */
export interface CdcConnectorSettings {
  pg: {
    /** As configured (for logs, redacted; connections use `connection`). */
    url: string;
    /** Where and how every connection of this connector goes: URL without TLS parameters, password, TLS. */
    connection: PgConnection;
    slot: string;
    publication: string;
    tables: string[];
    publicationRefreshIntervalMs: number;
    retainedWalWarnBytes: number;
    statusIntervalMs: number;
  };
  kafka: {
    transactionalId: string;
    transactionTimeoutMs: number;
    openTransactionWaitMs: number;
    offsetsTopic: string;
    topicPartitions: number;
    topicReplicationFactor: number;
    compression: CompressionName;
  };
  errors: { tolerance: 'none' | 'all'; deadLetterQueueTopicName: string };
  events: {
    topicPrefix: string;
    format: 'avro' | 'json';
    tombstones: boolean;
    decimalHandling: 'precise' | 'string';
    moneyFractionDigits: number;
    toastPlaceholder: string;
  };
  batch: { maxEvents: number; maxDelayMs: number; maxAgeMs: number; sendChunkEvents: number; maxBufferedMessages: number };
  snapshot: { mode: SnapshotMode; maxThreads: number; signalTopic: string };
}

export type SnapshotMode = 'initial' | 'no_data' | 'initial_only' | 'when_needed';

/** What a CDC connector runs with: its own settings and the process's Kafka, registry and shutdown grace. */
export interface CdcConnectorConfig extends CdcConnectorSettings {
  /** What the management API calls it (the topic prefix for `walcast run`). */
  name: string;
  kafka: CdcConnectorSettings['kafka'] & WorkerConfig['kafka'];
  registry: WorkerConfig['registry'];
  shutdownTimeoutMs: number;
}

/** `walcast sink`: where and how change topics are applied (sink-schema.ts). */
export interface SinkSettings {
  pg: { url: string; connection: PgConnection };
  /** Topic names, or a pattern (exactly one of them is set). */
  topics: string[];
  topicsRegex: RegExp | null;
  groupId: string;
  tableNameFormat: string;
  primaryKeyFields: string[];
  deleteEnabled: boolean;
  truncateEnabled: boolean;
  schemaEvolution: 'basic' | 'none';
  offsetsTable: string;
  toastPlaceholder: string;
  fetchMaxBytesPerPartition: number;
  sessionTimeoutMs: number;
  /** WALCAST_ERRORS_TOLERANCE and the sink's dead-letter topic (default `<group id>-dlq`). */
  errors: { tolerance: 'none' | 'all'; deadLetterQueueTopicName: string };
}

/** What the sink runs with: its own settings and the process's Kafka and registry. */
export interface SinkConfig extends SinkSettings {
  /** What the management API calls it (the consumer group). */
  name: string;
  /**
   * What a record's value holds: a Debezium change envelope (walcast's sink, Debezium's JDBC sink;
   * the default), or the row itself (Confluent's JDBC sink: a tombstone deletes the key's row).
   */
  records?: 'envelope' | 'flat';
  kafka: WorkerConfig['kafka'];
  registry: WorkerConfig['registry'];
}

/** `walcast run`: the process and its one connector, from the environment. */
export interface WalcastConfig {
  worker: WorkerConfig;
  connector: CdcConnectorConfig;
}

export class ConfigError extends Error {
  readonly code = 'WALCAST_CONFIG';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}\nSee docs/configuration.md for every variable and its default.`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function closestVariable(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 4)) ? best : undefined;
}

/** Database name from the URL: the default topic prefix. */
function databaseName(pgUrl: string): string {
  return decodeURIComponent(new URL(pgUrl).pathname.slice(1));
}

const list = (text: string): string[] => text.split(',').map((t) => t.trim()).filter((t) => t !== '');

/** Validates one scope's variables with convict; problems are collected, not thrown. */
function validateScope(scope: ConfigScope, source: ConfigSource, problems: string[]): Record<string, unknown> {
  const variables = configVariables(scope);
  const env = readSecretFiles(source, variables, problems);
  const config = convict(convictSchema(scope), { env: env as NodeJS.ProcessEnv, args: [] });
  try {
    config.validate({ allowed: 'strict' });
  } catch (e) {
    for (const line of (e as Error).message.split('\n')) {
      const match = /^([\w.]+): (.*)$/.exec(line.trim());
      const variable = match ? variables.find((v) => v.path === match[1]) : undefined;
      if (match && variable) {
        // convict echoes the offending value; never for a secret.
        const detail = variable.sensitive ? match[2]!.replace(/: value was .*$/, '') : match[2]!;
        problems.push(`${variable.env}: ${detail}`);
      } else if (line.trim()) {
        problems.push(line.trim());
      }
    }
  }
  return config.getProperties() as Record<string, unknown>;
}

/** WALCAST_* names that no scope declares, with a did-you-mean. */
function unknownVariables(source: ConfigSource, problems: string[]): void {
  const variables = configVariables();
  const known = [...variables.map((v) => v.env), ...variables.filter((v) => v.sensitive).map((v) => v.env + FILE_SUFFIX)];
  for (const name of Object.keys(source)) {
    const plain = name.endsWith(FILE_SUFFIX) ? variables.find((v) => v.env + FILE_SUFFIX === name && !v.sensitive) : undefined;
    if (plain) {
      problems.push(`${name}: only secrets can be read from a file; set ${plain.env} itself`);
    } else if (name.startsWith('WALCAST_') && !known.includes(name)) {
      const suggestion = closestVariable(name, known);
      problems.push(`${name} is not a walcast setting${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
  }
}

interface RawWorker {
  kafka: { brokers: string; clientId: string } & RawKafkaSecurity;
  registry: { url: string; username: string; password: string; sslCaLocation: string };
  http: { port: number; host: string; adminToken: string; sslCertificateLocation: string; sslKeyLocation: string; sslKeyPassword: string };
  worker: WorkerConfig['worker'];
  log: WorkerConfig['log'];
  startupTimeoutMs: number;
  shutdownTimeoutMs: number;
}

function workerFrom(source: ConfigSource, problems: string[]): WorkerConfig {
  const raw = validateScope('worker', source, problems) as unknown as RawWorker;
  rememberSecrets([raw.worker.configEncryptionKey]);
  return {
    kafka: { brokers: list(raw.kafka.brokers), clientId: raw.kafka.clientId, security: kafkaSecurityFrom(raw.kafka, problems) },
    registry: registryFrom(raw.registry, problems),
    http: { port: raw.http.port, host: raw.http.host.trim(), ...httpSecurityFrom(raw.http, problems) },
    worker: {
      ...raw.worker,
      // Derived from the config topic: workers sharing it form one group, and no other.
      statusStorageTopic: raw.worker.statusStorageTopic.trim() || `${raw.worker.configStorageTopic}-status`,
      groupId: raw.worker.groupId.trim() || raw.worker.configStorageTopic,
    },
    log: raw.log,
    startupTimeoutMs: raw.startupTimeoutMs,
    shutdownTimeoutMs: raw.shutdownTimeoutMs,
  };
}

function connectorFrom(source: ConfigSource, worker: WorkerConfig, problems: string[]): CdcConnectorConfig | null {
  const raw = validateScope('connector', source, problems) as unknown as Omit<CdcConnectorSettings, 'pg'> & {
    pg: Omit<CdcConnectorSettings['pg'], 'tables' | 'connection'> & RawPgSecurity & { tables: string };
  };
  const connection = pgConnectionFrom(raw.pg, problems);
  if (raw.events.format === 'avro' && !worker.registry.url) {
    problems.push('WALCAST_SCHEMA_REGISTRY_URL must be set when WALCAST_FORMAT=avro (or set WALCAST_FORMAT=json)');
  }
  if (problems.length > 0) return null;
  const topicPrefix = raw.events.topicPrefix || databaseName(raw.pg.url);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(topicPrefix)) {
    problems.push(
      `WALCAST_TOPIC_PREFIX is not set and the database name ${JSON.stringify(topicPrefix)} is not a valid Kafka topic prefix: set WALCAST_TOPIC_PREFIX (A-Z, a-z, 0-9, ".", "_", "-")`,
    );
    return null;
  }
  return {
    name: topicPrefix,
    pg: {
      url: raw.pg.url,
      connection,
      slot: raw.pg.slot,
      publication: raw.pg.publication,
      tables: list(raw.pg.tables),
      publicationRefreshIntervalMs: raw.pg.publicationRefreshIntervalMs,
      retainedWalWarnBytes: raw.pg.retainedWalWarnBytes,
      statusIntervalMs: raw.pg.statusIntervalMs,
    },
    kafka: { ...worker.kafka, ...raw.kafka, transactionalId: raw.kafka.transactionalId || `walcast-${topicPrefix}-${raw.pg.slot}` },
    registry: worker.registry,
    events: { ...raw.events, topicPrefix },
    errors: { ...raw.errors, deadLetterQueueTopicName: raw.errors.deadLetterQueueTopicName || `${topicPrefix}-dlq` },
    batch: raw.batch,
    // Debezium's older name for no_data.
    snapshot: { ...raw.snapshot, mode: (raw.snapshot.mode as string) === 'never' ? 'no_data' : raw.snapshot.mode },
    shutdownTimeoutMs: worker.shutdownTimeoutMs,
  };
}

/** The sink shares WALCAST_ERRORS_* with the source (one definition, in connector-schema.ts). */
function sinkErrorsFrom(source: ConfigSource, problems: string[]): SinkSettings['errors'] {
  const config = convict({ errors: cdcConnectorSchema.errors } as unknown as convict.Schema<unknown>, { env: source as NodeJS.ProcessEnv, args: [] });
  try {
    config.validate({ allowed: 'warn' });
  } catch (e) {
    const variables = configVariables('connector');
    for (const line of (e as Error).message.split('\n')) {
      const match = /^([\w.]+): (.*)$/.exec(line.trim());
      const variable = match ? variables.find((v) => v.path === match[1]) : undefined;
      problems.push(variable ? `${variable.env}: ${match![2]}` : line.trim());
    }
  }
  return (config.getProperties() as { errors: SinkSettings['errors'] }).errors;
}

function sinkFrom(source: ConfigSource, worker: WorkerConfig, problems: string[]): SinkConfig | null {
  const raw = validateScope('sink', source, problems) as unknown as Omit<SinkSettings, 'pg' | 'topics' | 'topicsRegex' | 'primaryKeyFields'> & {
    pg: { url: string } & RawPgSecurity;
    topics: string;
    topicsRegex: string;
    primaryKeyFields: string;
  };
  const connection = pgConnectionFrom(raw.pg, problems, 'WALCAST_SINK_PG');
  const errors = sinkErrorsFrom(source, problems);
  const topics = list(raw.topics);
  let topicsRegex: RegExp | null = null;
  if ((topics.length > 0) === (raw.topicsRegex !== '')) {
    problems.push('set one of WALCAST_SINK_TOPICS (a list of topics) and WALCAST_SINK_TOPICS_REGEX (a pattern)');
  } else if (raw.topicsRegex !== '') {
    try {
      topicsRegex = new RegExp(`^(?:${raw.topicsRegex})$`);
    } catch (error) {
      problems.push(`WALCAST_SINK_TOPICS_REGEX: not a regular expression (${(error as Error).message})`);
    }
  }
  if (problems.length > 0) return null;
  return {
    ...raw,
    name: raw.groupId,
    pg: { url: raw.pg.url, connection },
    topics,
    topicsRegex,
    primaryKeyFields: list(raw.primaryKeyFields),
    errors: { ...errors, deadLetterQueueTopicName: errors.deadLetterQueueTopicName || `${raw.groupId}-dlq` },
    kafka: worker.kafka,
    registry: worker.registry,
  };
}

/** `walcast sink`: the process settings and the sink's, from the environment; unknown WALCAST_* variables are refused. */
export function loadSinkConfig(env: ConfigSource = process.env): { worker: WorkerConfig; sink: SinkConfig } {
  const problems: string[] = [];
  unknownVariables(env, problems);
  const worker = workerFrom(env, problems);
  const sink = sinkFrom(env, worker, problems);
  if (!sink) throw new ConfigError(problems);
  return { worker, sink };
}

/** One sink's settings from a map of WALCAST_SINK_* names (a connector of `walcast worker`), named `name`. */
export function loadSinkConnectorConfig(source: ConfigSource, worker: WorkerConfig, name: string): SinkConfig {
  const problems: string[] = [];
  const sink = sinkFrom(source, worker, problems);
  if (!sink) throw new ConfigError(problems);
  return { ...sink, name };
}

/** The process settings alone (connector variables in `source` are ignored). */
export function loadWorkerConfig(source: ConfigSource): WorkerConfig {
  const problems: string[] = [];
  const worker = workerFrom(source, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return worker;
}

/** One CDC connector's settings from a map of WALCAST_* names (process variables in it are ignored). */
export function loadCdcConnectorConfig(source: ConfigSource, worker: WorkerConfig): CdcConnectorConfig {
  const problems: string[] = [];
  const connector = connectorFrom(source, worker, problems);
  if (!connector) throw new ConfigError(problems);
  return connector;
}

/** `walcast run`: both scopes from the environment; unknown WALCAST_* variables are refused. */
export function loadConfig(env: ConfigSource = process.env): WalcastConfig {
  const problems: string[] = [];
  unknownVariables(env, problems);
  const worker = workerFrom(env, problems);
  const connector = connectorFrom(env, worker, problems);
  if (!connector) throw new ConfigError(problems);
  return { worker, connector };
}
