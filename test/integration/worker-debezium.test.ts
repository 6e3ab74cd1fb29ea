// A Debezium PostgresConnector config POSTed to `walcast worker` runs as walcast's CDC source:
// existing rows (snapshot.mode=initial) and later changes arrive in <topic.prefix>.<schema>.<table>,
// read back by the independent Avro reader; a Debezium JDBC sink config POSTed to the same worker
// applies that topic to a target table (inserts, updates, deletes); settings walcast cannot honour
// are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';
import { assertSameRows } from '../helpers/sink.ts';
import { debeziumDatabaseSettings, startWorker, waitForState } from '../helpers/worker.ts';

const services = loadServices();
const it = capturedSchema('wdbz', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.users (id serial primary key, name text not null)`);
    await db.query(`insert into ${it.schema}.users (name) values ('alice'), ('bob')`);
    await db.query(`create schema ${it.schema}_target`);
  },
  teardown: async (db) => {
    await db.query(`drop schema if exists ${it.schema}_target cascade`);
  },
});
const { db, schema, slot, prefix } = it;

test('a Debezium PostgreSQL connector config streams through walcast worker', async () => {
  const pg = new URL(services.pgUrl);
  const config: Record<string, string> = {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    ...debeziumDatabaseSettings(pg, '${env:WT_PG_PASSWORD}'),
    'topic.prefix': prefix,
    'table.include.list': `${schema}\\.users`,
    'slot.name': slot,
    'publication.name': slot,
    'plugin.name': 'pgoutput',
    'snapshot.mode': 'initial',
    'key.converter': 'io.confluent.connect.avro.AvroConverter',
    'key.converter.schema.registry.url': services.schemaRegistryUrl,
    'value.converter': 'io.confluent.connect.avro.AvroConverter',
    'value.converter.schema.registry.url': services.schemaRegistryUrl,
  };
  const worker = await startWorker({
    WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_SINK_OFFSETS_TABLE: `${schema}_target.walcast_sink_offsets`,
    WT_PG_PASSWORD: decodeURIComponent(pg.password),
  });
  try {
    const report = (await worker.call('PUT', '/connector-plugins/PostgresConnector/config/validate', { ...config, 'plugin.name': 'decoderbufs', 'table.exclude.list': 'public.x', 'key.converter.schemas.enable': 'false' }))
      .body as { error_count: number; configs: Array<{ value: { name: string; errors: string[] } }> };
    const errors = Object.fromEntries(report.configs.filter((c) => c.value.errors.length > 0).map((c) => [c.value.name, c.value.errors.join(' ')]));
    assert.deepEqual(Object.keys(errors).sort(), ['key.converter.schemas.enable', 'plugin.name', 'table.exclude.list']);
    assert.match(errors['plugin.name']!, /pgoutput only/);
    assert.equal(report.error_count, 3);

    const refused = await worker.call('POST', '/connectors', { name: 'inventory', config: { ...config, 'snapshot.mode': 'always' } });
    assert.equal(refused.status, 400);
    assert.match((refused.body as { message: string }).message, /snapshot\.mode/);

    const created = await worker.call('POST', '/connectors', { name: 'inventory', config });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitForState(worker, 'inventory', 'RUNNING', 60_000);
    await db.query(`insert into ${schema}.users (name) values ('carol')`);
    const topic = `${prefix}.${schema}.users`;
    const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 3, timeoutMs: 60_000 }, [topic]);
    // The snapshot reads beside the stream: the insert may come first.
    const rows = records.map((r) => [(r.value as { op: string }).op, (r.value as { after: { id: number; name: string } }).after] as const);
    assert.deepEqual(rows.sort((a, b) => a[1].id - b[1].id), [['r', { id: 1, name: 'alice' }], ['r', { id: 2, name: 'bob' }], ['c', { id: 3, name: 'carol' }]]);

    // Debezium's JDBC sink config, as its documentation writes it, applies the topic to a table.
    const sink: Record<string, string> = {
      'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
      'tasks.max': '1',
      'connection.url': `jdbc:postgresql://${pg.hostname}:${pg.port}${pg.pathname}`,
      'connection.username': decodeURIComponent(pg.username),
      'connection.password': '${env:WT_PG_PASSWORD}',
      topics: topic,
      'insert.mode': 'upsert',
      'delete.enabled': 'true',
      'primary.key.mode': 'record_key',
      'schema.evolution': 'basic',
      'collection.name.format': `${schema}_target.\${source.table}`,
      'key.converter': 'io.confluent.connect.avro.AvroConverter',
      'key.converter.schema.registry.url': services.schemaRegistryUrl,
      'value.converter': 'io.confluent.connect.avro.AvroConverter',
      'value.converter.schema.registry.url': services.schemaRegistryUrl,
    };
    const sinkReport = (await worker.call('PUT', '/connector-plugins/io.debezium.connector.jdbc.JdbcSinkConnector/config/validate', { ...sink, 'insert.mode': 'update', 'primary.key.mode': 'none', 'connection.pool.max_size': '32' }))
      .body as { name: string; error_count: number; configs: Array<{ value: { name: string; errors: string[] } }> };
    assert.equal(sinkReport.name, 'io.debezium.connector.jdbc.JdbcSinkConnector');
    assert.deepEqual(sinkReport.configs.filter((c) => c.value.errors.length > 0).map((c) => c.value.name).sort(), ['connection.pool.max_size', 'insert.mode', 'primary.key.mode']);
    assert.equal(sinkReport.error_count, 3);
    const sinkCreated = await worker.call('POST', '/connectors', { name: 'users-sink', config: sink });
    assert.equal(sinkCreated.status, 201, JSON.stringify(sinkCreated.body));
    assert.equal((sinkCreated.body as { type: string }).type, 'sink');
    await assertSameRows(db, `${schema}.users`, `${schema}_target.users`, { timeoutMs: 60_000 });
    await db.query(`update ${schema}.users set name = 'bobby' where id = 2`);
    await db.query(`delete from ${schema}.users where id = 1`);
    await db.query(`insert into ${schema}.users (name) values ('dave')`);
    assert.equal(await assertSameRows(db, `${schema}.users`, `${schema}_target.users`, { timeoutMs: 60_000 }), 3);
    assert.equal((await worker.call('DELETE', '/connectors/users-sink')).status, 204);
    assert.equal((await worker.call('DELETE', '/connectors/inventory')).status, 204);
  } finally {
    const stopped = await worker.process.stop('SIGTERM');
    assert.equal(stopped.code, 0, worker.process.output.slice(-3000));
  }
});
