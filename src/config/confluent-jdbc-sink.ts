/**
 * Confluent's JDBC sink config names (io.confluent.connect.jdbc.JdbcSinkConnector), mapped onto
 * walcast's sink settings (the WALCAST_SINK_* names loadSinkConnectorConfig validates). Unlike
 * Debezium's sink, this one reads *flat* records: the value is the row itself (the JDBC source's
 * output, or Debezium's after ExtractNewRecordState), a tombstone deletes the key's row. The
 * sink decodes them so (sink/decode.ts, flat records). Confluent's defaults apply where they
 * differ from walcast's; a setting with no walcast meaning is refused by name (worker/plugins.ts),
 * a value walcast cannot honour here.
 */
import type { ConfigProblem } from '../worker/config-providers.ts';
import type { ConfigKey } from '../worker/plugins.ts';
import { converterOf } from './converters.ts';
import { booleanText, checkInsertMode, connectionAndTopics, errorSettings } from './jdbc-sink-settings.ts';
import type { ConfigSource } from './load.ts';

export const CONFLUENT_JDBC_SINK_CLASS = 'io.confluent.connect.jdbc.JdbcSinkConnector';

const key = (name: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey => ({ name, type: 'STRING', doc, group: 'JDBC sink', ...extra });

export const CONFLUENT_JDBC_SINK_KEYS: readonly ConfigKey[] = [
  key('topics', 'Comma-separated topics to apply (or topics.regex).', { type: 'LIST' }),
  key('topics.regex', 'Regular expression of the topics to apply (or topics).'),
  key('connection.url', 'jdbc:postgresql://host:port/database[?sslmode=...] of the target (PostgreSQL only).', { required: true, importance: 'HIGH' }),
  key('connection.user', 'Role to connect as.', { importance: 'HIGH' }),
  key('connection.password', 'Password of connection.user.', { type: 'PASSWORD', importance: 'HIGH' }),
  key('insert.mode', 'insert or upsert: walcast upserts in both (an insert whose key exists updates the row); update is not supported.', { default: 'insert' }),
  key('pk.mode', 'record_key (every field of the key) or record_value (with pk.fields); none and kafka are not supported.', { default: 'none', importance: 'HIGH' }),
  key('pk.fields', 'With record_value: the fields of the value that form the key.', { type: 'LIST' }),
  key('delete.enabled', 'A tombstone deletes its key\'s row (needs pk.mode=record_key).', { type: 'BOOLEAN', default: 'false' }),
  key('auto.create', 'Create a missing table (with auto.evolve: walcast does both or neither).', { type: 'BOOLEAN', default: 'false' }),
  key('auto.evolve', 'Add missing columns (with auto.create: walcast does both or neither).', { type: 'BOOLEAN', default: 'false' }),
  key('table.name.format', 'Target table: ${topic} is the topic; a dot separates schema and table.', { default: '${topic}' }),
  key('quote.sql.identifiers', 'always only: walcast always quotes.', { default: 'always' }),
  key('dialect.name', 'PostgreSqlDatabaseDialect only.'),
  key('db.timezone', 'UTC only.', { default: 'UTC' }),
  key('errors.tolerance', 'none or all (WALCAST_ERRORS_TOLERANCE).', { default: 'none' }),
  key('errors.deadletterqueue.topic.name', 'Dead-letter topic for errors.tolerance=all.'),
  key('errors.deadletterqueue.context.headers.enable', "true or false: walcast always adds Connect's __connect.errors.* headers.", { type: 'BOOLEAN', default: 'false' }),
];

function flag(config: Record<string, string>, name: string, problems: ConfigProblem[]): boolean {
  return booleanText(config, name, 'false', problems) === 'true';
}

/** The WALCAST_SINK_* settings a Confluent JDBC sink config means; problems name the Confluent setting. */
export function confluentJdbcSinkSettings(config: Record<string, string>, registryUrl: string, problems: ConfigProblem[]): ConfigSource {
  const out: ConfigSource = {};
  connectionAndTopics(config, 'connection.user', 'table.name.format', problems, out);
  checkInsertMode(config, 'rows', problems);
  const keyMode = config['pk.mode']?.trim();
  const keyFields = config['pk.fields']?.trim() ?? '';
  if (keyMode === 'record_value') {
    // Confluent's empty pk.fields (every field of the value) would make every change a new row.
    if (keyFields === '') problems.push({ key: 'pk.fields', message: 'pk.mode=record_value needs pk.fields: the fields of the value that form the key' });
    out.WALCAST_SINK_PRIMARY_KEY_FIELDS = keyFields;
  } else if (keyMode === 'record_key') {
    if (keyFields !== '') problems.push({ key: 'pk.fields', message: 'pk.fields with pk.mode=record_key: walcast keys by every field of the record key (a struct); remove pk.fields' });
  } else {
    problems.push({ key: 'pk.mode', message: `pk.mode=${keyMode ?? 'none (the default)'}: walcast applies rows by key; set pk.mode=record_key (or record_value with pk.fields)` });
  }
  const deletes = flag(config, 'delete.enabled', problems);
  if (deletes && keyMode !== 'record_key') problems.push({ key: 'delete.enabled', message: 'delete.enabled=true needs pk.mode=record_key (a tombstone has only its key)' });
  out.WALCAST_SINK_DELETE_ENABLED = String(deletes);
  out.WALCAST_SINK_TRUNCATE_ENABLED = 'false';

  const create = flag(config, 'auto.create', problems);
  const evolve = flag(config, 'auto.evolve', problems);
  if (create !== evolve) problems.push({ key: 'auto.evolve', message: 'auto.create and auto.evolve: walcast creates missing tables and adds missing columns together; set both true or both false' });
  out.WALCAST_SINK_SCHEMA_EVOLUTION = create && evolve ? 'basic' : 'none';
  // Confluent's ${topic} is the topic as it is (a dot in it then separates schema and table), as walcast's.
  out.WALCAST_SINK_TABLE_NAME_FORMAT = config['table.name.format'] ?? '${topic}';

  const quote = config['quote.sql.identifiers']?.trim();
  if (quote !== undefined && quote !== 'always') problems.push({ key: 'quote.sql.identifiers', message: `quote.sql.identifiers=${quote}: walcast always quotes (always)` });
  const dialect = config['dialect.name']?.trim();
  if (dialect !== undefined && dialect !== '' && dialect !== 'PostgreSqlDatabaseDialect') problems.push({ key: 'dialect.name', message: `dialect.name=${dialect}: PostgreSqlDatabaseDialect only` });
  const zone = config['db.timezone']?.trim();
  if (zone !== undefined && zone !== 'UTC' && zone !== 'Z') problems.push({ key: 'db.timezone', message: `db.timezone=${zone}: walcast writes temporal values as they are in the records (UTC only)` });
  if (config['errors.deadletterqueue.context.headers.enable'] !== undefined) flag(config, 'errors.deadletterqueue.context.headers.enable', problems);
  errorSettings(config, out);

  // Flat rows as Avro or JSON (with or without schemas), detected per record.
  converterOf(config, 'key', registryUrl, problems);
  converterOf(config, 'value', registryUrl, problems);
  return out;
}

/** The Confluent setting a WALCAST_* variable came from, for problems found by the sink's own validation. */
export function confluentSinkSettingOf(variable: string): string {
  const names: Record<string, string> = {
    WALCAST_SINK_PG_URL: 'connection.url',
    WALCAST_SINK_PG_PASSWORD: 'connection.password',
    WALCAST_SINK_TOPICS: 'topics',
    WALCAST_SINK_TOPICS_REGEX: 'topics.regex',
    WALCAST_SINK_PRIMARY_KEY_FIELDS: 'pk.fields',
    WALCAST_SINK_DELETE_ENABLED: 'delete.enabled',
    WALCAST_SINK_SCHEMA_EVOLUTION: 'auto.create',
    WALCAST_SINK_TABLE_NAME_FORMAT: 'table.name.format',
    WALCAST_ERRORS_TOLERANCE: 'errors.tolerance',
    WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME: 'errors.deadletterqueue.topic.name',
  };
  return names[variable] ?? variable;
}
