// Connect's offsets routes (KIP-875) on `walcast worker`: GET in any state, PATCH and DELETE only
// while STOPPED; a connector resumed afterwards starts from the new offsets, and an older instance
// still holding the old ones (a zombie) can no longer write: for the polling source its Kafka
// transaction is fenced, for the sink its batch finds the offsets row's epoch moved on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { debeziumDatabaseSettings, incrementingJsonSource, jdbcConnectionSettings, startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';
import { offsetRecord } from '../../src/kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer } from '../../src/kafka/producer.ts';
import { SinkOffsets } from '../../src/sink/offsets.ts';
import { pollOffsetKey, pollTransactionalId } from '../../src/source/poll/tasks.ts';
import { createLogger } from '../../src/log.ts';
import { PLAINTEXT } from '../../src/kafka/security.ts';

const services = loadServices();
const it = capturedSchema('woff', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.items (id serial primary key, name text not null)`);
    await db.query(`insert into ${it.schema}.items (name) select 'item ' || g from generate_series(1, 3) g`);
    await db.query(`create table ${it.schema}.copies (id int primary key, name text not null)`);
  },
});
const { db, schema, prefix } = it;
const pgUrl = new URL(services.pgUrl);
const offsetsTopic = `${prefix}-offsets`;

let worker: RunningWorker | undefined;
after(async () => {
  const stopped = await worker?.process.stop('SIGTERM');
  if (stopped) assert.equal(stopped.code, 0, worker!.process.output.slice(-3000));
});

async function theWorker(): Promise<RunningWorker> {
  worker ??= await startWorker({
    WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`,
    WALCAST_OFFSETS_TOPIC: offsetsTopic,
    WALCAST_SINK_OFFSETS_TABLE: `${schema}.walcast_sink_offsets`,
  });
  return worker;
}

const notStopped = /^Connectors must be in the STOPPED state before their offsets can be modified\. This can be done for the specified connector by issuing a 'PUT' request to the '\/connectors\/.+\/stop' endpoint$/;

async function stop(w: RunningWorker, name: string): Promise<void> {
  assert.equal((await w.call('PUT', `/connectors/${name}/stop`)).status, 204);
  await waitForState(w, name, 'STOPPED');
}

test('polling source: offsets read, refused while running, altered and reset while stopped; a zombie is fenced', async () => {
  const w = await theWorker();
  const name = `items-${prefix}`;
  const topic = `${prefix}-items`;
  const created = await w.call('POST', '/connectors', {
    name,
    config: {
      'connector.class': 'JdbcSourceConnector',
      ...jdbcConnectionSettings(pgUrl, 'connection.user'),
      'table.whitelist': `${schema}.items`,
      ...incrementingJsonSource(prefix),
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ids = async (count: number): Promise<number[]> =>
    waitFor(`${count} records in ${topic}`, async () => {
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, jsonTopics: [topic], timeoutMs: 30_000 }, [topic]);
      return records.length >= count ? records.map((r) => (r.value as { id: number }).id) : undefined;
    }, 60_000, 200);
  assert.deepEqual(await ids(3), [1, 2, 3]);
  const partition = { table: `${schema}.items` };
  const read = async (): Promise<unknown> => (await w.call('GET', `/connectors/${name}/offsets`)).body;
  assert.deepEqual(await read(), { offsets: [{ partition, offset: { incrementing: 3 } }] });

  const running = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { incrementing: 5 } }] });
  assert.equal(running.status, 400);
  assert.match((running.body as { message: string }).message, notStopped);
  assert.equal((await w.call('DELETE', `/connectors/${name}/offsets`)).status, 400);

  await stop(w, name);
  // A zombie of the connector (same transactional id) with a transaction open when the change comes.
  const kafka = createKafka({ brokers: services.kafkaBrokers, clientId: 'zombie', security: PLAINTEXT, log: createLogger('fatal'), retries: 2 });
  const zombie = new KafkajsTransactionalProducer({ kafka, transactionalId: pollTransactionalId(name, 0), transactionTimeoutMs: 60_000 });
  await zombie.connect();
  await zombie.begin();
  await zombie.send([offsetRecord(offsetsTopic, pollOffsetKey(name, `${schema}.items`, false), { inc: '1' })]);

  const bad = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { timestamp: 'x' } }] });
  assert.equal(bad.status, 400);
  assert.match((bad.body as { message: string }).message, /mode incrementing needs "incrementing"/);
  const altered = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { incrementing: 5 } }] });
  assert.deepEqual(altered, { status: 200, body: { message: 'The offsets for this connector have been altered successfully' } });
  await assert.rejects(zombie.commit(), 'the zombie cannot commit after the change');
  await zombie.disconnect().catch(() => undefined);
  assert.deepEqual(await read(), { offsets: [{ partition, offset: { incrementing: 5 } }] });

  // Rows 4 and 5 lie at or below the new offset: skipped; 6 and 7 come.
  await db.query(`insert into ${schema}.items (name) select 'item ' || g from generate_series(4, 7) g`);
  assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
  assert.deepEqual(await ids(5), [1, 2, 3, 6, 7]);

  await stop(w, name);
  assert.deepEqual(await w.call('DELETE', `/connectors/${name}/offsets`), { status: 200, body: { message: 'The offsets for this connector have been reset successfully' } });
  assert.deepEqual(await read(), { offsets: [] });
  assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
  assert.deepEqual(await ids(12), [1, 2, 3, 6, 7, 1, 2, 3, 4, 5, 6, 7], 'after a reset every row again');
  assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
});

test('sink: offsets are the target\'s rows; altered while stopped, the resumed sink starts there and a zombie applies nothing', async () => {
  const w = await theWorker();
  const name = `copies-${prefix}`;
  const topic = `${prefix}.copies`;
  const kafka = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const produce = async (from: number, to: number): Promise<void> => {
    const messages = [];
    for (let id = from; id <= to; id++) {
      messages.push({ key: JSON.stringify({ id }), value: JSON.stringify({ before: null, after: { id, name: `copy ${id}` }, op: 'c', source: { db: 'd', schema, table: 'copies' }, ts_ms: Date.now() }) });
    }
    await producer.send({ topic, messages });
  };
  const target = async (): Promise<number[]> => (await db.query<{ id: number }>(`select id from ${schema}.copies order by id`)).rows.map((r) => r.id);
  const targetHas = (expected: number[]): Promise<true> =>
    waitFor(`target rows ${expected.join(',')}`, async () => (JSON.stringify(await target()) === JSON.stringify(expected) ? true : undefined), 60_000, 100);
  try {
    await produce(1, 5);
    const created = await w.call('POST', '/connectors', {
      name,
      config: {
        'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
        ...jdbcConnectionSettings(pgUrl, 'connection.username'),
        topics: topic,
        'insert.mode': 'upsert',
        'primary.key.mode': 'record_key',
        'collection.name.format': `${schema}.copies`,
        'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'value.converter.schemas.enable': 'false',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'key.converter.schemas.enable': 'false',
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await targetHas([1, 2, 3, 4, 5]);
    const partition = { kafka_topic: topic, kafka_partition: 0 };
    const read = async (): Promise<unknown> => (await w.call('GET', `/connectors/${name}/offsets`)).body;
    assert.deepEqual(await read(), { offsets: [{ partition, offset: { kafka_offset: 5 } }] });
    assert.match(((await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { kafka_offset: 7 } }] })).body as { message: string }).message, notStopped);

    await stop(w, name);
    // A zombie sink process that claimed the partition before the change.
    const offsets = new SinkOffsets(`${schema}.walcast_sink_offsets`, `connect-${name}`);
    const zombie = await offsets.claim(db, topic, 0, 'zombie');
    assert.equal(zombie.next, 5n);
    const bad = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition: { kafka_topic: topic }, offset: { kafka_offset: 7 } }] });
    assert.equal(bad.status, 400);
    assert.match((bad.body as { message: string }).message, /kafka_partition/);
    const altered = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { kafka_offset: 7 } }] });
    assert.deepEqual(altered, { status: 200, body: { message: 'The offsets for this connector have been altered successfully' } });
    await db.query('begin');
    assert.equal(await offsets.advance(db, topic, 0, zombie.epoch, 5n, 6n), false, 'the zombie\'s batch finds the epoch moved on');
    await db.query('rollback');
    assert.deepEqual(await read(), { offsets: [{ partition, offset: { kafka_offset: 7 } }] });

    // Offsets 5 and 6 (ids 6 and 7) are skipped.
    await produce(6, 9);
    assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
    await targetHas([1, 2, 3, 4, 5, 8, 9]);

    await stop(w, name);
    assert.deepEqual(await w.call('DELETE', `/connectors/${name}/offsets`), { status: 200, body: { message: 'The offsets for this connector have been reset successfully' } });
    assert.deepEqual(await read(), { offsets: [] });
    await db.query(`truncate ${schema}.copies`);
    assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
    await targetHas([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
  } finally {
    await producer.disconnect();
  }
});

test('CDC source: Debezium\'s offset shape; an LSN the slot released is refused; moving it forward skips what lies below', async () => {
  const w = await theWorker();
  const name = `cdc-${prefix}`;
  const topic = `${prefix}.${schema}.items`;
  const created = await w.call('POST', '/connectors', {
    name,
    config: {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      ...debeziumDatabaseSettings(pgUrl),
      'topic.prefix': prefix,
      'table.include.list': `${schema}\\.items`,
      'slot.name': it.slot,
      'publication.name': it.slot,
      'snapshot.mode': 'no_data',
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': 'false',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter.schemas.enable': 'false',
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await waitForState(w, name, 'RUNNING');
  const names = async (count: number): Promise<string[]> =>
    waitFor(`${count} events in ${topic}`, async () => {
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, jsonTopics: [topic], timeoutMs: 30_000 }, [topic]);
      const events = records.filter((r) => r.value !== null);
      return events.length >= count ? events.map((r) => (r.value as { after: { name: string } }).after.name) : undefined;
    }, 60_000, 200);
  await db.query(`insert into ${schema}.items (name) values ('first')`);
  assert.deepEqual(await names(1), ['first']);
  const read = async (): Promise<Array<{ partition: unknown; offset: { lsn: number; txId: number | null } }>> =>
    ((await w.call('GET', `/connectors/${name}/offsets`)).body as { offsets: Array<{ partition: unknown; offset: { lsn: number; txId: number | null } }> }).offsets;
  const [entry] = await read();
  assert.deepEqual(entry?.partition, { server: prefix });
  assert.equal(typeof entry?.offset.lsn, 'number');
  assert.equal(typeof entry?.offset.txId, 'number');

  await stop(w, name);
  const partition = { server: prefix };
  const behind = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { lsn: 1 } }] });
  assert.equal(behind.status, 400);
  assert.match((behind.body as { message: string }).message, /lsn 0\/1 is below .* which replication slot .* has already confirmed/);
  // Written while stopped, then skipped by moving the offset past them.
  await db.query(`insert into ${schema}.items (name) values ('skipped 1'), ('skipped 2')`);
  const lsn = (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
  const altered = await w.call('PATCH', `/connectors/${name}/offsets`, { offsets: [{ partition, offset: { lsn, txId: null } }] });
  assert.equal(altered.status, 200, JSON.stringify(altered.body));
  const [moved] = await read();
  const [high, low] = lsn.split('/').map((h) => parseInt(h, 16));
  assert.deepEqual(moved?.offset, { lsn: high! * 2 ** 32 + low!, txId: null });
  await db.query(`insert into ${schema}.items (name) values ('after')`);
  assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
  assert.deepEqual(await names(2), ['first', 'after']);
  assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
});
