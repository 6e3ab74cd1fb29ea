// End to end against the real services: walcast streams inserts, updates, deletes, primary-key
// changes, truncates, keyless tables, logical messages and multi-table transactions; an
// independent reader (Python, confluent-kafka + fastavro) checks the Debezium envelope.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readTopics, type ReadRecord } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('stream', {
  setup: async (db) => {
    await db.query(`create table ${schema}.customers (id int primary key, name text not null, balance numeric(12,2), updated_at timestamptz)`);
    await db.query(`create table ${schema}.orders (id bigint primary key, customer_id int, note text)`);
    await db.query(`create table ${schema}.audit (v text)`);
    await db.query(`alter table ${schema}.audit replica identity full`);
  },
});
const { schema, slot, prefix } = it;

const { db } = it;

describe('streaming', () => {
  let walcast: WalcastProcess;
  let records: ReadRecord[] = [];
  let multiTableXid = 0;

  test('starts, creates publication and slot, and reports streaming', async () => {
    walcast = new WalcastProcess(it.env());
    await walcast.waitForStreaming();
    const slots = await db.query('select plugin from pg_replication_slots where slot_name = $1', [slot]);
    assert.equal(slots.rows[0]?.plugin, 'pgoutput');
    const pub = await db.query('select tablename from pg_publication_tables where pubname = $1 order by 1', [slot]);
    assert.deepEqual(pub.rows.map((r) => r.tablename), ['audit', 'customers', 'orders']);
  });

  test('every change arrives with the Debezium envelope, read by an independent Avro reader', async () => {
    await db.query(`insert into ${schema}.customers values (1, 'Ada', 10.50, '2024-02-29 12:34:56.123456+00')`);
    await db.query('begin');
    await db.query(`insert into ${schema}.customers values (2, 'Bob', -0.01, null)`);
    await db.query(`insert into ${schema}.orders values (100, 2, 'first order')`);
    multiTableXid = Number((await db.query('select txid_current()::bigint as x')).rows[0].x);
    await db.query('commit');
    await db.query(`update ${schema}.customers set balance = 20.25 where id = 1`);
    await db.query(`delete from ${schema}.customers where id = 2`);
    await db.query(`update ${schema}.customers set id = 3 where id = 1`);
    await db.query(`insert into ${schema}.audit values ('no key here')`);
    await db.query(`truncate ${schema}.orders`);
    await db.query(`select pg_logical_emit_message(true, 'walcast-test', 'hello')`);

    const topics = [`${prefix}.${schema}.customers`, `${prefix}.${schema}.orders`, `${prefix}.${schema}.audit`, `${prefix}.message`];
    // customers: c1 c2 u1 d2 tomb2 d1 tomb1 c3 = 8; orders: c t = 2; audit: c = 1; message: 1
    records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 12, timeoutMs: 60_000 }, topics);
    assert.equal(records.length, 12);

    const customers = records.filter((r) => r.topic === topics[0]);
    const ops = customers.map((r) => (r.value === null ? 'tombstone' : String(r.value.op)));
    assert.deepEqual(ops, ['c', 'c', 'u', 'd', 'tombstone', 'd', 'tombstone', 'c'], walcast.output.slice(-6000));
    assert.deepEqual(customers.map((r) => r.key?.id), [1, 2, 1, 2, 2, 1, 1, 3]);

    const first = customers[0]!.value!;
    assert.deepEqual(first.before, null);
    assert.deepEqual(first.after, { id: 1, name: 'Ada', balance: '10.50', updated_at: '2024-02-29T12:34:56.123456+00:00' });
    const source = first.source as Record<string, unknown>;
    assert.equal(source.connector, 'postgresql');
    assert.equal(source.db, 'walcast');
    assert.equal(source.schema, schema);
    assert.equal(source.table, 'customers');
    assert.equal(source.name, prefix);
    assert.equal(source.snapshot, 'false');
    assert.equal(typeof source.lsn, 'number');
    assert.equal(typeof source.txId, 'number');

    const update = customers[2]!.value!;
    assert.deepEqual(update.after, { id: 1, name: 'Ada', balance: '20.25', updated_at: '2024-02-29T12:34:56.123456+00:00' });
    // REPLICA IDENTITY DEFAULT: no before-image on update; on delete only the key columns.
    assert.equal(update.before, null);
    const deleted = customers[3]!.value!;
    assert.deepEqual(deleted.before, { id: 2, name: null, balance: null, updated_at: null });
    assert.equal(deleted.after, null);
    // Primary-key change: delete of 1 (+ tombstone) then create of 3, in the same transaction.
    assert.equal((customers[5]!.value!.source as { txId: number }).txId, (customers[7]!.value!.source as { txId: number }).txId);
    assert.equal((customers[7]!.value!.after as { id: number }).id, 3);

    // The multi-table transaction: same txId, transaction block ordered across tables.
    const bob = customers[1]!.value!;
    const order = records.find((r) => r.topic === topics[1] && r.value?.op === 'c')!.value!;
    assert.equal((bob.source as { txId: number }).txId, multiTableXid);
    assert.equal((order.source as { txId: number }).txId, multiTableXid);
    assert.deepEqual(
      [(bob.transaction as { total_order: number }).total_order, (order.transaction as { total_order: number }).total_order],
      [1, 2],
    );
    assert.equal((bob.transaction as { id: string }).id, (order.transaction as { id: string }).id);

    const truncate = records.find((r) => r.topic === topics[1] && r.value?.op === 't');
    assert.ok(truncate, 'truncate event');
    assert.equal(truncate.key, null);

    const audit = records.filter((r) => r.topic === topics[2]);
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.key, null, 'a table without a primary key has null keys');
    assert.deepEqual(audit[0]!.value!.after, { v: 'no key here' });

    const message = records.find((r) => r.topic === topics[3])!;
    assert.equal(message.value!.op, 'm');
    assert.deepEqual(message.value!.message, { prefix: 'walcast-test', content: { $bytes: Buffer.from('hello').toString('base64') } });
  });

  test('walcast tail prints a topic\'s committed events as readable JSON lines', async () => {
    const tail = new WalcastProcess(
      { WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','), WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl },
      ['tail', `${prefix}.${schema}.customers`, '--from-beginning', '--max', '2'],
    );
    const exit = await tail.exited;
    assert.equal(exit.code, 0, tail.output.slice(-2000));
    const lines = tail.output.split('\n').filter((l) => l.startsWith('{"partition"')).map((l) => JSON.parse(l) as { key: unknown; value: { op: string; after: unknown } });
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0]!.key, { id: 1 });
    assert.equal(lines[0]!.value.op, 'c');
    assert.deepEqual(lines[0]!.value.after, { id: 1, name: 'Ada', balance: '10.50', updated_at: '2024-02-29T12:34:56.123456Z' });
  });

  test('an idle source retains no WAL: writes outside the publication are confirmed too', async () => {
    await db.query(`create table if not exists public.${schema}_unpublished (id int)`);
    await db.query(`insert into public.${schema}_unpublished select generate_series(1, 1000)`);
    // Nothing here is published, so only keepalive answers can move the slot past these writes.
    await it.waitForAck(db, await it.currentLsn(db));
    await db.query(`drop table public.${schema}_unpublished`);
  });

  test('SIGTERM stops within 10 s with exit 0 and the slot acknowledged up to the last change', async () => {
    // Acknowledgement follows the Kafka commit: wait for the slot to catch up before stopping.
    await it.waitForAck(db, await it.currentLsn(db));
    const result = await walcast.stop('SIGTERM');
    assert.equal(result.code, 0, walcast.output.slice(-2000));
    assert.ok(result.ms < 10_000, `stopped in ${result.ms} ms`);
  });
});
