// Exactly once under crashes: steady multi-statement transactions while walcast is killed with
// SIGKILL at random moments and restarted; afterwards every committed change is in Kafka once,
// in commit order per key (checked by an independent reader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('eo', {
  setup: async (db) => {
    await db.query(`create table ${schema}.items (id bigint primary key, txn int not null)`);
    await db.query(`create table ${schema}.counters (k int primary key, n int not null)`);
    await db.query(`insert into ${schema}.counters select k, 0 from generate_series(0, ${KEYS - 1}) k`);
  },
});
const { schema, prefix } = it;
const KEYS = 5;
// Small Kafka transactions so that kills land between, during and after commits.
const env = it.env({ WALCAST_BATCH_MAX_EVENTS: '50' });

const { db } = it;

test('kill -9 at random moments loses nothing and duplicates nothing', async () => {
  // The slot must exist before the first write: earlier changes belong to a snapshot, not the stream.
  let walcast = new WalcastProcess(env);
  await walcast.waitForStreaming();
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  let committed = 0;
  let nextItem = 0;
  let writing = true;
  const writes = (async () => {
    while (writing) {
      const txn = committed;
      await writer.query('begin');
      for (let i = 0; i < 3; i++) await writer.query(`insert into ${schema}.items values ($1, $2)`, [nextItem + i, txn]);
      await writer.query(`update ${schema}.counters set n = n + 1 where k = $1`, [txn % KEYS]);
      await writer.query('commit');
      nextItem += 3;
      committed += 1;
    }
  })();

  const kills = 4;
  for (let k = 0; k < kills; k++) {
    // A random instant: before, during or after a Kafka commit.
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1200));
    await walcast.stop('SIGKILL');
    walcast = new WalcastProcess(env);
    await walcast.waitForStreaming();
  }
  writing = false;
  await writes;
  await writer.end();
  assert.ok(committed > 20, `writer committed only ${committed} transactions`);

  await it.waitForAck(db, await it.currentLsn(db));
  const stopped = await walcast.stop('SIGTERM');
  assert.equal(stopped.code, 0);

  const expected = committed * 3 + committed;
  const records = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: expected, timeoutMs: 90_000 },
    [`${prefix}.${schema}.items`, `${prefix}.${schema}.counters`],
  );
  // Nothing beyond the expected count either: read on until the topics are drained.
  const all = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 60_000 },
    [`${prefix}.${schema}.items`, `${prefix}.${schema}.counters`],
  );
  assert.equal(records.length, expected);
  assert.equal(all.length, expected, 'no duplicates after the expected records');

  const itemIds = all.filter((r) => r.topic.endsWith('.items')).map((r) => Number(r.key!.id));
  assert.equal(new Set(itemIds).size, itemIds.length, 'each item exactly once');
  assert.deepEqual([...itemIds].sort((a, b) => a - b), Array.from({ length: committed * 3 }, (_, i) => i));

  for (let k = 0; k < KEYS; k++) {
    const ns = all.filter((r) => r.topic.endsWith('.counters') && r.key!.k === k).map((r) => (r.value!.after as { n: number }).n);
    assert.deepEqual(ns, Array.from({ length: ns.length }, (_, i) => i + 1), `key ${k}: updates in commit order, once each`);
  }
  // 4 SIGKILLs, then a clean stop: all must have happened for the test to mean anything.
  assert.equal(kills, 4);
});
