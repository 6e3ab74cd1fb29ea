// Two `walcast worker` processes sharing a config topic split its connectors through Kafka's group
// protocol (one Debezium PostgreSQL connector on each), and either answers for both (configs,
// statuses with the other's worker_id). kill -9 of one moves its connector to the other, and the
// independent read_committed reader sees every row of both tables exactly once. (A worker
// restarted alone resuming its connectors from the config topic: worker-api.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { debeziumDatabaseSettings, startWorker, type RunningWorker } from '../helpers/worker.ts';
import { ASSIGNMENT_PARTITIONS, slotOf } from '../../src/worker/membership.ts';

const services = loadServices();
const it = capturedSchema('wgrp', {
  setup: async (db) => {
    for (const table of ['a', 'b']) await db.query(`create table ${it.schema}.${table} (id int primary key)`);
  },
  teardown: async (db) => {
    for (const table of ['a', 'b']) {
      await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [`${it.slot}_${table}`]).catch(() => undefined);
      await db.query(`drop publication if exists "${it.slot}_${table}"`).catch(() => undefined);
    }
  },
});
const { schema, slot, prefix } = it;

/** Two connector names on slots of different parity: with two workers, one runs on each. */
function namesOnBothWorkers(): [string, string] {
  const names = Array.from({ length: 20 }, (_, i) => `${prefix}-c${i}`);
  const even = names.find((n) => slotOf(n, ASSIGNMENT_PARTITIONS) % 2 === 0)!;
  const odd = names.find((n) => slotOf(n, ASSIGNMENT_PARTITIONS) % 2 === 1)!;
  return [even, odd];
}

function debezium(table: string): Record<string, string> {
  const url = new URL(services.pgUrl);
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    ...debeziumDatabaseSettings(url, '${env:WT_PG_PASSWORD}'),
    'topic.prefix': prefix,
    'table.include.list': `${schema}.${table}`,
    'slot.name': `${slot}_${table}`,
    'publication.name': `${slot}_${table}`,
    'publication.autocreate.mode': 'filtered',
    'snapshot.mode': 'initial',
  };
}

interface Status {
  connector: { state: string; worker_id: string };
}

/** Waits until `via` reports each connector RUNNING; resolves with the worker_id of each. */
async function running(via: RunningWorker, names: readonly string[], timeoutMs = 60_000): Promise<string[]> {
  let last: unknown[] = [];
  try {
    return await waitFor(`${names.join(', ')} RUNNING`, async () => {
      last = await Promise.all(names.map(async (n) => (await via.call('GET', `/connectors/${n}/status`)).body));
      const statuses = last as Status[];
      return statuses.every((s) => s.connector?.state === 'RUNNING') ? statuses.map((s) => s.connector.worker_id) : undefined;
    }, timeoutMs, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last statuses ${JSON.stringify(last)}\n${via.process.output.slice(-3000)}`, { cause: error });
  }
}

test('two workers split the connectors; kill -9 of one moves its connector; every row arrives once', async () => {
  const env = {
    WALCAST_CONFIG_STORAGE_TOPIC: `walcast-configs-${uniqueSuffix()}`,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    // The broker's group.min.session.timeout.ms: how soon a killed worker's connectors move.
    WALCAST_WORKER_SESSION_TIMEOUT_MS: '6000',
    WT_PG_PASSWORD: decodeURIComponent(new URL(services.pgUrl).password),
  };
  const first = await startWorker(env);
  const second = await startWorker(env);
  const workers = [first, second];
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  let nextId = 0;
  const write = async (rows: number): Promise<void> => {
    for (let i = 0; i < rows; i++) {
      nextId += 1;
      await writer.query(`insert into ${schema}.a values ($1); insert into ${schema}.b values ($1)`.replaceAll('$1', String(nextId)));
    }
  };
  try {
    const [nameA, nameB] = namesOnBothWorkers();
    // Created through different workers: both learn of both from the config topic.
    assert.equal((await first.call('POST', '/connectors', { name: nameA, config: debezium('a') })).status, 201);
    assert.equal((await second.call('POST', '/connectors', { name: nameB, config: debezium('b') })).status, 201);
    assert.deepEqual((await second.call('GET', '/connectors')).body, [nameA, nameB].sort());
    // The other worker reads it from the topic a moment later.
    const configB = await waitFor(`${nameB} on the first worker`, async () => {
      const { status, body } = await first.call('GET', `/connectors/${nameB}/config`);
      return status === 200 ? (body as Record<string, string>) : undefined;
    }, 10_000, 50);
    assert.equal(configB['table.include.list'], `${schema}.b`);

    const owners = await running(first, [nameA, nameB]);
    assert.notEqual(owners[0], owners[1], 'each worker runs one connector');
    assert.deepEqual(await running(second, [nameA, nameB]), owners, 'both workers report the same owners (status topic)');
    await write(20);

    // kill -9 the worker running nameB; its connector starts on the survivor.
    const victim = workers.find((w) => w.base === `http://${owners[1]}`)!;
    const survivor = victim === first ? second : first;
    const writing = write(30);
    await victim.process.stop('SIGKILL');
    await writing;
    const survivorId = new URL(survivor.base).host;
    await waitFor(`${nameB} to run on the survivor`, async () => {
      const s = (await survivor.call('GET', `/connectors/${nameB}/status`)).body as Status;
      return s.connector.state === 'RUNNING' && s.connector.worker_id === survivorId ? true : undefined;
    }, 60_000, 100);
    await write(10);

    // Every row of both tables, each exactly once, as a read_committed reader sees them.
    const topics = [`${prefix}.${schema}.a`, `${prefix}.${schema}.b`];
    const total = 2 * nextId;
    await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: total, timeoutMs: 60_000 }, topics);
    const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 60_000, requireComplete: true }, topics);
    for (const topic of topics) {
      const ids = records.filter((r) => r.topic === topic && r.value !== null).map((r) => (r.value as { after: { id: number } }).after.id).sort((x, y) => x - y);
      assert.deepEqual(ids, Array.from({ length: nextId }, (_, i) => i + 1), `${topic}: every row once`);
    }

    for (const name of [nameA, nameB]) assert.equal((await survivor.call('DELETE', `/connectors/${name}`)).status, 204);
    assert.equal((await survivor.process.stop('SIGTERM')).code, 0, survivor.process.output.slice(-3000));
  } finally {
    await writer.end();
    for (const w of workers) await w.process.stop('SIGTERM').catch(() => undefined);
  }
});
