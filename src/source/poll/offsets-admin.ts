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
 * Each table's cursor is a record of the offsets topic (tasks.ts). A change first fences every
 * task's transactional id (as a start of the connector does), then writes the new records (or
 * tombstones) in one transaction under task 0's id: a zombie task can no longer overwrite them,
 * and the next start fences this writer before it reads them.
 */
import { integerOf, jsonInteger, OffsetsRequestError, type ConnectorOffset, type ConnectorOffsets, type OffsetFields } from '../../connector-offsets.ts';
import type { PollSourceConfig } from '../../config/jdbc-source.ts';
import { offsetRecord, type JsonValue } from '../../kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer, sendInOwnTransaction, type KafkaRecord } from '../../kafka/producer.ts';
import type { Logger } from '../../log.ts';
import { QUERY_POSITION_KEY, type PollKafkaSettings } from './connector.ts';
import type { TableCursor } from './query.ts';
import { fenceEarlierTasks, pollOffsetKey, pollTransactionalId, readPollOffsets } from './tasks.ts';

export class PollOffsets implements ConnectorOffsets {
  private readonly config: PollSourceConfig;
  private readonly settings: PollKafkaSettings;
  private readonly tasks: number;
  private readonly log: Logger;

  constructor(config: PollSourceConfig, kafka: PollKafkaSettings, tasks: number, log: Logger) {
    this.config = config;
    this.settings = kafka;
    this.tasks = tasks;
    this.log = log;
  }

  async read(): Promise<ConnectorOffset[]> {
    const tables = await readPollOffsets(this.config.name, this.settings, this.log);
    return [...tables]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([table, stored]) => {
        const { inc, ts } = stored.position as TableCursor;
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
    await this.rewrite(() => [...changes].map(([table, cursor]) => this.record(table, cursor)));
  }

  async reset(): Promise<void> {
    await this.rewrite(async () => [...(await readPollOffsets(this.config.name, this.settings, this.log)).keys()].map((table) => this.record(table, null)));
  }

  private record(table: string, cursor: TableCursor | null): KafkaRecord {
    const key = pollOffsetKey(this.config.name, table, table === QUERY_POSITION_KEY && this.config.query !== null);
    return cursor === null ? { topic: this.settings.offsetsTopic, key: Buffer.from(key), value: null } : offsetRecord(this.settings.offsetsTopic, key, { ...cursor });
  }

  /** Fences every task (and those of the previous start), then commits `records()` under task 0's id. */
  private async rewrite(records: () => KafkaRecord[] | Promise<KafkaRecord[]>): Promise<void> {
    const { name } = this.config;
    await fenceEarlierTasks(name, this.settings, this.tasks, this.log);
    const kafka = createKafka({ brokers: this.settings.brokers, clientId: this.settings.clientId, security: this.settings.security, log: this.log, retries: 5 });
    const producer = new KafkajsTransactionalProducer({ kafka, transactionalId: pollTransactionalId(name, 0), transactionTimeoutMs: 60_000 });
    try {
      await producer.connect();
      const written = await records();
      if (written.length === 0) return;
      await sendInOwnTransaction(producer, written);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
}
