/**
 * The sink's dead-letter records (WALCAST_ERRORS_TOLERANCE=all), exactly once.
 *
 * The rows and offsets of a batch commit in the target database, the dead letters in Kafka: two
 * systems, one atomic step needed. So a batch's dead letters are first written to an outbox table
 * in the target, in the batch's own transaction (a batch rolled back, fenced or killed leaves
 * none), and then published from there in a Kafka transaction carrying an offset record with the
 * last outbox id published (the source's exactly-once pattern, kafka/offsets.ts), after which the
 * outbox rows are deleted.
 *
 * One publisher at a time per group (an advisory lock in the target); all share one
 * transactionalId, so a new publisher's producer fences one that lost its lock mid-publish.
 * Before sending, the publisher marks the rows `publishing` (committed on its own): a mark found
 * by the next publisher means the previous one may have committed in Kafka without deleting the
 * rows (killed in between), and only then is the offset record read back to skip what is already
 * in the dead-letter topic. Unmarked rows were never sent.
 */
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { Logger } from '../log.ts';
import { ensureOffsetsTopic, offsetRecord, readOffset } from '../kafka/offsets.ts';
import { KafkajsTransactionalProducer, sendInOwnTransaction, type KafkaRecord } from '../kafka/producer.ts';
import type { TopicManager } from '../kafka/topics.ts';
import { quotedTableName } from './offsets.ts';

/** Outbox rows sent per Kafka transaction. */
const PUBLISH_CHUNK = 500;

export interface SinkDeadLettersOptions {
  /** The outbox table (`<offsets table>_dlq`). */
  table: string;
  groupId: string;
  deadLetterTopic: string;
  offsetsTopic: string;
  kafka: Kafka;
  topics: TopicManager;
  log: Logger;
}

export class SinkDeadLetters {
  private readonly options: SinkDeadLettersOptions;
  private readonly table: string;
  /** Key of this group's publisher in the offsets topic, also its transactionalId. */
  private readonly sourceId: string;

  constructor(options: SinkDeadLettersOptions) {
    this.options = options;
    this.table = quotedTableName(options.table);
    this.sourceId = `walcast-sink-dlq-${options.groupId}`;
  }

  /** The outbox table and the Kafka topics; before the first batch. */
  async ensure(client: pg.ClientBase): Promise<void> {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`walcast-sink:${this.table}`]);
      await client.query(
        `create table if not exists ${this.table} (
          id bigserial primary key,
          group_id text not null,
          key bytea,
          value bytea,
          headers jsonb not null,
          publishing boolean not null default false)`,
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
    await ensureOffsetsTopic(this.options.topics, this.options.offsetsTopic);
    await this.options.topics.ensure([this.options.deadLetterTopic]);
  }

  /** Inside the batch's transaction: its dead letters go in (or out) with its rows and offsets. */
  async insert(client: pg.ClientBase, records: readonly KafkaRecord[]): Promise<void> {
    if (records.length === 0) return;
    // Durable before they are published: a commit lost in a crash of the target would be applied
    // again, its dead letters published twice. (It also flushes every earlier asynchronous commit.)
    await client.query('set local synchronous_commit = on');
    const params: unknown[] = [this.options.groupId];
    const rows = records.map((record) => {
      const headers = Object.fromEntries(Object.entries(record.headers ?? {}).map(([name, value]) => [name, value.toString('utf8')]));
      params.push(record.key, record.value, JSON.stringify(headers));
      const n = params.length;
      return `($1, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
    });
    await client.query(`insert into ${this.table} (group_id, key, value, headers) values ${rows.join(', ')}`, params);
  }

  /**
   * Sends what the outbox holds for this group to the dead-letter topic; outside a transaction,
   * between batches. Returns the records sent (0 when another process is publishing).
   */
  async publish(client: pg.ClientBase): Promise<number> {
    const lock = `walcast-sink-dlq:${this.table}:${this.options.groupId}`;
    const { rows: locked } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [lock]);
    if (!locked[0]!.ok) return 0;
    const producer = new KafkajsTransactionalProducer({ kafka: this.options.kafka, transactionalId: this.sourceId, transactionTimeoutMs: 60_000, compression: 'none' });
    let sent = 0;
    try {
      // Fences an earlier publisher with this transactionalId (its open transaction is aborted).
      await producer.connect();
      const { rows: marked } = await client.query<{ n: string }>(`select count(*)::text as n from ${this.table} where group_id = $1 and publishing`, [this.options.groupId]);
      if (marked[0]!.n !== '0') {
        const stored = await readOffset(this.options.kafka, this.options.offsetsTopic, this.sourceId);
        const done = stored ? String(stored.position.lastId) : '0';
        await client.query(`delete from ${this.table} where group_id = $1 and id <= $2`, [this.options.groupId, done]);
        await client.query(`update ${this.table} set publishing = false where group_id = $1 and publishing`, [this.options.groupId]);
      }
      for (;;) {
        const { rows } = await client.query<{ id: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string> }>(
          `select id::text, key, value, headers from ${this.table} where group_id = $1 order by id limit ${PUBLISH_CHUNK}`,
          [this.options.groupId],
        );
        if (rows.length === 0) break;
        const lastId = rows[rows.length - 1]!.id;
        await client.query(`update ${this.table} set publishing = true where group_id = $1 and id <= $2`, [this.options.groupId, lastId]);
        await sendInOwnTransaction(producer, [
          ...rows.map((row) => ({
            topic: this.options.deadLetterTopic,
            key: row.key,
            value: row.value,
            headers: Object.fromEntries(Object.entries(row.headers).map(([name, value]) => [name, Buffer.from(value)])),
          })),
          offsetRecord(this.options.offsetsTopic, this.sourceId, { lastId }),
        ]);
        await client.query(`delete from ${this.table} where group_id = $1 and id <= $2`, [this.options.groupId, lastId]);
        sent += rows.length;
      }
      if (sent > 0) this.options.log.info({ topic: this.options.deadLetterTopic, records: sent }, 'dead letters published');
      return sent;
    } finally {
      await producer.disconnect().catch(() => undefined);
      await client.query('select pg_advisory_unlock(hashtext($1))', [lock]).catch(() => undefined);
    }
  }
}
