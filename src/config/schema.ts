/**
 * Every setting walcast reads, as a convict schema. `npm run docs:config` renders this file
 * into docs/configuration.md, so the doc strings here are the user-facing reference.
 */
import convict from 'convict';

function nonEmpty(name: string) {
  return (value: unknown): void => {
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`${name} must be set`);
  };
}

function postgresUrl(value: unknown): void {
  nonEmpty('WALCAST_PG_URL')(value);
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new Error('must be a URL like postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`must start with postgres:// (got ${url.protocol}//)`);
  }
  if (url.pathname.length <= 1) throw new Error('must name the database, e.g. postgres://user@host:5432/mydb');
  try {
    decodeURIComponent(url.pathname.slice(1));
  } catch {
    throw new Error('has a malformed %-escape in the database name');
  }
}

// convict's Boolean turns every string but "false" into true; a typo must not flip a setting.
convict.addFormat({
  name: 'strict-boolean',
  validate(value: unknown): void {
    if (typeof value !== 'boolean') throw new Error('must be true or false (also accepted: 1/0, yes/no, on/off)');
  },
  coerce(value: unknown): unknown {
    const text = String(value).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return value;
  },
});

function replicationFactor(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || (value !== -1 && value < 1)) {
    throw new Error('must be -1 (broker default) or a positive integer');
  }
}

function topicPrefix(value: unknown): void {
  // Topic names allow only these characters; an empty prefix means "the database name", checked at load.
  if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9._-]{1,200}$/.test(value))) {
    throw new Error('must be 1-200 characters of A-Z, a-z, 0-9, ".", "_" and "-" (Kafka topic name rules)');
  }
}

function brokerList(value: unknown): void {
  nonEmpty('WALCAST_KAFKA_BROKERS')(value);
  for (const broker of String(value).split(',')) {
    if (!/^[^\s:,]+:\d{1,5}$/.test(broker.trim())) {
      throw new Error(`"${broker.trim()}" is not host:port (expected e.g. kafka-1:9092,kafka-2:9092)`);
    }
  }
}

function httpUrlOrEmpty(value: unknown): void {
  if (value === '' || value === null || value === undefined) return;
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new Error('must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http(s) URL');
}

function identifier(name: string) {
  return (value: unknown): void => {
    // Replication slot names are restricted by PostgreSQL to lower-case letters, digits and underscores.
    if (typeof value !== 'string' || !/^[a-z0-9_]{1,63}$/.test(value)) {
      throw new Error(`${name} must be 1-63 characters of a-z, 0-9 and _`);
    }
  };
}

function positive(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error('must be a positive integer');
}

export const configSchema = {
  pg: {
    url: {
      doc: 'PostgreSQL connection URL of the source database (postgres://user:password@host:port/db?sslmode=...). The role needs REPLICATION and SELECT on the captured tables; creating the publication needs table ownership or superuser.',
      format: postgresUrl,
      default: '',
      env: 'WALCAST_PG_URL',
      sensitive: true,
    },
    slot: {
      doc: 'Logical replication slot walcast reads (created with pgoutput when missing).',
      format: identifier('WALCAST_SLOT'),
      default: 'walcast',
      env: 'WALCAST_SLOT',
    },
    publication: {
      doc: 'Publication the slot streams (created for WALCAST_TABLES when missing).',
      format: nonEmpty('WALCAST_PUBLICATION'),
      default: 'walcast',
      env: 'WALCAST_PUBLICATION',
    },
    tables: {
      doc: 'Comma-separated include list of schema.table patterns (* and ? wildcards). Empty: every table in the publication, or every user table when walcast creates it.',
      format: String,
      default: '',
      env: 'WALCAST_TABLES',
    },
    statusIntervalMs: {
      doc: 'How often walcast reports its confirmed position to PostgreSQL (ms); must stay well below wal_sender_timeout.',
      format: positive,
      default: 10000,
      env: 'WALCAST_PG_STATUS_INTERVAL_MS',
    },
  },
  kafka: {
    brokers: {
      doc: 'Comma-separated Kafka bootstrap servers (host:port).',
      format: brokerList,
      default: '',
      env: 'WALCAST_KAFKA_BROKERS',
    },
    clientId: {
      doc: 'Kafka client id.',
      format: String,
      default: 'walcast',
      env: 'WALCAST_KAFKA_CLIENT_ID',
    },
    transactionalId: {
      doc: 'Kafka transactional id; fences a previous instance for the same source. Default: walcast-<topic prefix>-<slot>.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_TRANSACTIONAL_ID',
    },
    transactionTimeoutMs: {
      doc: 'Kafka transaction timeout (ms). A single PostgreSQL transaction must reach Kafka within it; must not exceed the broker\'s transaction.max.timeout.ms.',
      format: positive,
      default: 600000,
      env: 'WALCAST_KAFKA_TRANSACTION_TIMEOUT_MS',
    },
    openTransactionWaitMs: {
      doc: 'At start, how long a transaction still open on walcast\'s topics may take to finish before it counts as left open by a failed broker or producer (ms).',
      format: positive,
      default: 10000,
      env: 'WALCAST_KAFKA_OPEN_TRANSACTION_WAIT_MS',
    },
    offsetsTopic: {
      doc: 'Compacted topic holding walcast\'s committed source positions.',
      format: nonEmpty('WALCAST_OFFSETS_TOPIC'),
      default: 'walcast-offsets',
      env: 'WALCAST_OFFSETS_TOPIC',
    },
    topicPartitions: {
      doc: 'Partitions of change topics walcast creates (ordering per key holds for any count).',
      format: positive,
      default: 1,
      env: 'WALCAST_TOPIC_PARTITIONS',
    },
    topicReplicationFactor: {
      doc: 'Replication factor of topics walcast creates; -1 uses the broker\'s default.replication.factor.',
      format: replicationFactor,
      default: -1,
      env: 'WALCAST_TOPIC_REPLICATION_FACTOR',
    },
  },
  registry: {
    url: {
      doc: 'Confluent-compatible schema registry URL (for Apicurio: http://host:8080/apis/ccompat/v7). Required for WALCAST_FORMAT=avro.',
      format: httpUrlOrEmpty,
      default: '',
      env: 'WALCAST_SCHEMA_REGISTRY_URL',
      sensitive: true,
    },
  },
  events: {
    topicPrefix: {
      doc: 'Topic prefix: topics are <prefix>.<schema>.<table>. Default: the database name.',
      format: topicPrefix,
      default: '',
      env: 'WALCAST_TOPIC_PREFIX',
    },
    format: {
      doc: 'Encoding of keys and values: avro (Confluent wire format, schemas in the registry) or json.',
      format: ['avro', 'json'],
      default: 'avro',
      env: 'WALCAST_FORMAT',
    },
    tombstones: {
      doc: 'Emit a tombstone (null value) after each delete so compacted topics drop the key.',
      format: 'strict-boolean',
      default: true,
      env: 'WALCAST_TOMBSTONES',
    },
    decimalHandling: {
      doc: 'numeric and money values: precise (Avro decimal for numeric(p,s) and money, exact string for unconstrained numeric; NaN in a numeric(p,s) column stops walcast) or string (every numeric as its exact text, NaN and Infinity included).',
      format: ['precise', 'string'],
      default: 'precise',
      env: 'WALCAST_DECIMAL_HANDLING',
    },
    moneyFractionDigits: {
      doc: 'Fraction digits of the source\'s lc_monetary currency, the scale of money values.',
      format: 'nat',
      default: 2,
      env: 'WALCAST_MONEY_FRACTION_DIGITS',
    },
    toastPlaceholder: {
      doc: 'Value written for an unchanged TOASTed column that PostgreSQL did not send (Debezium\'s default placeholder).',
      format: String,
      default: '__debezium_unavailable_value',
      env: 'WALCAST_TOAST_PLACEHOLDER',
    },
  },
  batch: {
    maxEvents: {
      doc: 'A Kafka transaction is committed once it holds at least this many events (whole PostgreSQL transactions are never split across Kafka transactions).',
      format: positive,
      default: 20000,
      env: 'WALCAST_BATCH_MAX_EVENTS',
    },
    maxDelayMs: {
      doc: 'Longest time (ms) a committed PostgreSQL transaction waits for others to share its Kafka transaction.',
      format: positive,
      default: 5,
      env: 'WALCAST_BATCH_MAX_DELAY_MS',
    },
    maxAgeMs: {
      doc: 'While walcast is catching up (input never runs dry), longest time (ms) a Kafka transaction keeps collecting PostgreSQL transactions before it is committed.',
      format: positive,
      default: 200,
      env: 'WALCAST_BATCH_MAX_AGE_MS',
    },
    sendChunkEvents: {
      doc: 'Events per produce request inside a Kafka transaction.',
      format: positive,
      default: 1000,
      env: 'WALCAST_SEND_CHUNK_EVENTS',
    },
    maxBufferedMessages: {
      doc: 'Replication messages buffered before walcast pauses the replication stream (backpressure).',
      format: positive,
      default: 10000,
      env: 'WALCAST_MAX_BUFFERED_MESSAGES',
    },
  },
  http: {
    port: {
      doc: 'Port of the health, metrics and management API (0 disables it).',
      format: 'port',
      default: 8083,
      env: 'WALCAST_HTTP_PORT',
    },
    host: {
      doc: 'Address the management API listens on.',
      format: String,
      default: '0.0.0.0',
      env: 'WALCAST_HTTP_HOST',
    },
  },
  log: {
    level: {
      doc: 'Log level: fatal, error, warn, info, debug or trace.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
      default: 'info',
      env: 'WALCAST_LOG_LEVEL',
    },
  },
  startupTimeoutMs: {
    doc: 'At start, how long (ms) walcast retries unreachable services before exiting with code 4. Once streaming, transient faults are retried indefinitely.',
    format: positive,
    default: 60000,
    env: 'WALCAST_STARTUP_TIMEOUT_MS',
  },
  shutdownTimeoutMs: {
    doc: 'On SIGTERM/SIGINT, longest wait (ms) for the open Kafka transaction to finish before it is aborted.',
    format: positive,
    default: 8000,
    env: 'WALCAST_SHUTDOWN_TIMEOUT_MS',
  },
};

export type ConfigSchema = typeof configSchema;

/** Every WALCAST_* variable the schema declares, with its doc, default and whether it is secret. */
export interface ConfigVariable {
  env: string;
  path: string;
  doc: string;
  default: unknown;
  sensitive: boolean;
}

interface SchemaLeaf {
  env: string;
  doc: string;
  default: unknown;
  sensitive?: boolean;
}

function isLeaf(node: object): node is SchemaLeaf {
  return 'env' in node && 'doc' in node;
}

export function configVariables(): ConfigVariable[] {
  const out: ConfigVariable[] = [];
  const walk = (node: object, path: string[]): void => {
    if (isLeaf(node)) {
      out.push({ env: node.env, path: path.join('.'), doc: node.doc, default: node.default, sensitive: node.sensitive === true });
      return;
    }
    for (const [key, child] of Object.entries(node)) walk(child as object, [...path, key]);
  };
  walk(configSchema, []);
  return out;
}

export const convictSchema = configSchema as unknown as convict.Schema<unknown>;
