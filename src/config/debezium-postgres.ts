/**
 * Debezium's PostgresConnector config names, mapped onto walcast's CDC connector settings (the
 * WALCAST_* names that loadCdcConnectorConfig validates), so that a Debezium config file runs
 * unchanged. A setting with no walcast meaning is refused by name (worker/plugins.ts); a value
 * walcast cannot honour (plugin.name=decoderbufs, a regex it cannot translate) is refused here.
 */
import type { ConfigProblem } from '../worker/config-providers.ts';
import type { ConfigKey } from '../worker/plugins.ts';
import { converterOf } from './converters.ts';
import type { ConfigSource } from './load.ts';

export const DEBEZIUM_POSTGRES_CLASS = 'io.debezium.connector.postgresql.PostgresConnector';

const key = (name: string, doc: string, extra: Partial<ConfigKey> = {}): ConfigKey => ({ name, type: 'STRING', doc, group: 'Debezium PostgreSQL', ...extra });

/** Debezium settings that map one to one onto a walcast variable. */
const DIRECT: ReadonlyArray<[string, string]> = [
  ['topic.prefix', 'WALCAST_TOPIC_PREFIX'],
  ['slot.name', 'WALCAST_SLOT'],
  ['publication.name', 'WALCAST_PUBLICATION'],
  ['snapshot.mode', 'WALCAST_SNAPSHOT_MODE'],
  ['snapshot.max.threads', 'WALCAST_SNAPSHOT_MAX_THREADS'],
  ['decimal.handling.mode', 'WALCAST_DECIMAL_HANDLING'],
  ['tombstones.on.delete', 'WALCAST_TOMBSTONES'],
  ['max.queue.size', 'WALCAST_MAX_BUFFERED_MESSAGES'],
  ['status.update.interval.ms', 'WALCAST_PG_STATUS_INTERVAL_MS'],
  ['unavailable.value.placeholder', 'WALCAST_TOAST_PLACEHOLDER'],
  ['money.fraction.digits', 'WALCAST_MONEY_FRACTION_DIGITS'],
  ['signal.kafka.topic', 'WALCAST_SIGNAL_KAFKA_TOPIC'],
  ['errors.tolerance', 'WALCAST_ERRORS_TOLERANCE'],
  ['errors.deadletterqueue.topic.name', 'WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME'],
  ['topic.creation.default.partitions', 'WALCAST_TOPIC_PARTITIONS'],
  ['topic.creation.default.replication.factor', 'WALCAST_TOPIC_REPLICATION_FACTOR'],
  ['producer.override.compression.type', 'WALCAST_KAFKA_COMPRESSION'],
  ['database.sslmode', 'WALCAST_PG_SSL_MODE'],
  ['database.sslrootcert', 'WALCAST_PG_SSL_ROOT_CERT'],
  ['database.sslcert', 'WALCAST_PG_SSL_CERT'],
  ['database.sslkey', 'WALCAST_PG_SSL_KEY'],
  ['database.sslpassword', 'WALCAST_PG_SSL_KEY_PASSWORD'],
  ['database.password', 'WALCAST_PG_PASSWORD'],
];

export const DEBEZIUM_POSTGRES_KEYS: readonly ConfigKey[] = [
  key('database.hostname', 'Host of the PostgreSQL server.', { required: true, importance: 'HIGH' }),
  key('database.port', 'Port of the PostgreSQL server.', { type: 'INT', default: '5432' }),
  key('database.user', 'Role to connect as (REPLICATION and SELECT on the captured tables).', { required: true, importance: 'HIGH' }),
  key('database.password', 'Password of database.user.', { type: 'PASSWORD', importance: 'HIGH' }),
  key('database.dbname', 'Database to capture.', { required: true, importance: 'HIGH' }),
  key('database.sslmode', "libpq's sslmode (WALCAST_PG_SSL_MODE)."),
  key('database.sslrootcert', "libpq's sslrootcert (WALCAST_PG_SSL_ROOT_CERT)."),
  key('database.sslcert', "libpq's sslcert (WALCAST_PG_SSL_CERT)."),
  key('database.sslkey', "libpq's sslkey (WALCAST_PG_SSL_KEY)."),
  key('database.sslpassword', "libpq's sslpassword (WALCAST_PG_SSL_KEY_PASSWORD).", { type: 'PASSWORD' }),
  key('topic.prefix', 'Topic prefix: topics are <prefix>.<schema>.<table>.', { required: true, importance: 'HIGH' }),
  key('table.include.list', 'Comma-separated schema.table regular expressions; walcast takes literal names and the wildcard .* (as WALCAST_TABLES).'),
  key('schema.include.list', 'Comma-separated schema names (without table.include.list): every table of them.'),
  key('slot.name', 'Replication slot.', { default: 'debezium' }),
  key('publication.name', 'Publication.', { default: 'dbz_publication' }),
  key('plugin.name', 'Logical decoding plugin: pgoutput only.', { default: 'pgoutput' }),
  key('publication.autocreate.mode', 'filtered or all_tables: walcast creates a publication of the included tables (all tables when none is named) when it is missing.', { default: 'all_tables' }),
  key('snapshot.mode', 'initial, no_data (never), initial_only or when_needed (WALCAST_SNAPSHOT_MODE).', { default: 'initial' }),
  key('snapshot.max.threads', 'Connections reading snapshot chunks (WALCAST_SNAPSHOT_MAX_THREADS).', { type: 'INT', default: '2' }),
  key('decimal.handling.mode', 'precise or string (WALCAST_DECIMAL_HANDLING).', { default: 'precise' }),
  key('tombstones.on.delete', 'A tombstone after each delete (WALCAST_TOMBSTONES).', { type: 'BOOLEAN', default: 'true' }),
  key('max.queue.size', 'Replication messages buffered before backpressure (WALCAST_MAX_BUFFERED_MESSAGES).', { type: 'INT' }),
  key('status.update.interval.ms', 'How often the position is reported to PostgreSQL (WALCAST_PG_STATUS_INTERVAL_MS).', { type: 'INT' }),
  key('unavailable.value.placeholder', 'Value of an unchanged TOASTed column (WALCAST_TOAST_PLACEHOLDER).'),
  key('money.fraction.digits', 'Scale of money values (WALCAST_MONEY_FRACTION_DIGITS).', { type: 'INT' }),
  key('signal.kafka.topic', 'Topic of Debezium signals (WALCAST_SIGNAL_KAFKA_TOPIC).'),
  key('schema.name.adjustment.mode', 'avro only: names adjusted as Avro requires.', { default: 'avro' }),
  key('errors.tolerance', 'none or all (WALCAST_ERRORS_TOLERANCE).', { default: 'none' }),
  key('errors.deadletterqueue.topic.name', 'Dead-letter topic for errors.tolerance=all.'),
  key('topic.creation.default.partitions', 'Partitions of topics walcast creates.', { type: 'INT' }),
  key('topic.creation.default.replication.factor', 'Replication factor of topics walcast creates.', { type: 'INT' }),
  key('producer.override.compression.type', 'Compression of produced batches (WALCAST_KAFKA_COMPRESSION).'),
  key('exactly.once.support', 'requested or required: walcast is always exactly once.'),
];

/**
 * A Debezium table.include.list entry as a WALCAST_TABLES pattern: `\.` and a plain `.` between
 * names stand for the dot, `.*` for any characters. Other regex syntax has no safe translation.
 */
function tablePattern(regex: string): string | null {
  const pattern = regex.trim().replaceAll('\\.', '\u0000').replaceAll('.*', '*').replaceAll('\u0000', '.');
  return /^[\w$.*-]+$/.test(pattern) ? pattern : null;
}

/** The WALCAST_* settings a Debezium config means; problems name the Debezium setting. */
export function debeziumPostgresSettings(config: Record<string, string>, registryUrl: string, problems: ConfigProblem[]): ConfigSource {
  const out: ConfigSource = {};
  for (const required of ['database.hostname', 'database.user', 'database.dbname', 'topic.prefix']) {
    if (!config[required]?.trim()) problems.push({ key: required, message: `Missing required configuration "${required}" which has no default value.` });
  }
  const host = config['database.hostname']?.trim() ?? '';
  const port = (config['database.port'] ?? '5432').trim();
  if (!/^\d{1,5}$/.test(port)) problems.push({ key: 'database.port', message: `Invalid value ${port} for configuration database.port: must be a port number` });
  if (host && config['database.user'] && config['database.dbname'] && problems.length === 0) {
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    out.WALCAST_PG_URL = `postgres://${encodeURIComponent(config['database.user'])}@${hostPart}:${port}/${encodeURIComponent(config['database.dbname'])}`;
  }
  for (const [debezium, walcast] of DIRECT) if (config[debezium] !== undefined) out[walcast] = config[debezium];
  // Debezium's defaults where walcast's differ.
  out.WALCAST_SLOT ??= 'debezium';
  out.WALCAST_PUBLICATION ??= 'dbz_publication';

  const tables = config['table.include.list'];
  const schemas = config['schema.include.list'];
  if (tables !== undefined && schemas !== undefined) {
    problems.push({ key: 'schema.include.list', message: 'schema.include.list together with table.include.list is not supported: name the tables (schema.table) in table.include.list alone' });
  } else if (tables !== undefined) {
    const patterns = tables.split(',').filter((t) => t.trim() !== '').map((t) => [t, tablePattern(t)] as const);
    const untranslatable = patterns.filter(([, p]) => p === null).map(([t]) => t.trim());
    if (untranslatable.length > 0) {
      problems.push({ key: 'table.include.list', message: `table.include.list: ${untranslatable.join(', ')} cannot be translated: walcast matches schema.table names with the wildcard .* only` });
    }
    out.WALCAST_TABLES = patterns.map(([, p]) => p).join(',');
  } else if (schemas !== undefined) {
    out.WALCAST_TABLES = schemas.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => `${s}.*`).join(',');
  }

  const plugin = config['plugin.name'];
  if (plugin !== undefined && plugin.trim() !== 'pgoutput') problems.push({ key: 'plugin.name', message: `plugin.name=${plugin}: walcast reads pgoutput only (built into PostgreSQL 10+)` });
  const autocreate = config['publication.autocreate.mode'];
  if (autocreate !== undefined && !['filtered', 'all_tables'].includes(autocreate.trim())) {
    problems.push({ key: 'publication.autocreate.mode', message: `publication.autocreate.mode=${autocreate}: walcast creates the publication when it is missing (filtered or all_tables)` });
  }
  const adjustment = config['schema.name.adjustment.mode'];
  if (adjustment !== undefined && adjustment.trim() !== 'avro') problems.push({ key: 'schema.name.adjustment.mode', message: 'schema.name.adjustment.mode: walcast adjusts names as Avro requires (avro) only' });
  const exactlyOnce = config['exactly.once.support'];
  if (exactlyOnce !== undefined && !['requested', 'required'].includes(exactlyOnce.trim())) problems.push({ key: 'exactly.once.support', message: 'exactly.once.support must be requested or required (walcast is always exactly once)' });

  const keyConverter = converterOf(config, 'key', registryUrl, problems);
  const valueConverter = converterOf(config, 'value', registryUrl, problems);
  for (const [side, converter] of [['key', keyConverter], ['value', valueConverter]] as const) {
    if (converter?.kind === 'json' && converter.schemas) {
      problems.push({ key: `${side}.converter.schemas.enable`, message: `${side}.converter.schemas.enable=true (JsonConverter's default): walcast writes CDC events in JSON without the schema envelope; set ${side}.converter.schemas.enable=false, or use AvroConverter` });
    }
  }
  if (keyConverter && valueConverter && keyConverter.kind !== valueConverter.kind) {
    problems.push({ key: 'value.converter', message: 'key.converter and value.converter must both be JsonConverter or both AvroConverter' });
  }
  const format = valueConverter ?? keyConverter;
  if (format) out.WALCAST_FORMAT = format.kind;
  return out;
}

/** The Debezium setting a WALCAST_* variable came from, for problems found by walcast's own validation. */
export function debeziumSettingOf(variable: string): string {
  if (variable === 'WALCAST_PG_URL') return 'database.hostname';
  if (variable === 'WALCAST_TABLES') return 'table.include.list';
  if (variable === 'WALCAST_FORMAT') return 'value.converter';
  return DIRECT.find(([, walcast]) => walcast === variable)?.[0] ?? variable;
}
