/**
 * Settings of `walcast sink`: the target database, the topics it reads and how it applies them.
 * The process settings (Kafka, registry, management API, logging) are the worker's
 * (worker-schema.ts). `npm run docs:config` renders the doc strings into docs/configuration.md.
 */
import { cdcConnectorSchema } from './connector-schema.ts';
import { nonEmpty, positive, postgresUrl } from './formats.ts';

/** The source's TLS and password settings, for the target: same meaning, WALCAST_SINK_PG_* names. */
function forTarget<T extends { env: string; doc: string }>(leaf: T): T {
  return { ...leaf, env: leaf.env.replace('WALCAST_PG_', 'WALCAST_SINK_PG_'), doc: leaf.doc.replaceAll('WALCAST_PG_', 'WALCAST_SINK_PG_').replace(', replication included', '') };
}

const source = cdcConnectorSchema.pg;

export const sinkSchema = {
  pg: {
    url: {
      doc: 'PostgreSQL connection URL of the target database the sink writes to (postgres://user:password@host:port/db?sslmode=...). The role needs INSERT, UPDATE, DELETE (TRUNCATE when enabled) on the target tables, CREATE on their schemas to create and evolve tables, and to create the offsets table.',
      format: postgresUrl,
      default: '',
      env: 'WALCAST_SINK_PG_URL',
      sensitive: true,
    },
    password: forTarget(source.password),
    sslMode: forTarget(source.sslMode),
    sslRootCert: forTarget(source.sslRootCert),
    sslCert: forTarget(source.sslCert),
    sslKey: forTarget(source.sslKey),
    sslKeyPassword: forTarget(source.sslKeyPassword),
  },
  topics: {
    doc: 'Comma-separated change topics to apply (Kafka Connect\'s topics). Either this or WALCAST_SINK_TOPICS_REGEX.',
    format: String,
    default: '',
    env: 'WALCAST_SINK_TOPICS',
  },
  topicsRegex: {
    doc: 'Regular expression of the change topics to apply (Kafka Connect\'s topics.regex), matched against the whole name, e.g. `shop\\.public\\..*`. Topics created later are picked up at the consumer\'s next metadata refresh.',
    format: String,
    default: '',
    env: 'WALCAST_SINK_TOPICS_REGEX',
  },
  groupId: {
    doc: 'Kafka consumer group: sink processes with the same group split the topics\' partitions between them. Also the key of the group\'s rows in the offsets table.',
    format: nonEmpty('WALCAST_SINK_GROUP_ID'),
    default: 'walcast-sink',
    env: 'WALCAST_SINK_GROUP_ID',
  },
  tableNameFormat: {
    doc: 'Target table of a change, from its source (Debezium\'s collection.name.format): `${source.schema}`, `${source.table}`, `${source.db}`, `${topic}` and `${topic_underscored}` (the topic with its dots as underscores, what Debezium\'s JDBC sink makes of `${topic}`) are replaced; a dot outside `${...}` separates schema and table. One part only: a table in the role\'s search_path.',
    format: nonEmpty('WALCAST_SINK_TABLE_NAME_FORMAT'),
    default: '${source.schema}.${source.table}',
    env: 'WALCAST_SINK_TABLE_NAME_FORMAT',
  },
  primaryKeyFields: {
    doc: 'Comma-separated fields of the value that form the key (Debezium\'s primary.key.fields with primary.key.mode=record_value). Empty: the fields of the record key (record_key).',
    format: String,
    default: '',
    env: 'WALCAST_SINK_PRIMARY_KEY_FIELDS',
  },
  deleteEnabled: {
    doc: 'Apply deletes (op d) as DELETE. false: deletes are skipped.',
    format: 'strict-boolean',
    default: true,
    env: 'WALCAST_SINK_DELETE_ENABLED',
  },
  truncateEnabled: {
    doc: 'Apply truncates (op t) as TRUNCATE of the target table. false: truncates are skipped.',
    format: 'strict-boolean',
    default: false,
    env: 'WALCAST_SINK_TRUNCATE_ENABLED',
  },
  schemaEvolution: {
    doc: 'basic: create a missing target table from the record\'s schema and add columns that new fields need; none: the tables must exist with every column (a missing one stops the sink).',
    format: ['basic', 'none'],
    default: 'basic',
    env: 'WALCAST_SINK_SCHEMA_EVOLUTION',
  },
  offsetsTable: {
    doc: 'Table in the target database holding the consumed Kafka offsets, written in the same transaction as the rows (created when missing).',
    format: nonEmpty('WALCAST_SINK_OFFSETS_TABLE'),
    default: 'public.walcast_sink_offsets',
    env: 'WALCAST_SINK_OFFSETS_TABLE',
  },
  toastPlaceholder: {
    doc: 'The value that stands for an unchanged TOASTed column in update events (WALCAST_TOAST_PLACEHOLDER of the source, Debezium\'s unavailable.value.placeholder): such a column keeps the target\'s current value.',
    format: String,
    default: '__debezium_unavailable_value',
    env: 'WALCAST_SINK_TOAST_PLACEHOLDER',
  },
  fetchMaxBytesPerPartition: {
    doc: 'Most bytes fetched from one partition at a time: a fetch is applied as one batch (one PostgreSQL transaction), so this bounds batch size and memory.',
    format: positive,
    default: 4194304,
    env: 'WALCAST_SINK_FETCH_MAX_BYTES_PER_PARTITION',
  },
  sessionTimeoutMs: {
    doc: 'Kafka consumer group session timeout (ms): how long a silent sink process keeps its partitions before the group hands them to the others.',
    format: positive,
    default: 10000,
    env: 'WALCAST_SINK_SESSION_TIMEOUT_MS',
  },
};
