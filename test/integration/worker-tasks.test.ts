// tasks.max in `walcast worker`: a Debezium JDBC sink config with tasks.max=2 runs two consumers
// of its group on a two-partition topic, both RUNNING in the status, and applies every change
// exactly once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { assertSameRows, auditVersions, reapplied } from '../helpers/sink.ts';
import { startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';

const services = loadServices();
const it = capturedSchema('wtasks', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.items (id bigint primary key, version int not null, note text)`);
    await db.query(`create schema ${it.schema}_target`);
    await db.query(`create table ${it.schema}_target.items (id bigint primary key, version int not null, note text)`);
    await auditVersions(db, `${it.schema}_target.items`);
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
      'database.hostname': pgUrl.hostname,
      'database.port': pgUrl.port,
      'database.user': decodeURIComponent(pgUrl.username),
      'database.password': decodeURIComponent(pgUrl.password),
      'database.dbname': pgUrl.pathname.slice(1),
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
      'connection.url': `jdbc:postgresql://${pgUrl.host}${pgUrl.pathname}`,
      'connection.username': decodeURIComponent(pgUrl.username),
      'connection.password': decodeURIComponent(pgUrl.password),
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

