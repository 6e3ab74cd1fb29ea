/**
 * The polling source's offsets as Kafka Connect's REST API shows them: one partition per table,
 * `{"table": "<schema>.<table>"}`, whose offset is the table's cursor in the JDBC source
 * connector's names: `{"incrementing": <last id read>, "timestamp": "<last timestamp read>"}`.
 * The timestamp is the column's value as PostgreSQL prints it (UTC for timestamptz; the wall
 * clock, meant in db.timezone, for timestamp without time zone), where the JDBC connector keeps
 * epoch milliseconds and nanoseconds: text keeps microseconds and needs no zone to compare.
 *
 * With the `query` setting the one partition is `{"query": "query"}`, as the JDBC connector names it.
 *
 * The tables' cursors are one record of the offsets topic (`jdbc-source:<name>`): a change
 * rewrites that record, fenced by the connector's transactional id (kafka/position-admin.ts).
 */
import { integerOf, jsonInteger, OffsetsRequestError, type ConnectorOffset, type ConnectorOffsets, type OffsetFields } from '../../connector-offsets.ts';
import type { PollSourceConfig } from '../../config/jdbc-source.ts';
import { readPosition, rewritePosition, type PositionAdminOptions } from '../../kafka/position-admin.ts';
import type { JsonValue, SourcePosition } from '../../kafka/offsets.ts';
import type { Logger } from '../../log.ts';
import { QUERY_POSITION_KEY, type PollKafkaSettings } from './connector.ts';
import type { TableCursor } from './query.ts';

type Tables = { [table: string]: JsonValue };

function tablesOf(position: SourcePosition | null): Tables {
  const tables = position?.tables;
  return tables && typeof tables === 'object' && !Array.isArray(tables) ? { ...tables } : {};
}

export class PollOffsets implements ConnectorOffsets {
  private readonly config: PollSourceConfig;
  private readonly admin: PositionAdminOptions;

  constructor(config: PollSourceConfig, kafka: PollKafkaSettings, log: Logger) {
    this.config = config;
    this.admin = {
      brokers: kafka.brokers,
      clientId: kafka.clientId,
      security: kafka.security,
      transactionalId: `walcast-jdbc-${config.name}`,
      offsetsTopic: kafka.offsetsTopic,
      sourceId: `jdbc-source:${config.name}`,
      topicPrefix: config.topicPrefix,
      extraTopics: [],
      openTransactionWaitMs: kafka.openTransactionWaitMs,
      log,
    };
  }

  async read(): Promise<ConnectorOffset[]> {
    const tables = tablesOf(await readPosition(this.admin));
    return Object.entries(tables)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([table, cursor]) => {
        const { inc, ts } = (cursor ?? {}) as TableCursor;
        const offset: { [key: string]: JsonValue } = {};
        if (inc !== undefined) offset.incrementing = jsonInteger(BigInt(inc));
        if (ts !== undefined) offset.timestamp = ts;
        const partition: OffsetFields = table === QUERY_POSITION_KEY ? { query: QUERY_POSITION_KEY } : { table };
        return { partition, offset };
      });
  }

  /** The cursor an entry sets, checked against the connector's mode. */
  private cursorOf(table: string, offset: { [key: string]: JsonValue }): TableCursor {
    const { mode } = this.config;
    const unknown = Object.keys(offset).filter((k) => k !== 'incrementing' && k !== 'timestamp');
    if (unknown.length > 0) throw new OffsetsRequestError(`table ${table}: unknown offset fields ${unknown.join(', ')} (the offset is {"incrementing", "timestamp"} as GET shows it)`);
    const cursor: TableCursor = {};
    if (mode.includes('incrementing')) {
      const inc = integerOf(offset.incrementing);
      if (inc === null) throw new OffsetsRequestError(`table ${table}: mode ${mode} needs "incrementing", the last id read (a non-negative integer); got ${JSON.stringify(offset.incrementing)}`);
      cursor.inc = inc.toString();
    } else if (offset.incrementing !== undefined) {
      throw new OffsetsRequestError(`table ${table}: mode ${mode} keeps no "incrementing"`);
    }
    if (mode.startsWith('timestamp')) {
      const ts = offset.timestamp;
      if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')))) {
        throw new OffsetsRequestError(`table ${table}: mode ${mode} needs "timestamp", the last timestamp read as PostgreSQL prints it ("2026-01-02 03:04:05.678"); got ${JSON.stringify(ts)}`);
      }
      cursor.ts = ts;
    } else if (offset.timestamp !== undefined) {
      throw new OffsetsRequestError(`table ${table}: mode ${mode} keeps no "timestamp"`);
    }
    if (mode === 'bulk') throw new OffsetsRequestError('mode bulk keeps no position: every poll reads the whole table');
    return cursor;
  }

  async alter(entries: readonly ConnectorOffset[]): Promise<void> {
    const changes = new Map<string, TableCursor | null>();
    for (const { partition, offset } of entries) {
      if (partition.query === QUERY_POSITION_KEY && Object.keys(partition).length === 1 && this.config.query !== null) {
        changes.set(QUERY_POSITION_KEY, offset === null ? null : this.cursorOf('query', offset));
        continue;
      }
      const table = partition.table;
      const extra = Object.keys(partition).filter((k) => k !== 'table' && k !== 'protocol');
      if (typeof table !== 'string' || !table.includes('.') || extra.length > 0) {
        throw new OffsetsRequestError(`a partition of this connector is ${this.config.query !== null ? '{"query": "query"}' : '{"table": "<schema>.<table>"}'} as GET shows it; not ${JSON.stringify(partition)}`);
      }
      changes.set(table, offset === null ? null : this.cursorOf(table, offset));
    }
    if (changes.size === 0) return;
    await rewritePosition(this.admin, (current) => {
      const tables = tablesOf(current);
      for (const [table, cursor] of changes) {
        if (cursor === null) delete tables[table];
        else tables[table] = { ...cursor };
      }
      return { tables };
    });
  }

  async reset(): Promise<void> {
    await rewritePosition(this.admin, () => null);
  }
}
