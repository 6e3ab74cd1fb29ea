// Incremental snapshots while streaming, asked for as Debezium's execute-snapshot (here through
// `walcast snapshot`, which posts it to the management API): rows read in chunks reconciled with
// concurrent updates of the same keys end equal to the table; a filter limits the rows read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const ROWS = 100_000;
const it = capturedSchema('snapinc', {
  setup: async (db) => {
    await db.query(`create table ${schema}.inc (id int primary key, grp int not null, v text not null)`);
    await db.query(`insert into ${schema}.inc select g, g % 10, 'v' || g from generate_series(1, ${ROWS}) g`);
    await db.query(`create table ${schema}.sig (id int primary key)`);
    await db.query(`insert into ${schema}.sig select generate_series(1, 50)`);
  },
});
const { schema, prefix } = it;
const { db } = it;

test('an incremental snapshot under concurrent updates of the same keys ends equal to the table; its filter is applied', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = it.env({ WALCAST_SNAPSHOT_MODE: 'no_data', WALCAST_HTTP_PORT: String(port), WALCAST_HTTP_HOST: '127.0.0.1' });
  const walcast = new WalcastProcess(env);
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  let running = true;
  const touched = new Set<number>();
  try {
    await walcast.waitForStreaming();
    const base = `http://127.0.0.1:${port}/connectors/${prefix}/snapshots`;
    // JSON, as Connect's API takes it: a text/plain body (fetch's default for a string) is what an
    // HTML form can send cross-origin, and the API refuses it (415).
    const json = { 'content-type': 'application/json' };
    const refused = await fetch(base, { method: 'POST', headers: json, body: JSON.stringify({ 'data-collections': [`${schema}.missing`] }) });
    assert.equal(refused.status, 404);
    assert.match(((await refused.json()) as { message: string }).message, /not captured by this connector/);

    const load = (async () => {
      let n = 0;
      while (running) {
        n += 1;
        const id = 1 + ((n * 7919) % ROWS);
        touched.add(id);
        await writer.query(`update ${schema}.inc set v = 'u' || $1::text where id = $2`, [n, id]);
      }
    })();
    const cli = new WalcastProcess(env, ['snapshot', `${schema}.inc`, '--filter', `${schema}.inc=grp <> 3`]);
    const cliExit = await cli.exited;
    assert.equal(cliExit.code, 0, cli.output);
    assert.match(cli.output, /snapshot started/);
    const again = await fetch(base, { method: 'POST', headers: json, body: JSON.stringify({ 'data-collections': [`${schema}.inc`] }) });
    const done = walcast.waitForLog((l) => l.msg === 'snapshot complete', 120_000, 'snapshot complete');
    if (again.status !== 409) assert.fail(`a second snapshot while one runs: ${again.status}`);
    await done;
    running = false;
    await load;
    t.diagnostic(`${touched.size} keys updated while the snapshot ran`);
    await it.waitForAck(db, await it.currentLsn(db), 120_000);

    const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 120_000 }, [it.topic('inc')]);
    const reads = records.filter((r) => (r.value as { op?: string } | null)?.op === 'r');
    assert.ok(reads.every((r) => (r.value as { source: { snapshot: string } }).source.snapshot === 'incremental'), 'incremental markers');
    assert.ok(reads.every((r) => (r.value as { after: { grp: number } }).after.grp !== 3), 'the filter left grp 3 out');
    const replayed = new Map<number, string>();
    for (const r of records) {
      const v = r.value as { after: { id: number; v: string } | null } | null;
      if (v?.after) replayed.set(v.after.id, v.after.v);
    }
    const table = (await db.query<{ id: number; grp: number; v: string }>(`select id, grp, v from ${schema}.inc`)).rows;
    let expected = 0;
    for (const row of table) {
      if (row.grp === 3 && !touched.has(row.id)) {
        assert.equal(replayed.has(row.id), false, `row ${row.id} is filtered out and was never changed`);
        continue;
      }
      expected += 1;
      if (replayed.get(row.id) !== row.v) {
        const history = records.filter((r) => Number(r.key?.id) === row.id).map((r) => JSON.stringify({ offset: r.offset, partition: r.partition, op: (r.value as { op?: string } | null)?.op, after: (r.value as { after?: unknown } | null)?.after, source: (r.value as { source?: { lsn?: unknown; txId?: unknown; snapshot?: unknown } } | null)?.source }));
        assert.fail(`row ${row.id}: the newest value, never an older snapshot copy: table ${row.v}, topic ${replayed.get(row.id)}\n${history.join('\n')}`);
      }
    }
    assert.equal(replayed.size, expected);
  } finally {
    running = false;
    await writer.end();
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
  }
});

test('Debezium\'s Kafka signal: execute-snapshot keyed by the connector\'s name starts a snapshot; other keys are ignored', async () => {
  const signalTopic = `${prefix}-signals`;
  const walcast = new WalcastProcess(it.env({ WALCAST_SNAPSHOT_MODE: 'no_data', WALCAST_SIGNAL_KAFKA_TOPIC: signalTopic }));
  const producer = new Kafka({ brokers: services.kafkaBrokers, clientId: 'signal-test', logLevel: logLevel.NOTHING }).producer();
  try {
    await walcast.waitForStreaming();
    await producer.connect();
    const signal = (key: string) => ({ key, value: JSON.stringify({ type: 'execute-snapshot', data: { 'data-collections': [`${schema}.sig`], type: 'INCREMENTAL' } }) });
    // The consumer joins its group after "streaming": resend until the snapshot starts.
    let started = false;
    for (let attempt = 0; attempt < 60 && !started; attempt++) {
      await producer.send({ topic: signalTopic, messages: [signal('another-connector')] });
      await producer.send({ topic: signalTopic, messages: [signal(prefix)] });
      started = await walcast.waitForLog((l) => l.msg === 'snapshot starting', 1000, 'snapshot starting').then(() => true, () => false);
    }
    assert.ok(started, walcast.output.slice(-2000));
    await walcast.waitForLog((l) => l.msg === 'snapshot complete', 60_000, 'snapshot complete');
    await it.waitForAck(db, await it.currentLsn(db), 60_000);
    const reads = (await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 60_000 }, [it.topic('sig')])).filter((r) => (r.value as { op?: string } | null)?.op === 'r');
    assert.deepEqual([...new Set(reads.map((r) => r.key!.id))].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 50 }, (_, i) => i + 1));
    // Another connector's execute-snapshot, then one of ours: ours is handled, the other is not.
    const snapshotsBefore = walcast.lines.filter((l) => l.msg === 'snapshot starting').length;
    await producer.send({ topic: signalTopic, messages: [signal('another-connector'), { key: prefix, value: JSON.stringify({ type: 'pause-snapshot' }) }] });
    await walcast.waitForLog((l) => l.msg === 'Kafka signal' && l.outcome === 'skipped: no snapshot is running', 30_000, 'the pause-snapshot signal');
    assert.equal(walcast.lines.filter((l) => l.msg === 'snapshot starting').length, snapshotsBefore, 'the other connector\'s signal started nothing');
  } finally {
    await producer.disconnect();
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
  }
});
