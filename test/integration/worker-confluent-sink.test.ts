// Confluent's JDBC sink config in `walcast worker`: the JDBC source connector's topic (flat rows,
// JsonConverter with schemas), applied by an io.confluent.connect.jdbc.JdbcSinkConnector config
// keyed by pk.mode=record_value, gives a target table equal to the source table, then follows it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';
import { assertSameRows } from '../helpers/sink.ts';
import { jdbcConnectionSettings, startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';

const services = loadServices();
const columns = 'id serial primary key, name text, amount numeric(10,2), big bigint not null, flag boolean, day date, placed_at timestamptz';
const it = capturedSchema('wcsink', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.users (${columns})`);
    await db.query(`create schema ${it.schema}_target`);
    await db.query(`insert into ${it.schema}.users (name, amount, big, flag, day, placed_at) values
      ('alice', 12.5, 9007199254740993, true, '2026-01-02', '2026-01-02 03:04:05.678+00'),
      ('bob', null, -1, false, null, null),
      (null, 0.01, 0, null, '1999-12-31', '2000-01-01 00:00:00+00')`);
  },
  teardown: async (db) => {
    await db.query(`drop schema if exists ${it.schema}_target cascade`);
  },
});
const { db, schema, prefix } = it;
const pgUrl = new URL(services.pgUrl);

let worker: RunningWorker | undefined;
after(async () => {
  const stopped = await worker?.process.stop('SIGTERM');
  if (stopped) assert.equal(stopped.code, 0, worker?.process.output.slice(-3000));
});

test("the JDBC source's topic applied by Confluent's JDBC sink config equals the source table", async () => {
  const w = (worker = await startWorker({
    WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_SINK_OFFSETS_TABLE: `${schema}_target.walcast_sink_offsets`,
  }));
  const connection = {
    ...jdbcConnectionSettings(pgUrl, 'connection.user'),
  };
  const json = { 'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' };
  const source = await w.call('POST', '/connectors', {
    name: `src-${prefix}`,
    config: {
      'connector.class': 'io.confluent.connect.jdbc.JdbcSourceConnector',
      ...connection,
      'table.whitelist': `${schema}.users`,
      mode: 'incrementing',
      'incrementing.column.name': 'id',
      'topic.prefix': `${prefix}-`,
      'poll.interval.ms': '100',
      ...json,
    },
  });
  assert.equal(source.status, 201, JSON.stringify(source.body));
  // The target as Confluent's sink would find it (auto.create off): the same columns.
  await db.query(`create table ${schema}_target.users (${columns.replace('serial', 'int')})`);
  const sink = {
    'connector.class': 'io.confluent.connect.jdbc.JdbcSinkConnector',
    ...connection,
    topics: `${prefix}-users`,
    'insert.mode': 'upsert',
    'pk.mode': 'record_value',
    'pk.fields': 'id',
    'table.name.format': `${schema}_target.users`,
    ...json,
  };
  const refused = await w.call('POST', '/connectors', { name: `sink-${prefix}`, config: { ...sink, 'pk.mode': 'none', 'batch.size': '500' } });
  assert.equal(refused.status, 400);
  assert.match((refused.body as { message: string }).message, /2 error\(s\):\n(?=[^]*pk\.mode=none)(?=[^]*batch\.size is not supported)/);
  const created = await w.call('POST', '/connectors', { name: `sink-${prefix}`, config: sink });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((created.body as { type: string }).type, 'sink');
  await waitForState(w, `sink-${prefix}`, 'RUNNING');
  assert.equal(await assertSameRows(db, `${schema}.users`, `${schema}_target.users`, { timeoutMs: 60_000 }), 3);
  await db.query(`insert into ${schema}.users (name, amount, big, flag, day, placed_at) values ('dave', 99999999.99, 42, true, '2026-12-02', '2026-12-02 05:00:00.001+00')`);
  assert.equal(await assertSameRows(db, `${schema}.users`, `${schema}_target.users`, { timeoutMs: 60_000 }), 4);
  for (const name of [`sink-${prefix}`, `src-${prefix}`]) assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
});
