/**
 * Settings of one CDC connector: its source (database, slot, publication, tables), its Kafka
 * transactions and topics, its events and batches. A worker will load several of these, from the
 * environment for `walcast run` or from a JSON map. `npm run docs:config` renders the doc strings
 * into docs/configuration.md.
 */
import { COMPRESSION_NAMES } from '../kafka/compression.ts';
import { identifier, nonEmpty, oneOf, positive, postgresUrl, replicationFactor, topicNameOrEmpty, topicPrefix } from './formats.ts';

export const cdcConnectorSchema = {
  pg: {
    url: {
      doc: 'PostgreSQL connection URL of the source database (postgres://user:password@host:port/db?sslmode=...). The role needs REPLICATION and SELECT on the captured tables; creating the publication needs table ownership or superuser. The URL may carry libpq\'s sslmode, sslrootcert, sslcert, sslkey and sslpassword, with libpq\'s meaning (as the WALCAST_PG_SSL_* variables), and libpq\'s options (session settings, e.g. options=-c%20statement_timeout%3D0); DateStyle, IntervalStyle and extra_float_digits stay pinned whatever it says.',
      format: postgresUrl,
      default: '',
      env: 'WALCAST_PG_URL',
      sensitive: true,
    },
    password: {
      doc: 'Password of the URL\'s user, when it is not in WALCAST_PG_URL (e.g. from a file: WALCAST_PG_PASSWORD_FILE).',
      format: String,
      default: '',
      env: 'WALCAST_PG_PASSWORD',
      sensitive: true,
    },
    sslMode: {
      doc: 'TLS to PostgreSQL, with libpq\'s meaning: disable, allow, prefer, require (encrypted, not verified; verified against WALCAST_PG_SSL_ROOT_CERT when it is set, as verify-ca), verify-ca (the CA signed the server certificate), verify-full (and it names the host). For every connection walcast opens, replication included. Empty: the URL\'s sslmode, else no TLS.',
      format: oneOf(['', 'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']),
      default: '',
      env: 'WALCAST_PG_SSL_MODE',
    },
    sslRootCert: {
      doc: 'PEM file of the CA certificate(s) that signed the server certificate (libpq\'s sslrootcert); `system`: the public CAs Node.js trusts (the default for verify-ca and verify-full).',
      format: String,
      default: '',
      env: 'WALCAST_PG_SSL_ROOT_CERT',
    },
    sslCert: {
      doc: 'PEM file of a client certificate (libpq\'s sslcert), for `cert` authentication or servers that ask for one. Needs WALCAST_PG_SSL_KEY.',
      format: String,
      default: '',
      env: 'WALCAST_PG_SSL_CERT',
    },
    sslKey: {
      doc: 'PEM file of the client certificate\'s private key (libpq\'s sslkey).',
      format: String,
      default: '',
      env: 'WALCAST_PG_SSL_KEY',
    },
    sslKeyPassword: {
      doc: 'Passphrase of an encrypted WALCAST_PG_SSL_KEY (libpq\'s sslpassword).',
      format: String,
      default: '',
      env: 'WALCAST_PG_SSL_KEY_PASSWORD',
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
      doc: 'Comma-separated include list of schema.table patterns (* and ? wildcards). Empty: every table in the publication, or every user table when walcast creates it. A table PostgreSQL would refuse to update once published (no primary key and REPLICA IDENTITY DEFAULT, or NOTHING) is left out of a publication walcast creates unless a pattern without wildcards names it.',
      format: String,
      default: '',
      env: 'WALCAST_TABLES',
    },
    publicationRefreshIntervalMs: {
      doc: 'How often (ms) walcast brings a publication it created in step with WALCAST_TABLES: adds tables created since, drops tables no longer selected or no longer writable while published. Rows written to a new table before it is added are not streamed. 0: only at start.',
      format: 'nat',
      default: 10000,
      env: 'WALCAST_PUBLICATION_REFRESH_INTERVAL_MS',
    },
    retainedWalWarnBytes: {
      doc: 'Log a warning when the slot retains more WAL than this (bytes of pg_current_wal_lsn() - restart_lsn); also exported as walcast_retained_wal_warn_bytes for alerts. 0 disables the warning.',
      format: 'nat',
      default: 1073741824,
      env: 'WALCAST_RETAINED_WAL_WARN_BYTES',
    },
    statusIntervalMs: {
      doc: 'How often walcast reports its confirmed position to PostgreSQL (ms); must stay well below wal_sender_timeout.',
      format: positive,
      default: 10000,
      env: 'WALCAST_PG_STATUS_INTERVAL_MS',
    },
  },
  kafka: {
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
    compression: {
      doc: 'Compression of the batches walcast produces: none, gzip, snappy, lz4 or zstd (Kafka\'s compression.type). A topic\'s max.message.bytes applies to the compressed batch, so compression also lets larger rows through.',
      format: [...COMPRESSION_NAMES],
      default: 'none',
      env: 'WALCAST_KAFKA_COMPRESSION',
    },
  },
  errors: {
    tolerance: {
      doc: 'What a row walcast cannot publish does (a value it cannot decode or encode, a change event over its topic\'s max.message.bytes), as Kafka Connect\'s errors.tolerance: none stops walcast with exit code 7 and a message naming the table, column or key, LSN and the fix; all sends the row as JSON to the dead-letter topic, with Kafka Connect\'s __connect.errors.* headers, in the same Kafka transaction as the events around it, and goes on. walcast sink reads it too, for a record it cannot decode or apply (not Avro or JSON, a value the target refuses): none stops the sink with exit code 7 naming the topic, partition and offset; all copies the record unchanged to the dead-letter topic with Connect\'s headers (topic, partition, offset, stage, exception), exactly once together with the rows and offsets, and goes on. An incompatible schema change stops the sink either way.',
      format: ['none', 'all'],
      default: 'none',
      env: 'WALCAST_ERRORS_TOLERANCE',
    },
    deadLetterQueueTopicName: {
      doc: 'Dead-letter topic for WALCAST_ERRORS_TOLERANCE=all (Kafka Connect\'s errors.deadletterqueue.topic.name); created when missing. Default: <topic prefix>-dlq (for walcast sink: <group id>-dlq).',
      format: topicNameOrEmpty,
      default: '',
      env: 'WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME',
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
      doc: 'numeric and money values: precise (Avro decimal for numeric(p,s) and money, exact string for unconstrained numeric; a numeric(p,s) column that receives NaN widens to a union of the decimal and the string "NaN", see docs/types.md) or string (every numeric as its exact text, NaN and Infinity included).',
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
      doc: 'Longest time (ms) a committed PostgreSQL transaction waits for others to share its Kafka transaction, counted from when it reached walcast (time spent queued behind the previous Kafka commit counts).',
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
      doc: 'Events per produce request inside a Kafka transaction while none is in flight. While one is (kafkajs keeps one in flight per broker), the next grows instead of waiting, up to 900 KiB or 95% of the smallest topic max.message.bytes, and goes out as soon as the answer is in.',
      format: positive,
      default: 1000,
      env: 'WALCAST_SEND_CHUNK_EVENTS',
    },
    maxBufferedMessages: {
      doc: 'Replication messages buffered before walcast pauses the replication stream (backpressure); the server\'s keepalives do not count.',
      format: positive,
      default: 10000,
      env: 'WALCAST_MAX_BUFFERED_MESSAGES',
    },
  },
  snapshot: {
    mode: {
      doc: 'initial: read the captured tables\' existing rows (op r) when walcast has no recorded position, then stream; no_data (alias never): stream only; initial_only: snapshot, then stop with exit code 0; when_needed: also when the slot is new or ahead of the position in Kafka (changes would otherwise be missing). An interrupted snapshot resumes from its last committed chunk.',
      format: ['initial', 'no_data', 'never', 'initial_only', 'when_needed'],
      default: 'initial',
      env: 'WALCAST_SNAPSHOT_MODE',
    },
    maxThreads: {
      doc: 'Connections reading snapshot chunks in parallel (across tables and within a table).',
      format: positive,
      default: 2,
      env: 'WALCAST_SNAPSHOT_MAX_THREADS',
    },
    signalTopic: {
      doc: "Kafka topic of Debezium-style signals (Debezium's signal.kafka.topic): records keyed by the connector's name (the topic prefix) with execute-snapshot, stop-snapshot, pause-snapshot or resume-snapshot. Empty: no signal channel (the management API and `walcast snapshot` still work).",
      format: String,
      default: '',
      env: 'WALCAST_SIGNAL_KAFKA_TOPIC',
    },
  },
};
