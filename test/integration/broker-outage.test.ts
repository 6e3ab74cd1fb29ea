// With the Kafka broker stopped, walcast acknowledges nothing new to the slot; when the broker
// returns, every change made meanwhile arrives (once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { startService, stopService } from '../helpers/service-control.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('outage', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key, v text)`);
  },
  teardown: async () => {
    await startService('kafka');
  },
});
const { schema, prefix } = it;
const { db } = it;

test('broker down: the slot does not move; broker back: all changes arrive', async () => {
  const walcast = new WalcastProcess(it.env({ WALCAST_PG_STATUS_INTERVAL_MS: '500' }));
  try {
    await walcast.waitForStreaming();
    await db.query(`insert into ${schema}.t select g, 'before ' || g from generate_series(1, 10) g`);
    await it.waitForAck(db, await it.currentLsn(db));

    await stopService('kafka');
    const before = await it.confirmedLsn(db);
    await db.query(`insert into ${schema}.t select g, 'during ' || g from generate_series(11, 60) g`);
    await db.query(`update ${schema}.t set v = v || ' updated' where id <= 5`);
    // Several status intervals (500 ms) and keepalives pass: the slot must stay where it was.
    const watchUntil = Date.now() + 6000;
    while (Date.now() < watchUntil) {
      assert.equal(await it.confirmedLsn(db), before, 'slot advanced while the broker was down');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await startService('kafka');

    const records = await readTopics(
      { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 65, timeoutMs: 120_000 },
      [`${prefix}.${schema}.t`],
    );
    const ids = records.filter((r) => r.value?.op === 'c').map((r) => r.key!.id);
    assert.deepEqual(ids, Array.from({ length: 60 }, (_, i) => i + 1));
    assert.equal(records.filter((r) => r.value?.op === 'u').length, 5);
    await it.waitForAck(db, await it.currentLsn(db));
  } finally {
    const stopped = await walcast.stop('SIGTERM');
    assert.equal(stopped.code, 0, walcast.output.slice(-2000));
  }
});
