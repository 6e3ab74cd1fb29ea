// The slot's confirmed position against the position in Kafka at start: an idle period, during
// which walcast confirmed WAL that held nothing to publish, is no gap; a slot ahead of what the
// offsets topic records is one, and only then does walcast say so at level error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('positions', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key)`);
    await db.query(`create table public.${schema}_unpublished (id int)`);
  },
  teardown: async (db) => {
    await db.query(`drop table if exists public.${schema}_unpublished`);
  },
});
const { schema, slot, prefix } = it;
const { db } = it;
const offsetsTopic = `${prefix}-offsets`;
const sourceId = `walcast-${prefix}-${slot}`;
const GAP = 'the slot has confirmed more than Kafka holds';
const gapLines = (walcast: WalcastProcess) => walcast.lines.filter((l) => l.msg.startsWith(GAP) || l.msg.startsWith('the slot has confirmed past'));

/** Writes an offset record as another cluster's offsets topic (or a restored backup) would hold it. */
async function writeOffsetRecord(value: string): Promise<void> {
  const producer = new Kafka({ brokers: services.kafkaBrokers, clientId: 'positions-test', logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic: offsetsTopic, messages: [{ key: sourceId, value }] });
  await producer.disconnect();
}

test('a restart after an idle period reports no gap: idle confirmations are recorded in Kafka', async () => {
  // Positions without events are recorded at most once per status interval.
  let walcast = new WalcastProcess(it.env({ WALCAST_PG_STATUS_INTERVAL_MS: '500' }));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (1)`);
  await it.waitForAck(db, await it.currentLsn(db));
  // Idle for walcast: WAL moves only through a table outside the publication.
  await db.query(`insert into public.${schema}_unpublished select generate_series(1, 1000)`);
  await it.waitForAck(db, await it.currentLsn(db));
  assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  // Nothing moves the slot while walcast is down (once it runs again, idle WAL may move it on).
  const confirmedAtStop = await it.confirmedLsn(db);

  walcast = new WalcastProcess(it.env());
  try {
    const streaming = await walcast.waitForStreaming();
    assert.deepEqual(gapLines(walcast), [], 'an idle confirmation must not be reported as a gap');
    assert.equal(streaming.startLsn, confirmedAtStop, 'resumes where the slot is, which Kafka records');
  } finally {
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
});

test('a slot ahead of the offsets topic is reported as a gap, at level error', async () => {
  await writeOffsetRecord(JSON.stringify({ v: 2, position: { lsn: '0/1', txId: null }, tsMs: Date.now() }));
  const walcast = new WalcastProcess(it.env());
  try {
    await walcast.waitForStreaming();
    const lines = gapLines(walcast);
    assert.equal(lines.length, 1, walcast.output.slice(-2000));
    assert.equal(lines[0]!.level, 50, 'level error');
    assert.equal(lines[0]!.msg.startsWith(GAP), true);
    assert.equal(lines[0]!.kafkaOffset, '0/1');
  } finally {
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
});

test('behind a record of earlier builds, which did not record idle confirmations: a warning that says so, not an error', async () => {
  await writeOffsetRecord(JSON.stringify({ lsn: '0/1', txId: 7, tsMs: Date.now() }));
  const walcast = new WalcastProcess(it.env());
  try {
    await walcast.waitForStreaming();
    const lines = gapLines(walcast);
    assert.equal(lines.length, 1, walcast.output.slice(-2000));
    assert.equal(lines[0]!.level, 40, 'level warn');
    assert.match(lines[0]!.msg, /earlier walcast version/);
    await db.query(`insert into ${schema}.t values (2)`);
    await it.waitForAck(db, await it.currentLsn(db));
  } finally {
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
});
