// Transactions open on walcast's topics when it starts: one that finishes in time must not hide
// walcast's own position (it would re-send, and duplicate, what it had delivered); one left open
// by another producer stops walcast with the way out, and nothing is lost once it is ended.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('opentx', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key)`);
  },
});
const { schema, prefix } = it;
const { db } = it;
const kafka = new Kafka({ brokers: services.kafkaBrokers, clientId: 'open-tx-test', logLevel: logLevel.NOTHING });
const offsetsTopic = `${prefix}-offsets`;

async function foreignOpenTransaction(transactionalId: string) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId, transactionTimeout: 300_000 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({ topic: offsetsTopic, messages: [{ key: 'another-source', value: '{}' }] });
  return { transaction, producer };
}

function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

async function insertedIds(): Promise<number[]> {
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 60_000 }, [it.topic('t')]);
  return records.filter((r) => r.value?.op === 'c').map((r) => r.key!.id as number);
}

test('a transaction still open on the offsets topic at start is waited for, and nothing is sent twice', async () => {
  let walcast = new WalcastProcess(it.env());
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t select generate_series(1, 20)`);
  await it.waitForAck(db, await it.currentLsn(db));
  // Another producer's transaction opens on the offsets partition; walcast commits after it, so
  // its newest offset record lies past that transaction's first offset (past the stable offset).
  const foreign = await foreignOpenTransaction(`${prefix}-foreign-a`);
  await db.query(`insert into ${schema}.t select generate_series(21, 40)`);
  await it.waitForAck(db, await it.currentLsn(db));
  assert.equal((await walcast.stop('SIGTERM')).code, 0);
  const delivered = lsnValue(await it.confirmedLsn(db));

  walcast = new WalcastProcess(it.env({ WALCAST_KAFKA_OPEN_TRANSACTION_WAIT_MS: '60000' }));
  try {
    // Whichever comes first: walcast waiting for the open transaction, or (were it not to wait)
    // walcast streaming from the position it could read past it.
    await walcast.waitForLog((l) => l.msg.startsWith('waiting for transactions open') || l.msg === 'streaming', 60_000, 'the wait or the start');
    await foreign.transaction.commit();
    const streaming = await walcast.waitForStreaming();
    // The position read back is the newest one walcast committed, not one hidden behind the
    // other transaction (the slot would mask that here; after a lost acknowledgement it would not).
    assert.ok(lsnValue(String(streaming.kafkaOffset)) >= delivered, `resumed from ${String(streaming.kafkaOffset)}, delivered up to ${delivered.toString(16)}`);
    await db.query(`insert into ${schema}.t select generate_series(41, 50)`);
    await it.waitForAck(db, await it.currentLsn(db));
    assert.deepEqual(await insertedIds(), Array.from({ length: 50 }, (_, i) => i + 1));
  } finally {
    await foreign.producer.disconnect();
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
});

test('a transaction another producer left open stops walcast with the command that ends it', async () => {
  const foreign = await foreignOpenTransaction(`${prefix}-foreign-b`);
  let walcast = new WalcastProcess(it.env({ WALCAST_KAFKA_OPEN_TRANSACTION_WAIT_MS: '1000' }));
  const exited = await walcast.exited;
  assert.equal(exited.code, 1, walcast.output.slice(-2000));
  assert.match(walcast.output, new RegExp(`kafka-transactions\\.sh --bootstrap-server \\S+ abort --topic ${offsetsTopic} --partition 0 --start-offset \\d+`));

  await foreign.transaction.abort();
  await foreign.producer.disconnect();
  await db.query(`insert into ${schema}.t select generate_series(51, 60)`);
  walcast = new WalcastProcess(it.env());
  try {
    await walcast.waitForStreaming();
    await it.waitForAck(db, await it.currentLsn(db));
    assert.deepEqual(await insertedIds(), Array.from({ length: 60 }, (_, i) => i + 1));
  } finally {
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
});
