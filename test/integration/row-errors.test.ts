// Rows walcast cannot publish (issue 14), against the real services: WALCAST_ERRORS_TOLERANCE=none
// stops once with exit code 7 and a message naming table, column, key and LSN, acknowledging
// nothing past the last delivered transaction; =all sends the row to the dead-letter topic with
// Kafka Connect's headers, in the same Kafka transaction as its neighbours, and goes on. A row over
// the topic's max.message.bytes is one of these, never a restart loop; compression lets it through
// when it compresses below the limit, with every codec the broker (which decompresses each batch it
// accepts) and the independent reader agree on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { capturedSchema, type CapturedSchema } from '../helpers/capture.ts';
import { readTopics, type ReadRecord } from '../helpers/avro-reader.ts';
import { loadServices } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();

const arrayTable = (it: () => CapturedSchema) => async (db: import('pg').Client): Promise<void> => {
  await db.query(`create table ${it().schema}.t (id int primary key, a int[])`);
};
const none: CapturedSchema = capturedSchema('rownone', { setup: arrayTable(() => none) });
const all: CapturedSchema = capturedSchema('rowall', { setup: arrayTable(() => all) });
const big: CapturedSchema = capturedSchema('rowbig', {
  setup: async (db) => {
    await db.query(`create table ${big.schema}.big (id int primary key, body text)`);
  },
});
const codecs: CapturedSchema = capturedSchema('rowzip', {
  setup: async (db) => {
    await db.query(`create table ${codecs.schema}.t (id int primary key, codec text, body text)`);
  },
});

async function setCompatibility(subject: string, level: string): Promise<void> {
  const response = await fetch(`${services.schemaRegistryUrl}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ compatibility: level }),
  });
  assert.equal(response.status, 200, await response.text());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs `sql` in a transaction of its own and returns that transaction's id. */
async function inTransaction(db: import('pg').Client, sql: string): Promise<string> {
  await db.query('begin');
  const { rows } = await db.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
  await db.query(sql);
  await db.query('commit');
  return rows[0]!.xid;
}

/**
 * Whether the (inactive) slot still holds transaction `xid`: what it has not confirmed is what a
 * restart streams again, so this is "nothing past the last delivered transaction was acknowledged".
 */
async function slotStillHolds(it: CapturedSchema, xid: string): Promise<boolean> {
  const { rows } = await it.db.query<{ n: string }>(
    `select count(*)::text as n from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2)
      where xid::text::bigint = ($3::xid8::text::bigint & 4294967295)`,
    [it.slot, it.slot, xid],
  );
  return Number(rows[0]!.n) > 0;
}

/** walcast's exit, or a failure with its output after `ms` (a loop would never exit). */
async function exitOf(walcast: WalcastProcess, ms = 120_000): Promise<{ code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`walcast did not exit within ${ms} ms:\n${walcast.output.slice(-3000)}`)), ms);
  });
  try {
    return await Promise.race([walcast.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lines walcast logs when a session fails and is restarted: a loop shows up as these. */
const restarts = (walcast: WalcastProcess): number => walcast.lines.filter((l) => /^(streaming interrupted|start failed)/.test(l.msg)).length;

test('tolerance none: a value made unencodable on purpose stops walcast once, exit 7, naming table and column; after the fix it resumes without loss', async (t) => {
  const { db, schema } = none;
  const topic = none.topic('t');
  let walcast = new WalcastProcess(none.env());
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (1, '{1,2}')`);
  await none.waitForAck(db, await none.currentLsn(db));
  // Made unencodable on purpose: under FULL compatibility the registry refuses the widened
  // version a 2-D value needs (arrays of any depth), so the value has no schema to go in.
  await setCompatibility(`${topic}-value`, 'FULL');
  const xid = await inTransaction(db, `insert into ${schema}.t values (2, '{{1,2},{3,NULL}}')`);

  const exit = await exitOf(walcast);
  assert.equal(exit.code, 7, walcast.output.slice(-3000));
  const fatal = walcast.lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1, walcast.output.slice(-3000));
  for (const part of [`table ${schema}.t`, 'column a (_int4)', 'key {"id":"2"}', 'LSN ', 'value "{{1,2},{3,NULL}}"', 'resumes there. Or set WALCAST_ERRORS_TOLERANCE=all', '/config/']) {
    assert.ok(fatal[0]!.msg.includes(part), `the message names ${part}: ${fatal[0]!.msg}`);
  }
  assert.equal(fatal[0]!.exitCode, 7);
  assert.equal(restarts(walcast), 0, 'stopped at once, no restart loop');
  t.diagnostic(`exit ${exit.code}: ${fatal[0]!.msg}`);
  assert.ok(await slotStillHolds(none, xid), 'the slot still holds the transaction: nothing past the last delivered one was acknowledged');

  // The fix the message names: let the subject evolve. The row arrives once, intact.
  await setCompatibility(`${topic}-value`, 'BACKWARD');
  walcast = new WalcastProcess(none.env());
  await walcast.waitForStreaming();
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2 }, [topic]);
  assert.deepEqual(records.map((r) => r.value!.after), [{ id: 1, a: [1, 2] }, { id: 2, a: [[1, 2], [3, null]] }]);
  assert.equal((await walcast.stop('SIGTERM')).code, 0);
});

test('tolerance all: the value lands in the dead-letter topic with Connect\'s headers while the rows after it keep flowing', async (t) => {
  const { db, schema } = all;
  const topic = all.topic('t');
  const dlq = `${all.prefix}-dlq`;
  const port = await freePort();
  const walcast = new WalcastProcess(all.env({ WALCAST_ERRORS_TOLERANCE: 'all', WALCAST_HTTP_PORT: String(port), WALCAST_HTTP_HOST: '127.0.0.1' }));
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (1, '{1}')`);
  await all.waitForAck(db, await all.currentLsn(db));
  await setCompatibility(`${topic}-value`, 'FULL');
  await db.query(`insert into ${schema}.t values (2, '{{1,2},{3,NULL}}')`);
  await db.query(`insert into ${schema}.t values (3, '{3}')`);
  // A poison row between two good ones of the same transaction: its dead letter goes in the same Kafka transaction.
  await db.query(`begin; insert into ${schema}.t values (4, '{4}'), (5, '{{5}}'), (6, '{6,NULL}'); commit;`);
  const end = await all.currentLsn(db);
  await all.waitForAck(db, end);

  const records = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 6, jsonTopics: [dlq] },
    [topic, dlq],
  );
  const changes = records.filter((r) => r.topic === topic);
  assert.deepEqual(changes.map((r) => r.value!.after), [{ id: 1, a: [1] }, { id: 3, a: [3] }, { id: 4, a: [4] }, { id: 6, a: [6, null] }]);
  // total_order stays gapless within the transaction that lost a row to the dead-letter topic.
  assert.deepEqual(changes.slice(2).map((r) => (r.value!.transaction as { total_order: number }).total_order), [1, 2]);
  const letters = records.filter((r) => r.topic === dlq) as Array<ReadRecord & { headers: Record<string, string> }>;
  assert.deepEqual(letters.map((r) => r.key), [{ id: '2' }, { id: '5' }]);
  assert.deepEqual(letters.map((r) => (r.value as { after: unknown }).after), [{ id: '2', a: '{{1,2},{3,NULL}}' }, { id: '5', a: '{{5}}' }]);
  for (const letter of letters) {
    assert.equal(letter.headers['__connect.errors.topic'], topic);
    assert.equal(letter.headers['__connect.errors.connector.name'], all.prefix);
    assert.equal(letter.headers['__connect.errors.task.id'], '0');
    assert.equal(letter.headers['__connect.errors.stage'], 'VALUE_CONVERTER');
    assert.equal(letter.headers['__connect.errors.exception.class.name'], 'WideningRefusedError');
    assert.match(letter.headers['__connect.errors.exception.message']!, /schema registry refused the widened version/);
    assert.ok(letter.headers['__connect.errors.exception.stacktrace']!.length > 0);
    assert.equal(letter.headers['walcast.errors.code'], 'WALCAST_INCOMPATIBLE_SCHEMA');
    assert.equal(letter.headers['walcast.errors.table'], `${schema}.t`);
    assert.equal(letter.headers['walcast.errors.column'], 'a');
    const value = letter.value as { op: string; after: Record<string, string>; source: { table: string; txId: number } };
    assert.equal(value.op, 'c');
    assert.equal(value.source.table, 't');
    assert.ok(value.source.txId > 0);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, new RegExp(`^walcast_dead_letter_records_total\\{connector="${all.prefix}"\\} 2$`, 'm'));
  assert.equal(walcast.lines.filter((l) => l.msg === 'row sent to the dead-letter topic (WALCAST_ERRORS_TOLERANCE=all)').length, 2);
  assert.equal(restarts(walcast), 0);
  assert.equal((await walcast.stop('SIGTERM')).code, 0);
});

test('a 3 MB row: exit 7 once under tolerance none (no restart loop); dead-lettered, cut to fit, under all; published whole with zstd', async (t) => {
  const { db, schema } = big;
  const topic = big.topic('big');
  const dlq = `${big.prefix}-dlq`;
  // 3.2 MB of hex digits: over the 1 MiB default even compressed (it compresses about 2:1).
  const hex = `(select string_agg(md5(i::text), '') from generate_series(1, 100000) i)`;

  let walcast = new WalcastProcess(big.env());
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  const xid = await inTransaction(db, `insert into ${schema}.big values (1, ${hex})`);
  const exit = await exitOf(walcast);
  assert.equal(exit.code, 7, walcast.output.slice(-3000));
  assert.equal(restarts(walcast), 0, 'no restart loop');
  const fatal = walcast.lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1);
  for (const part of [`table ${schema}.big`, 'key {"id":"1"}', `topic ${topic}`, 'max.message.bytes', 'largest column is body (3200000 bytes)', 'WALCAST_KAFKA_COMPRESSION', 'ALTER PUBLICATION', 'COMMIT; or set WALCAST_ERRORS_TOLERANCE=all']) {
    assert.ok(fatal[0]!.msg.includes(part), `the message names ${part}: ${fatal[0]!.msg}`);
  }
  assert.ok(await slotStillHolds(big, xid), 'the slot still holds the 3 MB row');
  t.diagnostic(`exit ${exit.code}: ${fatal[0]!.msg}`);

  // Tolerance all: the same row goes to the dead-letter topic; the next one flows.
  walcast = new WalcastProcess(big.env({ WALCAST_ERRORS_TOLERANCE: 'all' }));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.big values (2, 'small')`);
  await big.waitForAck(db, await big.currentLsn(db));
  assert.equal(restarts(walcast), 0);
  assert.equal((await walcast.stop('SIGTERM')).code, 0);

  // Compression: a 3 MB row that compresses below the limit is published whole.
  walcast = new WalcastProcess(big.env({ WALCAST_KAFKA_COMPRESSION: 'zstd' }));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.big values (3, repeat('walcast ', 375000))`);
  await big.waitForAck(db, await big.currentLsn(db));
  assert.equal((await walcast.stop('SIGTERM')).code, 0);

  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 3, jsonTopics: [dlq] }, [topic, dlq]);
  const changes = records.filter((r) => r.topic === topic).map((r) => r.value!.after as { id: number; body: string });
  assert.deepEqual(changes.map((r) => r.id), [2, 3]);
  assert.equal(changes[1]!.body, 'walcast '.repeat(375000));
  const [letter] = records.filter((r) => r.topic === dlq);
  assert.ok(letter, 'the 3 MB row is in the dead-letter topic');
  assert.equal(letter.headers!['__connect.errors.stage'], 'KAFKA_PRODUCE');
  assert.equal(letter.headers!['__connect.errors.exception.class.name'], 'RecordTooLargeError');
  assert.equal(letter.headers!['walcast.errors.code'], 'WALCAST_RECORD_TOO_LARGE');
  const value = letter.value as { after: { id: string; body: string }; truncated: Record<string, number> };
  assert.deepEqual(value.truncated, { 'after.body': 3_200_000 });
  assert.equal(value.after.id, '1');
  assert.equal(value.after.body.length, 1024);
  const { rows } = await db.query<{ prefix: string }>(`select left(body, 1024) as prefix from ${schema}.big where id = 1`);
  assert.equal(value.after.body, rows[0]!.prefix);
});

test('every compression codec: the broker accepts the batches, the independent reader reads them, walcast reads its own offsets back', async (t) => {
  const { db, schema } = codecs;
  const topic = codecs.topic('t');
  let id = 0;
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    // Each run starts from the offset record the previous run wrote with another codec.
    const walcast = new WalcastProcess(codecs.env({ WALCAST_KAFKA_COMPRESSION: codec }));
    t.after(() => walcast.stop('SIGKILL'));
    await walcast.waitForStreaming();
    await db.query(`insert into ${schema}.t select g, $1, repeat(md5(g::text), 50) from generate_series($2::int, $3::int) g`, [codec, id + 1, id + 200]);
    id += 200;
    await codecs.waitForAck(db, await codecs.currentLsn(db));
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-2000));
  }
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: id }, [topic]);
  assert.deepEqual(records.map((r) => r.key!.id), Array.from({ length: id }, (_, i) => i + 1), 'every row once, in order');
  const { rows } = await db.query<{ id: number; codec: string; body: string }>(`select id, codec, body from ${schema}.t order by id`);
  assert.deepEqual(records.map((r) => r.value!.after), rows);
});
