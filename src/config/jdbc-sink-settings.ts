/**
 * What Debezium's and Confluent's JDBC sink configs share, mapped onto WALCAST_SINK_* settings
 * (debezium-jdbc-sink.ts, confluent-jdbc-sink.ts): the connection, the topics, the insert mode,
 * booleans and error handling. Problems name the connector's own setting.
 */
import type { ConfigProblem } from '../worker/config-providers.ts';
import { jdbcConnection } from './jdbc-url.ts';
import type { ConfigSource } from './load.ts';

/** A true/false setting's text (`fallback` when unset); any other text is a problem, and returned as it is. */
export function booleanText(config: Record<string, string>, name: string, fallback: string, problems: ConfigProblem[]): string {
  const value = (config[name] ?? fallback).trim().toLowerCase();
  if (value !== 'true' && value !== 'false') problems.push({ key: name, message: `Invalid value ${config[name]} for configuration ${name}: must be true or false` });
  return value;
}

/**
 * connection.url (JDBC) with the user setting `userSetting` and connection.password, and topics or
 * topics.regex. `tableFormatSetting` is where the connector names a table's schema instead of
 * currentSchema.
 */
export function connectionAndTopics(config: Record<string, string>, userSetting: string, tableFormatSetting: string, problems: ConfigProblem[], out: ConfigSource): void {
  const pg = jdbcConnection(config, userSetting, problems);
  if (pg) {
    if (pg.searchPath !== null) problems.push({ key: 'connection.url', message: `connection.url: currentSchema is not supported by the sink; name the schema in ${tableFormatSetting} (schema.table)` });
    out.WALCAST_SINK_PG_URL = pg.url;
    if (pg.password) out.WALCAST_SINK_PG_PASSWORD = pg.password;
  }
  const topics = config.topics?.trim() ?? '';
  const regex = config['topics.regex']?.trim() ?? '';
  if ((topics === '') === (regex === '')) problems.push({ key: 'topics', message: 'set one of topics (a list of topics) and topics.regex (a pattern)' });
  else if (topics !== '') out.WALCAST_SINK_TOPICS = topics;
  else out.WALCAST_SINK_TOPICS_REGEX = regex;
}

/** insert.mode: insert and upsert both run as upserts; update (never inserting) is refused. `what`: rows or changes. */
export function checkInsertMode(config: Record<string, string>, what: 'rows' | 'changes', problems: ConfigProblem[]): void {
  const insertMode = (config['insert.mode'] ?? 'insert').trim();
  if (insertMode !== 'insert' && insertMode !== 'upsert') {
    problems.push({ key: 'insert.mode', message: `insert.mode=${insertMode}: walcast applies ${what} as upserts (insert or upsert); update, which never inserts, is not supported` });
  }
}

/** Connect's errors.tolerance and dead-letter topic, as walcast's. */
export function errorSettings(config: Record<string, string>, out: ConfigSource): void {
  if (config['errors.tolerance'] !== undefined) out.WALCAST_ERRORS_TOLERANCE = config['errors.tolerance'];
  if (config['errors.deadletterqueue.topic.name'] !== undefined) out.WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME = config['errors.deadletterqueue.topic.name'];
}
