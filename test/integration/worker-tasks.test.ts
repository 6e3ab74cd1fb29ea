// tasks.max in `walcast worker`: a Debezium JDBC sink config with tasks.max=2 runs two consumers
// of its group on a two-partition topic, both RUNNING in the status, and applies every change
// exactly once; a JDBC source config with two tables and tasks.max=2 polls them in two tasks and
// delivers every row once, also after tasks.max changes and a table moves to another task (whose
// former task's zombie is fenced).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { assertSameRows, auditVersions, reapplied } from '../helpers/sink.ts';
import { debeziumDatabaseSettings, incrementingJsonSource, jdbcConnectionSettings, startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';
import { offsetRecord } from '../../src/kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer } from '../../src/kafka/producer.ts';
import { PLAINTEXT } from '../../src/kafka/security.ts';
import { createLogger } from '../../src/log.ts';
import { pollOffsetKey, pollTransactionalId } from '../../src/source/poll/tasks.ts';

const services = loadServices();
const it = capturedSchema('wtasks', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.items (id bigint primary key, version int not null, note text)`);
    await db.query(`create schema ${it.schema}_target`);
    await db.query(`create table ${it.schema}_target.items (id bigint primary key, version int not null, note text)`);
    await auditVersions(db, `${it.schema}_target.items`);
    for (const t of ['a', 'b']) {
      await db.query(`create table ${it.schema}.${t} (id serial primary key, n int not null)`);
      await db.query(`insert into ${it.schema}.${t} (n) select g from generate_series(1, 50) g`);
    }
  },
  teardown: async (db) => {
    await db.query(`drop schema if exists ${it.schema}_target cascade`);
  },
});
const { db, schema, slot, prefix } = it;
const pgUrl = new URL(services.pgUrl);

let worker: RunningWorker | undefined;
async function theWorker(): Promise<RunningWorker> {
  worker ??= await startWorker({
    WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_SINK_OFFSETS_TABLE: `${schema}_target.walcast_sink_offsets`,
  });
  return worker;
}
after(async () => {
  const stopped = await worker?.process.stop('SIGTERM');
  if (stopped) assert.equal(stopped.code, 0, worker?.process.output.slice(-3000));
});

interface StatusBody {
  connector: { state: string };
  tasks: Array<{ id: number; state: string; worker_id: string }>;
  walcast: { sink?: { partitions: string[] } } | null;
}

/** Waits until the connector shows `count` tasks, every one RUNNING; returns that status. */
async function runningTasks(w: RunningWorker, name: string, count: number): Promise<StatusBody> {
  let last: unknown;
  try {
    return await waitFor(`${name}: ${count} tasks RUNNING`, async () => {
      const body = (last = (await w.call('GET', `/connectors/${name}/status`)).body) as StatusBody;
      return body.tasks.length === count && body.tasks.every((t) => t.state === 'RUNNING') ? body : undefined;
    }, 60_000, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status ${JSON.stringify(last)}\nworker log:\n${w.process.output.slice(-4000)}`, { cause: error });
  }
}

test('a sink with tasks.max=2: two consumers RUNNING, every change applied exactly once', async () => {
  const w = await theWorker();
  const topic = `${prefix}.${schema}.items`;
  const source = await w.call('POST', '/connectors', {
    name: `cdc-${prefix}`,
    config: {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      ...debeziumDatabaseSettings(pgUrl),
      'topic.prefix': prefix,
      'table.include.list': `${schema}\\.items`,
      'slot.name': slot,
      'publication.name': slot,
      'snapshot.mode': 'no_data',
      'topic.creation.default.partitions': '2',
    },
  });
  assert.equal(source.status, 201, JSON.stringify(source.body));
  await waitForState(w, `cdc-${prefix}`, 'RUNNING');
  // The CDC source runs one task whatever tasks.max says (a slot has one reader).
  assert.equal(((await w.call('GET', `/connectors/cdc-${prefix}/tasks`)).body as unknown[]).length, 1);

  // Rows already in the topic: the first task to join starts on them, and the second task's join
  // moves a partition over while batches are applied (the owner epochs fence the move).
  await db.query(`insert into ${schema}.items select g, 1, 'n' || g from generate_series(1, 300) g`);
  await waitFor('the 300 inserts in Kafka', async () => {
    const body = (await w.call('GET', `/connectors/cdc-${prefix}/status`)).body as { walcast: { events: number } | null };
    return (body.walcast?.events ?? 0) >= 300 ? true : undefined;
  }, 60_000, 100);

  const name = `sink-${prefix}`;
  const created = await w.call('POST', '/connectors', {
    name,
    config: {
      'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
      'tasks.max': '2',
      ...jdbcConnectionSettings(pgUrl, 'connection.username'),
      topics: topic,
      'insert.mode': 'upsert',
      'delete.enabled': 'true',
      'primary.key.mode': 'record_key',
      'collection.name.format': `${schema}_target.\${source.table}`,
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual((created.body as { tasks: unknown }).tasks, [{ connector: name, task: 0 }, { connector: name, task: 1 }]);
  const status = await runningTasks(w, name, 2);
  assert.deepEqual(status.tasks.map((t) => [t.id, t.worker_id]), [[0, new URL(w.base).host], [1, new URL(w.base).host]]);
  assert.deepEqual(((await w.call('GET', `/connectors/${name}/tasks`)).body as Array<{ id: unknown }>).map((t) => t.id), [{ connector: name, task: 0 }, { connector: name, task: 1 }]);
  assert.equal((await w.call('GET', `/connectors/${name}/tasks/1/status`)).status, 200);
  assert.equal((await w.call('GET', `/connectors/${name}/tasks/2/status`)).status, 404);

  // Keys spread over both partitions; every row changes in several transactions.
  for (let round = 0; round < 3; round++) {
    await db.query(`update ${schema}.items set version = version + 1, note = note || '.' where id % 3 <> ${round}`);
  }
  await db.query(`delete from ${schema}.items where id % 10 = 0`);
  assert.equal(await assertSameRows(db, `${schema}.items`, `${schema}_target.items`, { timeoutMs: 60_000 }), 270);
  assert.deepEqual(await reapplied(db, `${schema}_target.items`), [], 'no change applied twice');
  // Each partition was claimed by a task of its own, in the offsets table.
  const owners = await waitFor('a partition claimed by each task', async () => {
    const { rows } = await db.query<{ partition: number; owner: string }>(`select partition, owner from ${schema}_target.walcast_sink_offsets where group_id = $1 order by partition`, [`connect-${name}`]);
    return rows.length === 2 && rows[0]!.owner !== rows[1]!.owner ? rows : undefined;
  }, 20_000, 200);
  assert.deepEqual(owners.map((o) => o.owner.replace(/^.*\//, '')).sort(), ['task-0', 'task-1']);
  assert.deepEqual(((await w.call('GET', `/connectors/${name}/status`)).body as StatusBody).walcast?.sink?.partitions, [`${topic}/0`, `${topic}/1`]);
  assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
  assert.equal((await w.call('DELETE', `/connectors/cdc-${prefix}`)).status, 204);
});

test('a polling source with two tables and tasks.max=2: a task each, every row once, also after a table moves', async () => {
  const w = await theWorker();
  const name = `poll-${prefix}`;
  const config: Record<string, string> = {
    'connector.class': 'io.confluent.connect.jdbc.JdbcSourceConnector',
    'tasks.max': '2',
    ...jdbcConnectionSettings(pgUrl, 'connection.user'),
    'table.whitelist': `${schema}.a,${schema}.b`,
    ...incrementingJsonSource(prefix),
  };
  const created = await w.call('POST', '/connectors', { name, config });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await runningTasks(w, name, 2);
  const topics = [`${prefix}-a`, `${prefix}-b`];
  const ids = async (count: number): Promise<Record<string, number[]>> =>
    waitFor(`${count} records in each of ${topics.join(', ')}`, async () => {
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, jsonTopics: topics, timeoutMs: 30_000 }, topics);
      const by = Object.fromEntries(topics.map((t) => [t, records.filter((r) => r.topic === t).map((r) => (r.value as { id: number }).id)]));
      return topics.every((t) => by[t]!.length >= count) ? by : undefined;
    }, 60_000, 200);
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
  assert.deepEqual(await ids(50), { [topics[0]!]: range(50), [topics[1]!]: range(50) });
  // A cursor per table, whichever task polls it.
  assert.deepEqual((await w.call('GET', `/connectors/${name}/offsets`)).body, {
    offsets: [{ partition: { table: `${schema}.a` }, offset: { incrementing: 50 } }, { partition: { table: `${schema}.b` }, offset: { incrementing: 50 } }],
  });

  // Table b moves from task 1 to task 0 (tasks.max=1). A zombie of task 1 holds a transaction
  // open with a stale cursor of b: the next start must fence it before task 0 reads b's cursor.
  assert.equal((await w.call('PUT', `/connectors/${name}/stop`)).status, 204);
  await waitForState(w, name, 'STOPPED');
  const kafka = createKafka({ brokers: services.kafkaBrokers, clientId: 'zombie', security: PLAINTEXT, log: createLogger('fatal'), retries: 2 });
  const zombie = new KafkajsTransactionalProducer({ kafka, transactionalId: pollTransactionalId(name, 1), transactionTimeoutMs: 60_000 });
  await zombie.connect();
  await zombie.begin();
  await zombie.send([offsetRecord(`${prefix}-offsets`, pollOffsetKey(name, `${schema}.b`, false), { inc: '1' })]);
  assert.equal((await w.call('PATCH', `/connectors/${name}/config`, { 'tasks.max': '1' })).status, 200);
  assert.equal((await w.call('PUT', `/connectors/${name}/resume`)).status, 202);
  await runningTasks(w, name, 1);
  await assert.rejects(zombie.commit(), 'the zombie of task 1 is fenced');
  await zombie.disconnect().catch(() => undefined);
  for (const t of ['a', 'b']) await db.query(`insert into ${schema}.${t} (n) select g from generate_series(51, 60) g`);
  assert.deepEqual(await ids(60), { [topics[0]!]: range(60), [topics[1]!]: range(60) });
  assert.equal((await w.call('DELETE', `/connectors/${name}`)).status, 204);
});
