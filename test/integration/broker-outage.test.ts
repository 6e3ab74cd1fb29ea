// With the Kafka broker stopped, walcast acknowledges nothing new to the slot; when the broker
// returns, every change made meanwhile arrives (once).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { startService, stopService } from '../helpers/service-control.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const schema = `it_outage_${id}`;
const slot = `it_outage_${id}`;
const prefix = `itoutage${id.replace(/_/g, '')}`;
const db = new pg.Client({ connectionString: services.pgUrl });

async function confirmedFlush(): Promise<string> {
  const r = await db.query('select confirmed_flush_lsn::text as l from pg_replication_slots where slot_name = $1', [slot]);
  return r.rows[0].l as string;
}

before(async () => {
  await db.connect();
  await db.query(`create schema ${schema}`);
  await db.query(`create table ${schema}.t (id int primary key, v text)`);
});

after(async () => {
  await startService('kafka');
  await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [slot]).catch(() => undefined);
  await db.query(`drop publication if exists ${slot}`).catch(() => undefined);
  await db.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
  await db.end();
});

test('broker down: the slot does not move; broker back: all changes arrive', async () => {
  const walcast = new WalcastProcess({
    WALCAST_PG_URL: services.pgUrl,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: `${schema}.*`,
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_HTTP_PORT: '0',
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_PG_STATUS_INTERVAL_MS: '500',
  });
  try {
    await walcast.waitForStreaming();
    await db.query(`insert into ${schema}.t select g, 'before ' || g from generate_series(1, 10) g`);
    const afterFirst = (await db.query('select pg_current_wal_lsn()::text as l')).rows[0].l as string;
    await waitFor('first batch acknowledged', async () => {
      const r = await db.query('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [afterFirst, slot]);
      return r.rows[0]?.ok ? true : undefined;
    });

    await stopService('kafka');
    const before = await confirmedFlush();
    await db.query(`insert into ${schema}.t select g, 'during ' || g from generate_series(11, 60) g`);
    await db.query(`update ${schema}.t set v = v || ' updated' where id <= 5`);
    // Several status intervals (500 ms) and keepalives pass: the slot must stay where it was.
    const watchUntil = Date.now() + 6000;
    while (Date.now() < watchUntil) {
      assert.equal(await confirmedFlush(), before, 'slot advanced while the broker was down');
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
    const endLsn = (await db.query('select pg_current_wal_lsn()::text as l')).rows[0].l as string;
    await waitFor('slot to advance after the broker returned', async () => {
      const r = await db.query('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [endLsn, slot]);
      return r.rows[0]?.ok ? true : undefined;
    }, 60_000);
  } finally {
    const stopped = await walcast.stop('SIGTERM');
    assert.equal(stopped.code, 0, walcast.output.slice(-2000));
  }
});
