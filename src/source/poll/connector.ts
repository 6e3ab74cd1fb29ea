/**
 * The polling source (Kafka Connect's JDBC source connector, done so it loses nothing): each poll
 * reads a batch of new rows per table (query.ts) and publishes them, with every table's cursor, in
 * one Kafka transaction through the same TransactionalDelivery as the CDC source (GUIDE, invariant
 * 2): a crash at any instant redelivers nothing and skips nothing. On start it fences older
 * instances, then reads its cursors back from the offsets topic.
 *
 * One connector may run as several tasks (tasks.ts), each polling its share of the tables under its
 * own transactional id; each table's cursor is a record of its own, written with the table's rows.
 */
import type pg from 'pg';
import type { PollSourceConfig } from '../../config/jdbc-source.ts';
import type { Connector, ErrorVerdict, SessionContext } from '../../connector.ts';
import { encodeRow, structSchema } from '../../encode/connect-json.ts';
import { ExitCode, WalcastError } from '../../errors.ts';
import { openDelivery, type TransactionalDelivery } from '../../kafka/delivery.ts';
import type { SourcePosition } from '../../kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer, ProducerFencedError } from '../../kafka/producer.ts';
import { TopicManager } from '../../kafka/topics.ts';
import type { Logger } from '../../log.ts';
import { negotiateTls, newClient, pgAddress } from '../../pg/connect.ts';
import { quoteIdent } from '../../pg/sql.ts';
import { INC_ALIAS, pollQuery, TS_ALIAS, type TableCursor } from './query.ts';
import { describeQuery, describeTable, PolledTableError, type PolledTable } from './table.ts';
import { pollOffsetKey, pollTransactionalId } from './tasks.ts';

/** Kafka settings a polling connector gets from its worker. */
export interface PollKafkaSettings {
  brokers: string[];
  clientId: string;
  security: Parameters<typeof createKafka>[0]['security'];
  offsetsTopic: string;
  openTransactionWaitMs: number;
}

/** Cursors by table (schema.table), as stored in the offsets topic. */
type PollPosition = Map<string, TableCursor>;

/** What one poll commits: one table's new cursor (its own record in the offsets topic). */
interface TableAdvance {
  key: string;
  query: boolean;
  cursor: TableCursor;
}

/** One task of the connector (tasks.ts). */
export interface PollTask {
  task: number;
  /** Tables of the whole connector (for /status). */
  connectorTables: number;
  /** Done once per start of the connector, before any of its tasks reads a position (tasks.ts). */
  fence(log: Logger): Promise<void>;
}

/** PostgreSQL errors that mean "fix the setup": a retry cannot help. */
const SETUP_ERRORS: Record<string, string> = {
  '28P01': 'password authentication failed: check connection.user and connection.password',
  '28000': 'authorization failed (pg_hba.conf or role): check connection.url and connection.user',
  '3D000': 'database does not exist: check connection.url',
  '42501': 'insufficient privilege: the role needs SELECT on the tables',
  '42P01': 'table does not exist',
  '42703': 'column does not exist: check incrementing.column.name and timestamp.column.name',
};

/** A table's key in the stored position (`schema.table`; `query` for the query setting, Connect's partition name for it). */
export const QUERY_POSITION_KEY = 'query';
export function positionKey(table: PolledTable): string {
  return table.query ? QUERY_POSITION_KEY : `${table.schema}.${table.table}`;
}

function cursorOf(stored: SourcePosition | undefined): TableCursor | null {
  if (!stored) return null;
  const cursor: TableCursor = {};
  if (typeof stored.inc === 'string') cursor.inc = stored.inc;
  if (typeof stored.ts === 'string') cursor.ts = stored.ts;
  return cursor;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export class PollConnector implements Connector {
  readonly type = 'source' as const;
  private readonly config: PollSourceConfig;
  private readonly kafkaSettings: PollKafkaSettings;
  private readonly task: PollTask;

  /** `config.tables`: this task's tables. */
  constructor(config: PollSourceConfig, kafka: PollKafkaSettings, task: PollTask) {
    this.config = config;
    this.kafkaSettings = kafka;
    this.task = task;
  }

  get name(): string {
    return this.config.name;
  }

  classify(error: unknown): ErrorVerdict {
    if (error instanceof WalcastError) return { permanent: true, exitCode: error.exitCode, message: error.message };
    if (error instanceof ProducerFencedError) return { permanent: true, exitCode: ExitCode.fenced, message: error.message };
    const code = (error as { code?: string } | null)?.code;
    if (typeof code === 'string' && code in SETUP_ERRORS) {
      return { permanent: true, exitCode: code.startsWith('28') || code === '3D000' ? ExitCode.config : ExitCode.sourceSetup, message: `${SETUP_ERRORS[code]}: ${(error as Error).message}` };
    }
    return { permanent: false, exitCode: ExitCode.unreachable, message: (error as Error)?.message ?? String(error) };
  }

  async cleanup(): Promise<void> {}

  async runSession(context: SessionContext): Promise<void> {
    const { config } = this;
    const { log, signal } = context;
    const settings = this.kafkaSettings;
    const kafka = createKafka({ brokers: settings.brokers, clientId: settings.clientId, security: settings.security, log });
    const topics = new TopicManager(kafka, { partitions: 1, replicationFactor: -1 });
    const transactionalId = pollTransactionalId(config.name, this.task.task);
    const producer = new KafkajsTransactionalProducer({ kafka, transactionalId, transactionTimeoutMs: 60_000 });
    let client: pg.Client | null = null;
    try {
      context.stage(`connecting to PostgreSQL (connection.url, ${pgAddress(config.connection)})`);
      client = newClient(await negotiateTls(config.connection));
      client.on('error', (error) => log.warn({ err: error }, 'polling connection error'));
      await client.connect();
      // Cursor timestamps are kept as text: one zone for all of them.
      await client.query("set time zone 'UTC'");
      if (config.searchPath) await client.query(`set search_path to ${config.searchPath.map(quoteIdent).join(', ')}`);
      context.stage('reading the tables (table.whitelist)');
      const tables: PolledTable[] = [];
      if (config.query !== null) tables.push(await this.checked(await describeQuery(client, config.query, config.topicPrefix, config.timeZone, config.numericMapping)));
      for (const name of config.tables) tables.push(await this.checked(await describeTable(client, name, config.topicPrefix, config.timeZone, config.numericMapping)));
      context.stats.tables = this.task.connectorTables;

      context.stage(`fencing the earlier instances of the connector's tasks (${transactionalId})`);
      await this.task.fence(log);
      const keys = new Map(tables.map((t) => [pollOffsetKey(config.name, positionKey(t), t.query), positionKey(t)]));
      const { delivery, storedByKey } = await openDelivery<TableAdvance>({
        kafka,
        topics,
        producer,
        brokers: settings.brokers,
        offsetsTopic: settings.offsetsTopic,
        sourceId: transactionalId,
        positionKeys: [...keys.keys()],
        offsetKey: (advance) => pollOffsetKey(config.name, advance.key, advance.query),
        topicPrefix: config.topicPrefix,
        openTransactionWaitMs: settings.openTransactionWaitMs,
        extraTopics: tables.map((t) => t.topic),
        sendChunkEvents: 1000,
        positionJson: (advance) => ({ ...advance.cursor }),
        stats: context.stats,
        log,
        stage: context.stage,
      });
      const position: PollPosition = new Map();
      for (const [offsetKey, key] of keys) {
        const cursor = cursorOf(storedByKey.get(offsetKey)?.position);
        if (cursor) position.set(key, cursor);
      }
      context.running();
      context.stats.lastEventAt ??= Date.now();
      log.info({ task: this.task.task, tables: tables.map((t) => `${positionKey(t)} -> ${t.topic}`), mode: config.mode, resumedFrom: Object.fromEntries(position) }, 'polling');
      while (!signal.aborted) {
        if (context.isPaused()) {
          await pause(200, signal);
          continue;
        }
        let more = false;
        for (const table of tables) {
          if (signal.aborted) break;
          more = (await this.pollTable(client, table, position, delivery, log)) || more;
        }
        if (!more) await pause(config.pollIntervalMs, signal);
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
      await topics.disconnect().catch(() => undefined);
      await client?.end().catch(() => undefined);
    }
  }

  /** The table, with its cursor columns checked as the JDBC connector checks them. */
  private checked(table: PolledTable): PolledTable {
    const { config } = this;
    const checks: Array<[string | null, string, RegExp]> = [
      [config.incrementingColumn, 'incrementing.column.name', /^(smallint|integer|bigint|numeric)$/],
      [config.timestampColumn, 'timestamp.column.name', /^timestamp with(out)? time zone$/],
    ];
    for (const [column, setting, types] of checks) {
      if (column === null) continue;
      const found = table.columns.find((c) => c.field.field === column);
      const what = table.query ? 'the query' : table.sql;
      if (!found) throw new PolledTableError(`${setting}: ${what} has no column ${column}`);
      if (!types.test(found.dataType)) throw new PolledTableError(`${setting}: ${what}'s ${column} is ${found.dataType}; it must be ${setting.startsWith('inc') ? 'an integer' : 'a timestamp'}`);
      // A query's columns cannot be known NOT NULL (the JDBC connector does not check them either).
      if (config.validateNonNull && found.field.optional && !table.query) {
        throw new PolledTableError(`${setting}: ${table.sql}.${column} may be NULL, and rows with NULL there would never be read: make it NOT NULL, or set validate.non.null=false`);
      }
    }
    return table;
  }

  /** One poll of one table: its new rows and its cursor in one Kafka transaction. True when the batch was full (poll again now). */
  private async pollTable(client: pg.Client, table: PolledTable, position: PollPosition, delivery: TransactionalDelivery<TableAdvance>, log: Logger): Promise<boolean> {
    const { config } = this;
    const key = positionKey(table);
    const cursor = position.get(key) ?? {};
    let rows: Array<Record<string, unknown>>;
    await client.query('begin isolation level repeatable read read only');
    try {
      const query = pollQuery(table, config, cursor);
      rows = (await client.query<Record<string, unknown>>(query)).rows;
      if (config.mode === 'timestamp' && rows.length === config.batchMaxRows) {
        // A batch must not end inside a group of equal timestamps: the cursor could not say which
        // of them were read. Drop the group's tail, or read the whole group when it fills the batch.
        const last = rows[rows.length - 1]![TS_ALIAS];
        const kept = rows.filter((r) => r[TS_ALIAS] !== last);
        rows = kept.length > 0 ? kept : (await client.query<Record<string, unknown>>(pollQuery(table, config, { ts: String(last) }, true))).rows;
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
    if (rows.length === 0) return false;
    const next: TableCursor = { ...cursor };
    const lastRow = rows[rows.length - 1];
    if (lastRow && lastRow[INC_ALIAS] !== undefined) next.inc = String(lastRow[INC_ALIAS]);
    if (lastRow && lastRow[TS_ALIAS] !== undefined) next.ts = String(lastRow[TS_ALIAS]);
    const schema = structSchema(table.query ? null : table.table, table.columns.map((c) => c.field));
    const fields = table.columns.map((c) => c.field);
    try {
      await delivery.begin();
      for (const row of rows) {
        delivery.append({ topic: table.topic, key: null, value: encodeRow(fields, schema, row, config) });
        await delivery.flushIfFull();
      }
      delivery.completeUnit({ key, query: table.query, cursor: next });
      await delivery.commit();
    } catch (error) {
      await delivery.abort();
      throw error;
    }
    position.set(key, next);
    log.debug({ table: key, rows: rows.length, cursor: next }, 'poll delivered');
    return config.mode !== 'bulk' && rows.length >= config.batchMaxRows;
  }
}
