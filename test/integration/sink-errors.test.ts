// The sink on Debezium's own JSON (JsonConverter with schemas.enable=true, the envelope Debezium's
// PostgreSQL connector writes) produced straight into Kafka, and WALCAST_ERRORS_TOLERANCE: a record
// that is not JSON and one whose value the target refuses. none stops the sink naming the topic,
// partition and offset with nothing applied from there; all copies both records unchanged to the
// dead-letter topic with Connect's headers, applies the rest, and a restart publishes nothing twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const targetSchema = `it_sinkerr_${id}`;
const prefix = `dbz${id.replace(/_/g, '')}`;
const topic = `${prefix}.inventory.customers`;
const dlq = `${prefix}-sink-dlq`;
const kafka = new Kafka({ brokers: services.kafkaBrokers, clientId: 'sink-errors-test', logLevel: logLevel.NOTHING });
const db = new pg.Client({ connectionString: services.pgUrl });

const field = (type: string, name: string, optional: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type, optional, field: name, ...extra });
const rowFields = [field('int32', 'id', false), field('string', 'first_name', false), field('int32', 'credit', true)];

/**
 * Debezium's value for the PostgreSQL connector, as JsonConverter writes it with schemas.enable=true:
 * the shape of published 2.7.x output (source with sequence, ts_us, ts_ns; the event.block
 * transaction struct; envelope version 2, ts_us/ts_ns beside ts_ms), with 3.x's snapshot values.
 */
function debeziumValue(op: 'c' | 'u' | 'd', before: Record<string, unknown> | null, after: Record<string, unknown> | null, lsn: number): Buffer {
  const schema = {
    type: 'struct',
    fields: [
      { type: 'struct', fields: rowFields, optional: true, name: `${topic}.Value`, field: 'before' },
      { type: 'struct', fields: rowFields, optional: true, name: `${topic}.Value`, field: 'after' },
      {
        type: 'struct',
        fields: [
          field('string', 'version', false),
          field('string', 'connector', false),
          field('string', 'name', false),
          field('int64', 'ts_ms', false),
          field('string', 'snapshot', true, { name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' }, default: 'false' }),
          field('string', 'db', false),
          field('string', 'sequence', true),
          field('int64', 'ts_us', true),
          field('int64', 'ts_ns', true),
          field('string', 'schema', false),
          field('string', 'table', false),
          field('int64', 'txId', true),
          field('int64', 'lsn', true),
          field('int64', 'xmin', true),
        ],
        optional: false,
        name: 'io.debezium.connector.postgresql.Source',
        field: 'source',
      },
      {
        type: 'struct',
        fields: [field('string', 'id', false), field('int64', 'total_order', false), field('int64', 'data_collection_order', false)],
        optional: true,
        name: 'event.block',
        version: 1,
        field: 'transaction',
      },
      field('string', 'op', false),
      field('int64', 'ts_ms', true),
      field('int64', 'ts_us', true),
      field('int64', 'ts_ns', true),
    ],
    optional: false,
    name: `${topic}.Envelope`,
    version: 2,
  };
  const now = Date.now();
  const payload = {
    before,
    after,
    source: {
      version: '3.7.0.Final',
      connector: 'postgresql',
      name: prefix,
      ts_ms: now,
      snapshot: 'false',
      db: 'postgres',
      sequence: `[null,"${lsn}"]`,
      ts_us: now * 1000,
      ts_ns: now * 1_000_000,
      schema: 'inventory',
      table: 'customers',
      txId: 780 + lsn,
      lsn,
      xmin: null,
    },
    transaction: null,
    op,
    ts_ms: now,
    ts_us: now * 1000,
    ts_ns: now * 1_000_000,
  };
  return Buffer.from(JSON.stringify({ schema, payload }));
}

function debeziumKey(customer: number): Buffer {
  return Buffer.from(JSON.stringify({ schema: { type: 'struct', fields: [field('int32', 'id', false)], optional: false, name: `${topic}.Key` }, payload: { id: customer } }));
}

const row = (id: number, name: string, credit: number | null): Record<string, unknown> => ({ id, first_name: name, credit });

/** The records, in offset order: offset 1 is not JSON, offset 3 breaks the target's check constraint. */
const records = [
  { key: debeziumKey(1001), value: debeziumValue('c', null, row(1001, 'Sally', 10), 100) },
  { key: debeziumKey(1002), value: Buffer.from('{"schema": not json') },
  { key: debeziumKey(1003), value: debeziumValue('c', null, row(1003, 'Edward', 30), 300) },
  { key: debeziumKey(1004), value: debeziumValue('c', null, row(1004, 'Anne', -5), 400) },
  { key: debeziumKey(1001), value: debeziumValue('u', row(1001, 'Sally', 10), row(1001, 'Sally', 11), 500) },
  { key: debeziumKey(1003), value: debeziumValue('d', row(1003, 'Edward', 30), null, 600) },
  { key: debeziumKey(1003), value: null },
  { key: debeziumKey(1005), value: debeziumValue('c', null, row(1005, 'Kenneth', null), 700) },
];

function sinkEnv(extra: Record<string, string>): Record<string, string> {
  return {
    WALCAST_SINK_PG_URL: services.pgUrl,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SINK_TOPICS: topic,
    WALCAST_SINK_GROUP_ID: `${prefix}-sink`,
    WALCAST_SINK_TABLE_NAME_FORMAT: `${targetSchema}.\${source.table}`,
    WALCAST_SINK_OFFSETS_TABLE: `${targetSchema}.offsets`,
    WALCAST_HTTP_PORT: '0',
    WALCAST_STARTUP_TIMEOUT_MS: '60000',
    ...extra,
  };
}

async function nextOffset(): Promise<string | null | undefined> {
  const { rows } = await db.query<{ next: string | null }>(`select next_offset::text as next from ${targetSchema}.offsets where topic = $1 and partition = 0`, [topic]).catch(() => ({ rows: [] }));
  return rows[0]?.next;
}

before(async () => {
  db.on('error', () => undefined);
  await db.connect();
  await db.query(`create schema ${targetSchema}`);
  await db.query(`create table ${targetSchema}.customers (id int primary key, first_name text not null, credit int check (credit >= 0))`);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: `${prefix}-dbz` });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({ topic, messages: records.map((r) => ({ ...r, partition: 0 })) });
  await transaction.commit();
  await producer.disconnect();
});

after(async () => {
  await db.query(`drop schema if exists ${targetSchema} cascade`).catch(() => undefined);
  await db.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await admin.disconnect();
});

test('WALCAST_ERRORS_TOLERANCE=none: a record that cannot be decoded stops the sink with its topic, partition and offset, nothing applied from there', async () => {
  const sink = new WalcastProcess(sinkEnv({}), ['sink']);
  const exit = await Promise.race([sink.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the sink did not stop:\n${sink.output.slice(-6000)}`)), 60_000).unref())]).finally(() => sink.stop());
  assert.equal(exit.code, 7, sink.output.slice(-3000));
  assert.match(sink.output, new RegExp(`topic ${topic.replace(/\./g, '\\.')} partition 0 offset 1: it cannot be decoded`));
  assert.match(sink.output, /WALCAST_ERRORS_TOLERANCE=all/);
  assert.equal(await nextOffset(), null, 'no offset recorded');
  assert.equal((await db.query(`select count(*)::int as n from ${targetSchema}.customers`)).rows[0].n, 0);
});

test('WALCAST_ERRORS_TOLERANCE=all: Debezium JSON applied, the two bad records dead-lettered once with Connect headers, exactly once over a restart', async () => {
  const env = sinkEnv({ WALCAST_ERRORS_TOLERANCE: 'all' });
  // The end of the topic: past the commit marker after the last record.
  const topicAdmin = kafka.admin();
  await topicAdmin.connect();
  const end = (await topicAdmin.fetchTopicOffsets(topic))[0]!.high;
  await topicAdmin.disconnect();
  const sink = new WalcastProcess(env, ['sink']);
  try {
    await waitFor('the sink to apply every record', async () => ((await nextOffset()) === end ? true : undefined), 60_000).catch(async (error: Error) => {
      throw new Error(`${error.message} (next offset ${await nextOffset()}); sink output:\n${sink.output.slice(-5000)}`);
    });
  } finally {
    await sink.stop();
  }
  const { rows } = await db.query(`select id, first_name, credit from ${targetSchema}.customers order by id`);
  assert.deepEqual(rows, [
    { id: 1001, first_name: 'Sally', credit: 11 },
    { id: 1005, first_name: 'Kenneth', credit: null },
  ]);

  // Restarted from the offsets in the target: nothing applied or dead-lettered again.
  const again = new WalcastProcess(env, ['sink']);
  await again.waitForLog((l) => l.msg === 'sink running', 60_000, 'sink running');
  await again.stop();

  const letters: Array<{ offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string> }> = [];
  const consumer = kafka.consumer({ groupId: `${prefix}-dlq-reader`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [dlq], fromBeginning: true });
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(dlq))[0]!.high);
  await admin.disconnect();
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      letters.push({ offset: message.offset, key: message.key, value: message.value, headers });
    },
  });
  // The high watermark counts the transaction markers too: wait for the records below it.
  await waitFor('the dead-letter records', () => (letters.length > 0 && Number(letters[letters.length - 1]!.offset) + 2 >= high ? true : undefined), 30_000);
  await consumer.disconnect();
  assert.equal(letters.length, 2, JSON.stringify(letters.map((l) => l.headers)));
  const [undecodable, refused] = letters;
  assert.equal(undecodable!.headers['__connect.errors.topic'], topic);
  assert.equal(undecodable!.headers['__connect.errors.partition'], '0');
  assert.equal(undecodable!.headers['__connect.errors.offset'], '1');
  assert.equal(undecodable!.headers['__connect.errors.stage'], 'VALUE_CONVERTER');
  assert.ok(undecodable!.value!.equals(records[1]!.value!), 'the record is copied unchanged');
  assert.ok(undecodable!.key!.equals(records[1]!.key));
  assert.equal(refused!.headers['__connect.errors.offset'], '3');
  assert.equal(refused!.headers['__connect.errors.stage'], 'TASK_PUT');
  assert.equal(refused!.headers['__connect.errors.connector.name'], `${prefix}-sink`);
  assert.match(refused!.headers['__connect.errors.exception.message']!, /check constraint/);
  assert.ok(refused!.value!.equals(records[3]!.value!));
  const { rows: outbox } = await db.query(`select count(*)::int as n from ${targetSchema}.offsets_dlq`);
  assert.equal(outbox[0].n, 0, 'the outbox is empty once published');
});
