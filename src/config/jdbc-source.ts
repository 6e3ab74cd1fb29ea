/**
 * The Confluent JDBC source connector's config names (io.confluent.connect.jdbc.JdbcSourceConnector)
 * for walcast's polling source (source/poll/). A setting walcast does not support is refused by
 * name (worker/plugins.ts); a value it cannot honour is refused here.
 */
import type { PgConnection } from '../pg/connect.ts';
import type { ConfigProblem } from '../worker/config-providers.ts';
import type { ConfigKey } from '../worker/plugins.ts';
import { converterOf } from './converters.ts';
import { jdbcConnection } from './jdbc-url.ts';

export const JDBC_SOURCE_CLASS = 'io.confluent.connect.jdbc.JdbcSourceConnector';

export type PollMode = 'bulk' | 'incrementing' | 'timestamp' | 'timestamp+incrementing';
const MODES: readonly PollMode[] = ['bulk', 'incrementing', 'timestamp', 'timestamp+incrementing'];

export interface PollSourceConfig {
  /** The connector's name: its transactional id and the key of its position. */
  name: string;
  connection: PgConnection;
  /** As given (`table` or `schema.table`); resolved through search_path like an unqualified query. Empty with `query`. */
  tables: string[];
  /** The `query` setting: its rows instead of tables', published to topic `topic.prefix` itself (null: tables). */
  query: string | null;
  /** pgjdbc's currentSchema URL parameter: the session's search_path (null: the role's). */
  searchPath: string[] | null;
  mode: PollMode;
  incrementingColumn: string | null;
  timestampColumn: string | null;
  pollIntervalMs: number;
  batchMaxRows: number;
  topicPrefix: string;
  timestampDelayMs: number;
  /** Time zone of `timestamp without time zone` values (db.timezone). */
  timeZone: string;
  numericMapping: 'none' | 'best_fit';
  /** JsonConverter of the values: with the schema envelope or without; decimals as base64 or numbers. */
  schemas: boolean;
  decimalFormat: 'BASE64' | 'NUMERIC';
  validateNonNull: boolean;
}

const key = (name: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey => ({ name, type: 'STRING', doc, group: 'JDBC source', ...extra });

export const JDBC_SOURCE_KEYS: readonly ConfigKey[] = [
  key('connection.url', 'jdbc:postgresql://host:port/database[?sslmode=...] (PostgreSQL only).', { required: true, importance: 'HIGH' }),
  key('connection.user', 'Role to connect as (SELECT on the tables).', { importance: 'HIGH' }),
  key('connection.password', 'Password of connection.user.', { type: 'PASSWORD', importance: 'HIGH' }),
  key('table.whitelist', 'Comma-separated tables to poll (table or schema.table).', { type: 'LIST' }),
  key('table.include.list', 'Newer name of table.whitelist.', { type: 'LIST' }),
  key('query', 'A SELECT whose rows are polled instead of tables (topic: topic.prefix itself).'),
  key('mode', 'bulk, incrementing, timestamp or timestamp+incrementing.', { required: true, importance: 'HIGH' }),
  key('incrementing.column.name', 'Strictly increasing integer column (incrementing modes).'),
  key('timestamp.column.name', 'Timestamp column set when a row is written (timestamp modes).', { type: 'LIST' }),
  key('poll.interval.ms', 'Pause between polls that found nothing more (ms).', { type: 'INT', default: '5000' }),
  key('batch.max.rows', 'Rows per poll of a table, and per Kafka transaction.', { type: 'INT', default: '100' }),
  key('topic.prefix', 'Topics are <topic.prefix><table>.', { required: true, importance: 'HIGH' }),
  key('timestamp.delay.interval.ms', 'Rows are read only once their timestamp is this old (ms).', { type: 'LONG', default: '0' }),
  key('db.timezone', 'Time zone of timestamp without time zone columns.', { default: 'UTC' }),
  key('numeric.mapping', 'none (numeric as Decimal) or best_fit (integers and doubles where they fit).', { default: 'none' }),
  key('validate.non.null', 'Refuse incrementing and timestamp columns that may be NULL.', { type: 'BOOLEAN', default: 'true' }),
  key('dialect.name', 'PostgreSqlDatabaseDialect only.'),
  key('quote.sql.identifiers', 'always (walcast always quotes).', { default: 'always' }),
];

function integer(config: Record<string, string>, name: string, fallback: number, min: number, problems: ConfigProblem[]): number {
  const text = (config[name] ?? String(fallback)).trim();
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < min) {
    problems.push({ key: name, message: `Invalid value ${text} for configuration ${name}: must be an integer of at least ${min}` });
    return fallback;
  }
  return value;
}

/** The polling source's settings, or null with the problems named by setting. */
export function jdbcSourceConfig(name: string, config: Record<string, string>, problems: ConfigProblem[]): PollSourceConfig | null {
  const pg = jdbcConnection(config, 'connection.user', problems);
  const mode = (config.mode ?? '').trim() as PollMode;
  if (!MODES.includes(mode)) {
    problems.push({ key: 'mode', message: config.mode === undefined ? 'Missing required configuration "mode" which has no default value.' : `mode=${config.mode}: walcast polls in ${MODES.join(', ')}` });
  }
  // A trailing semicolon would end the subquery walcast wraps the query in.
  const query = config.query?.trim().replace(/;+\s*$/, '') || null;
  const whitelist = config['table.whitelist'] ?? config['table.include.list'];
  if (config['table.whitelist'] !== undefined && config['table.include.list'] !== undefined) problems.push({ key: 'table.include.list', message: 'set table.whitelist or table.include.list, not both' });
  const tables = (whitelist ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (query !== null && tables.length > 0) problems.push({ key: 'query', message: 'set query or table.whitelist (table.include.list), not both' });
  if (query === null && tables.length === 0) problems.push({ key: 'table.whitelist', message: 'name the tables to poll in table.whitelist (or table.include.list), or set query' });
  const incrementingColumn = config['incrementing.column.name']?.trim() || null;
  const timestampColumn = config['timestamp.column.name']?.trim() || null;
  if (mode.includes('incrementing') && !incrementingColumn) problems.push({ key: 'incrementing.column.name', message: `mode=${mode} needs incrementing.column.name` });
  if (mode.startsWith('timestamp') && !timestampColumn) problems.push({ key: 'timestamp.column.name', message: `mode=${mode} needs timestamp.column.name` });
  if (timestampColumn?.includes(',')) problems.push({ key: 'timestamp.column.name', message: 'timestamp.column.name: walcast takes one column (COALESCE of several is not supported)' });
  const topicPrefix = config['topic.prefix'] ?? '';
  if (config['topic.prefix'] === undefined) problems.push({ key: 'topic.prefix', message: 'Missing required configuration "topic.prefix" which has no default value.' });
  for (const table of query !== null ? [''] : tables) {
    const topic = topicPrefix + (table.split('.').pop() ?? table);
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) problems.push({ key: 'topic.prefix', message: `topic ${JSON.stringify(topic)} (topic.prefix + table) is not a valid Kafka topic name` });
  }
  const numericMapping = (config['numeric.mapping'] ?? 'none').trim();
  if (numericMapping !== 'none' && numericMapping !== 'best_fit') problems.push({ key: 'numeric.mapping', message: `numeric.mapping=${numericMapping}: walcast supports none and best_fit` });
  const dialect = config['dialect.name'];
  if (dialect !== undefined && dialect.trim() !== '' && dialect.trim() !== 'PostgreSqlDatabaseDialect') problems.push({ key: 'dialect.name', message: 'dialect.name: walcast reads PostgreSQL only (PostgreSqlDatabaseDialect)' });
  const quoting = config['quote.sql.identifiers'];
  if (quoting !== undefined && quoting.trim() !== 'always') problems.push({ key: 'quote.sql.identifiers', message: 'quote.sql.identifiers: walcast always quotes identifiers' });
  const validateNonNull = (config['validate.non.null'] ?? 'true').trim().toLowerCase();
  if (validateNonNull !== 'true' && validateNonNull !== 'false') problems.push({ key: 'validate.non.null', message: 'validate.non.null must be true or false' });
  const timeZone = (config['db.timezone'] ?? 'UTC').trim();
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    problems.push({ key: 'db.timezone', message: `db.timezone=${timeZone} is not a time zone name (e.g. UTC, Europe/Berlin)` });
  }
  const pollIntervalMs = integer(config, 'poll.interval.ms', 5000, 1, problems);
  const batchMaxRows = integer(config, 'batch.max.rows', 100, 1, problems);
  const timestampDelayMs = integer(config, 'timestamp.delay.interval.ms', 0, 0, problems);

  const keyConverter = converterOf(config, 'key', '', problems);
  const valueConverter = converterOf(config, 'value', '', problems);
  for (const [side, converter] of [['key', keyConverter], ['value', valueConverter]] as const) {
    if (converter?.kind === 'avro') problems.push({ key: `${side}.converter`, message: `${side}.converter: the polling source writes JsonConverter's JSON only (schemas.enable true or false)` });
  }
  // Connect's usual worker default is JsonConverter with schemas: walcast's default here too.
  const json = valueConverter?.kind === 'json' ? valueConverter : { kind: 'json' as const, schemas: true, decimalFormat: 'BASE64' as const };
  if (problems.length > 0 || !pg) return null;
  return {
    name,
    connection: pg.connection,
    searchPath: pg.searchPath,
    tables,
    query,
    mode,
    incrementingColumn,
    timestampColumn,
    pollIntervalMs,
    batchMaxRows,
    topicPrefix,
    timestampDelayMs,
    timeZone,
    numericMapping: numericMapping as 'none' | 'best_fit',
    schemas: json.schemas,
    decimalFormat: json.decimalFormat,
    validateNonNull: validateNonNull === 'true',
  };
}
