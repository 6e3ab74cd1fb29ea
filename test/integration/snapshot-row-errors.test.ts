// Snapshot rows follow the stream's rules (issue 14): a value beyond its column's declared type
// widens the column and arrives intact, and a row that cannot be published (over the topic's
// max.message.bytes) goes by WALCAST_ERRORS_TOLERANCE: a dead letter with op "r" under all, exit 7
// naming table and key under none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { capturedSchema, type CapturedSchema } from '../helpers/capture.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { loadServices } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();

/** 20 rows: row 2 holds values beyond the declared types, row 3 a 1.2 MB body (over Kafka's 1 MiB default). */
const setup = (it: () => CapturedSchema) => async (db: pg.Client): Promise<void> => {
  const { schema } = it();
  await db.query(`create table ${schema}.s (id int primary key, a int[], n numeric(6,2), body text)`);
  await db.query(`insert into ${schema}.s select g, array[g], g / 4.0, 'row ' || g from generate_series(1, 20) g`);
  await db.query(`update ${schema}.s set a = '{{1,2},{3,NULL}}', n = 'NaN' where id = 2`);
  await db.query(`update ${schema}.s set body = (select string_agg(md5(i::text), '') from generate_series(1, 37500) i) where id = 3`);
};
const all: CapturedSchema = capturedSchema('snaprowall', { setup: setup(() => all) });
const none: CapturedSchema = capturedSchema('snaprownone', { setup: setup(() => none) });

test('snapshot under tolerance all: widened values arrive intact, the oversized row is dead-lettered as op r', async (t) => {
  const topic = all.topic('s');
  const dlq = `${all.prefix}-dlq`;
  const walcast = new WalcastProcess(all.env({ WALCAST_SNAPSHOT_MODE: 'initial', WALCAST_ERRORS_TOLERANCE: 'all' }));
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForLog((l) => l.msg === 'snapshot complete', 120_000, 'snapshot complete');
  await all.waitForAck(all.db, await all.currentLsn(all.db));
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 20, jsonTopics: [dlq] }, [topic, dlq]);
  const reads = records.filter((r) => r.topic === topic);
  assert.deepEqual(reads.map((r) => (r.value as { op: string }).op), Array(19).fill('r'));
  assert.deepEqual(reads.map((r) => r.key!.id).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 20 }, (_, i) => i + 1).filter((id) => id !== 3));
  const row2 = reads.find((r) => r.key!.id === 2)!.value!.after as Record<string, unknown>;
  assert.deepEqual(row2, { id: 2, a: [[1, 2], [3, null]], n: 'NaN', body: 'row 2' });
  const row4 = reads.find((r) => r.key!.id === 4)!.value!.after as Record<string, unknown>;
  assert.deepEqual(row4, { id: 4, a: [4], n: '1.00', body: 'row 4' });
  const letters = records.filter((r) => r.topic === dlq);
  assert.equal(letters.length, 1);
  assert.deepEqual(letters[0]!.key, { id: '3' });
  assert.equal(letters[0]!.headers!['__connect.errors.stage'], 'KAFKA_PRODUCE');
  const value = letters[0]!.value as { op: string; before: unknown; after: Record<string, string>; truncated: Record<string, number> };
  assert.equal(value.op, 'r');
  assert.equal(value.before, null);
  assert.deepEqual(value.truncated, { 'after.body': 1_200_000 });
  assert.equal(value.after.n, '0.75');
  assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
});

test('snapshot under tolerance none: the oversized row stops walcast with exit 7 naming table and key', async (t) => {
  const walcast = new WalcastProcess(none.env({ WALCAST_SNAPSHOT_MODE: 'initial' }));
  t.after(() => walcast.stop('SIGKILL'));
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    walcast.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`walcast did not exit:\n${walcast.output.slice(-3000)}`)), 120_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(exit.code, 7, walcast.output.slice(-3000));
  const fatal = walcast.lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1);
  for (const part of [`table ${none.schema}.s`, 'key {"id":"3"}', 'largest column is body (1200000 bytes)', 'max.message.bytes']) {
    assert.ok(fatal[0]!.msg.includes(part), `the message names ${part}: ${fatal[0]!.msg}`);
  }
});
