// The JDBC source connector's tutorial config, POSTed to `walcast worker` as curl would, produces
// topic postgres-users with every row in JsonConverter's exact shape, then every row inserted later;
// and rows whose transactions commit out of id order are all delivered, once each.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { readTopics, type ReadRecord } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { incrementingJsonSource, startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';

const services = loadServices();
const it = capturedSchema('wjdbc', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.users (id serial primary key, name varchar(100), email varchar(100))`);
    await db.query(`insert into ${it.schema}.users (name, email) values ('alice', 'alice@example.com'), ('bob', 'bob@example.com'), ('carol', null)`);
    await db.query(`create table ${it.schema}.orders (id serial primary key, amount numeric(10,2) not null, placed_at timestamp not null default '2026-01-02 03:04:05.678')`);
  },
});
const { db, schema, prefix } = it;
const pgUrl = new URL(services.pgUrl);
const jdbcUrl = `jdbc:postgresql://${pgUrl.host}${pgUrl.pathname}?currentSchema=${schema}`;

/** The end offset of a topic's partition 0 now (0 when it does not exist): what an earlier run left there. */
async function endOffset(topic: string): Promise<number> {
  const admin = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high ?? 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Records of `topic` from offset `from` on, read back by the independent reader (read_committed),
 * once there are at least `count` of them. Earlier runs' records and transaction markers lie before
 * `from`, so the reader reads to the end each time.
 */
async function recordsFrom(topic: string, from: number, count: number): Promise<ReadRecord[]> {
  return waitFor(`${count} records in ${topic}`, async () => {
    const records = (await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, jsonTopics: [topic], timeoutMs: 30_000 }, [topic])).filter((r) => r.offset >= from);
    return records.length >= count ? records : undefined;
  }, 60_000, 200);
}

let worker: RunningWorker | undefined;
after(async () => {
  await worker?.process.stop('SIGTERM');
});

test('the tutorial config: postgres-users with every row in JsonConverter\'s shape, then later rows', async () => {
  const w = await startWorker({ WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`, WALCAST_OFFSETS_TOPIC: `${prefix}-offsets` });
  worker = w;
  const topic = 'postgres-users';
  const from = await endOffset(topic);
  // postgresql-source.json of the tutorial, host names changed (and the test's schema selected).
  const file = {
    name: `postgres-source-${prefix}`,
    config: {
      'connector.class': 'io.confluent.connect.jdbc.JdbcSourceConnector',
      'tasks.max': '1',
      'connection.url': jdbcUrl,
      'connection.user': decodeURIComponent(pgUrl.username),
      'connection.password': decodeURIComponent(pgUrl.password),
      'table.whitelist': 'users',
      mode: 'incrementing',
      'incrementing.column.name': 'id',
      'topic.prefix': 'postgres-',
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    },
  };
  const response = await fetch(`${w.base}/connectors`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(file) });
  assert.equal(response.status, 201, await response.text());
  await waitForState(w, file.name, 'RUNNING');

  const first = await recordsFrom(topic, from, 3);
  const schemaJson = {
    type: 'struct',
    fields: [
      { type: 'int32', optional: false, field: 'id' },
      { type: 'string', optional: true, field: 'name' },
      { type: 'string', optional: true, field: 'email' },
    ],
    optional: false,
    name: 'users',
  };
  assert.deepEqual(first.map((r) => r.key), [null, null, null]);
  // Key order included: JsonConverter's exact text.
  assert.deepEqual(first.map((r) => JSON.stringify(r.value)), [
    JSON.stringify({ schema: schemaJson, payload: { id: 1, name: 'alice', email: 'alice@example.com' } }),
    JSON.stringify({ schema: schemaJson, payload: { id: 2, name: 'bob', email: 'bob@example.com' } }),
    JSON.stringify({ schema: schemaJson, payload: { id: 3, name: 'carol', email: null } }),
  ]);

  await db.query(`insert into ${schema}.users (name, email) values ('dave', 'dave@example.com'), ('erin', 'erin@example.com')`);
  const all = await recordsFrom(topic, from, 5);
  assert.deepEqual(all.map((r) => (r.value as { payload: { id: number } }).payload.id), [1, 2, 3, 4, 5]);
  const config = (await w.call('GET', `/connectors/${file.name}/config`)).body as Record<string, string>;
  assert.equal(config['connection.password'], '[hidden]');
  assert.equal((await w.call('DELETE', `/connectors/${file.name}`)).status, 204);
});

test('query mode: the query\'s rows in topic topic.prefix, incrementing over its id', async () => {
  assert.ok(worker, 'the worker of the first test');
  const w = worker;
  const topic = `${prefix}-query`;
  const name = `query-${prefix}`;
  const config: Record<string, string> = {
    'connector.class': 'io.confluent.connect.jdbc.JdbcSourceConnector',
    'connection.url': jdbcUrl,
    'connection.user': decodeURIComponent(pgUrl.username),
    'connection.password': decodeURIComponent(pgUrl.password),
    query: 'select id, upper(name) as name from users where email is not null;',
    mode: 'incrementing',
    'incrementing.column.name': 'id',
    'topic.prefix': topic,
    'poll.interval.ms': '100',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
  };
  const both = await w.call('POST', '/connectors', { name, config: { ...config, 'table.whitelist': 'users' } });
  assert.equal(both.status, 400);
  assert.match((both.body as { message: string }).message, /set query or table\.whitelist \(table\.include\.list\), not both/);
  const created = await w.call('POST', '/connectors', { name, config });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // The first test left users 1-5; carol (3) has no email.
  const schemaJson = { type: 'struct', fields: [{ type: 'int32', optional: true, field: 'id' }, { type: 'string', optional: true, field: 'name' }], optional: false };
  const first = await recordsFrom(topic, 0, 4);
  assert.deepEqual(first.map((r) => JSON.stringify(r.value)), [
    [1, 'ALICE'], [2, 'BOB'], [4, 'DAVE'], [5, 'ERIN'],
  ].map(([id, n]) => JSON.stringify({ schema: schemaJson, payload: { id, name: n } })));
  await db.query(`insert into ${schema}.users (name, email) values ('frank', 'frank@example.com')`);
  const all = await recordsFrom(topic, 0, 5);
  assert.deepEqual((all[4]!.value as { payload: unknown }).payload, { id: 6, name: 'FRANK' });
  assert.deepEqual((await w.call('GET', `/connectors/${name}/offsets`)).body, { offsets: [{ partition: { query: 'query' }, offset: { incrementing: 6 } }] });
  assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
});

test('transactions committing out of id order: every row delivered once (the JDBC connector would skip id 2)', async () => {
  assert.ok(worker, 'the worker of the first test');
  const w = worker;
  const topic = `${prefix}-orders`;
  const name = `orders-${prefix}`;
  const ordersConfig = (password: string): Record<string, string> => ({
    'connector.class': 'JdbcSourceConnector',
    'connection.url': jdbcUrl,
    'connection.user': decodeURIComponent(pgUrl.username),
    'connection.password': password,
    'table.whitelist': `${schema}.orders`,
    ...incrementingJsonSource(prefix),
  });
  const created = await w.call('POST', '/connectors', { name, config: ordersConfig('${env:WT_NEVER_SET}') });
  assert.equal(created.status, 400, 'a reference that does not resolve is refused');
  assert.match((created.body as { message: string }).message, /connection\.password: environment variable WT_NEVER_SET is not set/);
  const ok = await w.call('PUT', `/connectors/${name}/config`, ordersConfig(decodeURIComponent(pgUrl.password)));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  await waitForState(w, name, 'RUNNING');

  const scans = async (): Promise<number> =>
    Number((await db.query<{ n: string }>(`select coalesce(seq_scan, 0) + coalesce(idx_scan, 0) as n from pg_stat_user_tables where schemaname = $1 and relname = 'orders'`, [schema])).rows[0]?.n ?? 0);
  await db.query(`insert into ${schema}.orders (amount) values (10.5)`); // id 1
  const t1 = new pg.Client({ connectionString: services.pgUrl });
  const t2 = new pg.Client({ connectionString: services.pgUrl });
  await t1.connect();
  await t2.connect();
  try {
    await t1.query('begin');
    await t1.query(`insert into ${schema}.orders (amount) values (20.25)`); // id 2, committed last
    await t2.query('begin');
    await t2.query(`insert into ${schema}.orders (amount) values (30)`); // id 3
    await t2.query('commit');
    await db.query(`insert into ${schema}.orders (amount) values (40)`); // id 4
    // Let the poller run while transaction 1 is open: the JDBC connector's cursor would pass id 2 here.
    const before = await scans();
    await waitFor('two polls after id 3 and 4 committed', async () => ((await scans()) >= before + 2 ? true : undefined), 30_000, 100);
    const meanwhile = await recordsFrom(topic, 0, 0);
    assert.deepEqual(meanwhile.map((r) => (r.value as { id: number }).id), [1], 'rows newer than the open transaction are held back');
    await t1.query('commit');
  } finally {
    await t1.end();
    await t2.end();
  }
  const all = await recordsFrom(topic, 0, 4);
  assert.deepEqual(all.map((r) => r.value), [
    { id: 1, amount: 'BBo=', placed_at: 1767323045678 },
    { id: 2, amount: 'B+k=', placed_at: 1767323045678 },
    { id: 3, amount: 'C7g=', placed_at: 1767323045678 },
    { id: 4, amount: 'D6A=', placed_at: 1767323045678 },
  ]);
  const stopped = await w.process.stop('SIGTERM');
  assert.equal(stopped.code, 0, w.process.output.slice(-3000));
});
