// The management API (port 8083 by default): Kafka Connect-shaped status, pause at a transaction
// boundary, resume, restart; Prometheus metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, waitFor } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('api', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key)`);
  },
});
const { schema, slot, prefix } = it;
const { db } = it;

test('status, pause, resume, restart and metrics', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const base = `http://127.0.0.1:${port}`;
  const walcast = new WalcastProcess(it.env({ WALCAST_HTTP_PORT: String(port), WALCAST_HTTP_HOST: '127.0.0.1' }));
  const state = async (): Promise<string> => ((await (await fetch(`${base}/connectors/${prefix}/status`)).json()) as { connector: { state: string } }).connector.state;
  const topic = it.topic('t');
  const read = (count: number) => readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count, timeoutMs: 30_000 }, [topic]);
  try {
    await walcast.waitForStreaming();
    assert.equal(await state(), 'RUNNING');
    assert.equal((await fetch(`${base}/ready`)).status, 200);
    assert.deepEqual(await (await fetch(`${base}/connectors`)).json(), [prefix]);

    await db.query(`insert into ${schema}.t values (1)`);
    assert.equal((await read(1)).length, 1);

    assert.equal((await fetch(`${base}/connectors/${prefix}/pause`, { method: 'PUT' })).status, 202);
    await waitFor('PAUSED', async () => ((await state()) === 'PAUSED' ? true : undefined));
    await db.query(`insert into ${schema}.t values (2)`);
    const lsn = await it.currentLsn(db);
    // Paused: for a few status intervals neither Kafka nor the slot moves past the insert.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const r = await db.query('select confirmed_flush_lsn >= $1::pg_lsn as past from pg_replication_slots where slot_name = $2', [lsn, slot]);
      assert.equal(r.rows[0].past, false, 'the slot advanced while paused');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal((await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 30_000 }, [topic])).length, 1);

    assert.equal((await fetch(`${base}/connectors/${prefix}/resume`, { method: 'PUT' })).status, 202);
    assert.deepEqual((await read(2)).map((r) => r.key!.id), [1, 2]);
    assert.equal(await state(), 'RUNNING');

    assert.equal((await fetch(`${base}/connectors/${prefix}/restart`, { method: 'POST' })).status, 204);
    await waitFor('a second streaming session', () => (walcast.lines.filter((l) => l.msg === 'streaming').length >= 2 ? true : undefined), 30_000);
    await db.query(`insert into ${schema}.t values (3)`);
    assert.deepEqual((await read(3)).map((r) => r.key!.id), [1, 2, 3], 'nothing lost or doubled across the restart');

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const series = (name: string, value: string): RegExp => new RegExp(`^${name}\\{connector="${prefix}"\\} ${value}$`, 'm');
    assert.match(metrics, series('walcast_events_total', '3'));
    assert.match(metrics, series('walcast_restarts_total', '1'));
    assert.match(metrics, series('walcast_up', '1'));
    assert.match(metrics, series('walcast_acknowledged_lsn', '\\d+'));
  } finally {
    const stopped = await walcast.stop('SIGTERM');
    assert.equal(stopped.code, 0, walcast.output.slice(-2000));
  }
});
