/**
 * Debezium's JDBC sink config names (io.debezium.connector.jdbc.JdbcSinkConnector), mapped onto
 * walcast's sink settings (the WALCAST_SINK_* names loadSinkConnectorConfig validates), so that a
 * Debezium JDBC sink config runs unchanged. Debezium's defaults apply where they differ from
 * walcast's (deletes, truncates and schema evolution off; tables named after the topic). A
 * setting with no walcast meaning is refused by name (worker/plugins.ts); a value walcast cannot
 * honour (insert.mode=update, primary.key.mode=none) is refused here.
 */
import type { ConfigProblem } from '../worker/config-providers.ts';
import type { ConfigKey } from '../worker/plugins.ts';
import { converterOf } from './converters.ts';
import { booleanText, checkInsertMode, connectionAndTopics, errorSettings } from './jdbc-sink-settings.ts';
import type { ConfigSource } from './load.ts';

export const DEBEZIUM_JDBC_SINK_CLASS = 'io.debezium.connector.jdbc.JdbcSinkConnector';

const key = (name: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey => ({ name, type: 'STRING', doc, group: 'Debezium JDBC sink', ...extra });

export const DEBEZIUM_JDBC_SINK_KEYS: readonly ConfigKey[] = [
  key('topics', 'Comma-separated topics to apply (or topics.regex).', { type: 'LIST' }),
  key('topics.regex', 'Regular expression of the topics to apply (or topics).'),
  key('connection.url', 'jdbc:postgresql://host:port/database[?sslmode=...] of the target (PostgreSQL only).', { required: true, importance: 'HIGH' }),
  key('connection.username', 'Role to connect as.', { importance: 'HIGH' }),
  key('connection.password', 'Password of connection.username.', { type: 'PASSWORD', importance: 'HIGH' }),
  key('insert.mode', 'insert or upsert: walcast upserts in both (an insert whose key exists updates the row).', { default: 'insert' }),
  key('delete.enabled', 'Apply deletes (needs primary.key.mode=record_key).', { type: 'BOOLEAN', default: 'false' }),
  key('truncate.enabled', 'Apply truncates.', { type: 'BOOLEAN', default: 'false' }),
  key('primary.key.mode', 'record_key or record_value (with primary.key.fields); none and kafka are not supported.', { default: 'none', importance: 'HIGH' }),
  key('primary.key.fields', 'With record_value: the fields of the value that form the key.', { type: 'LIST' }),
  key('schema.evolution', 'none or basic: create missing tables and add missing columns.', { default: 'none' }),
  key('collection.name.format', 'Target table: ${topic} (dots as underscores), ${source.schema}, ${source.table}, ${source.db}; a dot separates schema and table.', { default: '${topic}' }),
  key('table.name.format', 'Older name of collection.name.format.'),
  key('quote.identifiers', 'true or false: walcast always quotes (see docs/worker.md).', { type: 'BOOLEAN', default: 'false' }),
  key('database.time_zone', 'UTC only.', { default: 'UTC' }),
  key('errors.tolerance', 'none or all (WALCAST_ERRORS_TOLERANCE).', { default: 'none' }),
  key('errors.deadletterqueue.topic.name', 'Dead-letter topic for errors.tolerance=all.'),
  key('errors.deadletterqueue.context.headers.enable', "true or false: walcast always adds Connect's __connect.errors.* headers.", { type: 'BOOLEAN', default: 'false' }),
  key('consumer.override.isolation.level', 'read_committed only (walcast always reads committed records).'),
];

/** A Debezium collection.name.format as WALCAST_SINK_TABLE_NAME_FORMAT: Debezium's ${topic} has its dots as underscores. */
function tableNameFormat(format: string): string {
  return format.replaceAll('${topic}', '${topic_underscored}');
}

/** The WALCAST_SINK_* settings a Debezium JDBC sink config means; problems name the Debezium setting. */
export function debeziumJdbcSinkSettings(config: Record<string, string>, registryUrl: string, problems: ConfigProblem[]): ConfigSource {
  const out: ConfigSource = {};
  connectionAndTopics(config, 'connection.username', 'collection.name.format', problems, out);
  checkInsertMode(config, 'changes', problems);
  const keyMode = config['primary.key.mode']?.trim();
  const keyFields = config['primary.key.fields']?.trim() ?? '';
  if (keyMode === 'record_value') {
    if (keyFields === '') problems.push({ key: 'primary.key.fields', message: 'primary.key.mode=record_value needs primary.key.fields: the fields of the value that form the key' });
    out.WALCAST_SINK_PRIMARY_KEY_FIELDS = keyFields;
  } else if (keyMode === 'record_key') {
    if (keyFields !== '') problems.push({ key: 'primary.key.fields', message: 'primary.key.fields with primary.key.mode=record_key: walcast keys by every field of the record key; remove primary.key.fields' });
  } else {
    problems.push({
      key: 'primary.key.mode',
      message: `primary.key.mode=${keyMode ?? 'none (Debezium\'s default)'}: walcast applies changes by key; set primary.key.mode=record_key (or record_value with primary.key.fields)`,
    });
  }
  const deletes = booleanText(config, 'delete.enabled', 'false', problems);
  if (deletes === 'true' && keyMode === 'record_value') problems.push({ key: 'delete.enabled', message: 'delete.enabled=true needs primary.key.mode=record_key (as in Debezium)' });
  out.WALCAST_SINK_DELETE_ENABLED = deletes;
  out.WALCAST_SINK_TRUNCATE_ENABLED = booleanText(config, 'truncate.enabled', 'false', problems);
  booleanText(config, 'quote.identifiers', 'false', problems);
  const headers = config['errors.deadletterqueue.context.headers.enable'];
  if (headers !== undefined) booleanText(config, 'errors.deadletterqueue.context.headers.enable', 'false', problems);

  const evolution = (config['schema.evolution'] ?? 'none').trim();
  if (evolution !== 'none' && evolution !== 'basic') problems.push({ key: 'schema.evolution', message: `schema.evolution=${evolution}: none or basic` });
  out.WALCAST_SINK_SCHEMA_EVOLUTION = evolution;

  if (config['collection.name.format'] !== undefined && config['table.name.format'] !== undefined) {
    problems.push({ key: 'table.name.format', message: 'set collection.name.format or its older name table.name.format, not both' });
  }
  out.WALCAST_SINK_TABLE_NAME_FORMAT = tableNameFormat(config['collection.name.format'] ?? config['table.name.format'] ?? '${topic}');

  const zone = config['database.time_zone']?.trim();
  if (zone !== undefined && zone !== 'UTC' && zone !== 'Z') problems.push({ key: 'database.time_zone', message: `database.time_zone=${zone}: walcast writes temporal values as they are in the records (UTC only)` });
  const isolation = config['consumer.override.isolation.level']?.trim();
  if (isolation !== undefined && isolation !== 'read_committed') problems.push({ key: 'consumer.override.isolation.level', message: 'consumer.override.isolation.level: walcast reads committed records only (read_committed)' });
  errorSettings(config, out);

  // The sink reads Avro and JSON (with or without schemas) alike, detected per record: a converter
  // only has to be one walcast reads, and an Avro one the worker's registry.
  converterOf(config, 'key', registryUrl, problems);
  converterOf(config, 'value', registryUrl, problems);
  return out;
}

/** The Debezium setting a WALCAST_* variable came from, for problems found by the sink's own validation. */
export function debeziumSinkSettingOf(variable: string): string {
  const names: Record<string, string> = {
    WALCAST_SINK_PG_URL: 'connection.url',
    WALCAST_SINK_PG_PASSWORD: 'connection.password',
    WALCAST_SINK_TOPICS: 'topics',
    WALCAST_SINK_TOPICS_REGEX: 'topics.regex',
    WALCAST_SINK_PRIMARY_KEY_FIELDS: 'primary.key.fields',
    WALCAST_SINK_DELETE_ENABLED: 'delete.enabled',
    WALCAST_SINK_TRUNCATE_ENABLED: 'truncate.enabled',
    WALCAST_SINK_SCHEMA_EVOLUTION: 'schema.evolution',
    WALCAST_SINK_TABLE_NAME_FORMAT: 'collection.name.format',
    WALCAST_ERRORS_TOLERANCE: 'errors.tolerance',
    WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME: 'errors.deadletterqueue.topic.name',
  };
  return names[variable] ?? variable;
}
