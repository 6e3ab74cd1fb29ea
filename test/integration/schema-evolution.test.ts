// Schema evolution mid-stream: compatible table changes (add, drop, rename a column, a new enum
// label, a new table in the publication) flow with no event lost while writes continue; an
// incompatible change stops walcast cleanly (exit 5, nothing acknowledged past the last delivered
// transaction) and, once the operator relaxes the subject's rule, walcast resumes without loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, waitFor } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('evo', {
  setup: async (db) => {
    await db.query(`create type ${schema}.mood as enum ('sad', 'ok')`);
    await db.query(`create table ${schema}.t (id int primary key, a int, b text, m ${schema}.mood)`);
  },
});
const { schema, slot, prefix } = it;
const topic = it.topic('t');
const env = it.env();
const { db } = it;

test('compatible changes flow under writes; an incompatible one stops cleanly and resumes after the fix', async (t) => {
  let walcast = new WalcastProcess(env);
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();

  // Writes continue in the background while the DDL happens: none may be lost.
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  let nextId = 1;
  let writing = true;
  let insertColumns = 'id, a, b, m';
  let insertValues = (n: number): unknown[] => [n, n, `b${n}`, 'ok'];
  // The DDL runs between two inserts (it swaps the statement the writer uses), never during one.
  let turn: Promise<void> = Promise.resolve();
  let inFlight = false;
  const writes = (async () => {
    while (writing) {
      await turn;
      inFlight = true;
      const n = nextId++;
      const values = insertValues(n);
      await writer.query(`insert into ${schema}.t (${insertColumns}) values (${values.map((_, i) => `$${i + 1}`).join(', ')})`, values);
      inFlight = false;
    }
  })();
  const ddl = async (sql: string, columns: string, values: (n: number) => unknown[]): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    let release!: () => void;
    turn = new Promise((resolve) => (release = resolve));
    // Once no insert is in flight, the writer is parked on the new `turn`.
    await waitFor('writer to park', () => (inFlight ? undefined : true), 5000, 5);
    await db.query(sql);
    insertColumns = columns;
    insertValues = values;
    release();
  };
  await ddl(`alter table ${schema}.t add column c numeric(10,2)`, 'id, a, b, m, c', (n) => [n, n, `b${n}`, 'ok', n / 100]);
  await ddl(`alter table ${schema}.t drop column b`, 'id, a, m, c', (n) => [n, n, 'ok', n / 100]);
  await ddl(`alter table ${schema}.t rename column a to a2`, 'id, a2, m, c', (n) => [n, n, 'ok', n / 100]);
  await ddl(`alter type ${schema}.mood add value 'glad'`, 'id, a2, m, c', (n) => [n, n, 'glad', n / 100]);
  await new Promise((resolve) => setTimeout(resolve, 150));
  writing = false;
  await writes;
  await writer.end();
  const compatibleRows = nextId - 1;

  await db.query(`create table ${schema}.late (id int primary key, note text)`);
  await db.query(`alter publication ${slot} add table ${schema}.late`);
  await db.query(`insert into ${schema}.late values (1, 'added to the publication later')`);

  const records = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: compatibleRows + 1, timeoutMs: 90_000 },
    [topic, `${prefix}.${schema}.late`],
  );
  const rows = records.filter((r) => r.topic === topic);
  assert.deepEqual(rows.map((r) => r.key!.id), Array.from({ length: compatibleRows }, (_, i) => i + 1), 'every row once, in order');
  const shapes = new Set(rows.map((r) => Object.keys(r.value!.after as object).join(',')));
  assert.deepEqual([...shapes], ['id,a,b,m', 'id,a,b,m,c', 'id,a,m,c', 'id,a2,m,c'], 'the after-image follows each change');
  assert.equal((rows.at(-1)!.value!.after as { m: string }).m, 'glad', 'a new enum label flows');
  assert.deepEqual(records.find((r) => r.topic.endsWith('.late'))?.value?.after, { id: 1, note: 'added to the publication later' });

  // Incompatible: a2 int -> text cannot be read by a BACKWARD reader.
  await it.waitForAck(db, await it.currentLsn(db));
  await db.query(`alter table ${schema}.t alter column a2 type text using a2::text`);
  await db.query(`insert into ${schema}.t (id, a2, m, c) values ($1, 'now text', 'ok', 1.5)`, [compatibleRows + 1]);
  const exit = await walcast.exited;
  assert.equal(exit.code, 5, walcast.output.slice(-3000));
  const fatal = walcast.lines.find((l) => l.level === 60)!;
  assert.match(fatal.msg, new RegExp(`table ${schema}\\.t changed shape`));
  assert.match(fatal.msg, /a2/);
  assert.match(fatal.msg, /compatibility.*NONE/);
  const slotAfterStop = await it.confirmedLsn(db);
  const insertLsn = await it.currentLsn(db);
  assert.ok(
    (await db.query('select $1::pg_lsn < $2::pg_lsn as ok', [slotAfterStop, insertLsn])).rows[0].ok,
    'the rejected transaction was not acknowledged',
  );

  // The operator's fix: allow the change for this subject; walcast resumes without loss.
  const response = await fetch(`${services.schemaRegistryUrl}/config/${encodeURIComponent(`${topic}-value`)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ compatibility: 'NONE' }),
  });
  assert.equal(response.status, 200, await response.text());
  walcast = new WalcastProcess(env);
  await walcast.waitForStreaming();
  const resumed = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: compatibleRows + 1, timeoutMs: 60_000 },
    [topic],
  );
  assert.deepEqual(resumed.at(-1)!.value!.after, { id: compatibleRows + 1, a2: 'now text', m: 'ok', c: '1.50' });
  assert.equal(new Set(resumed.map((r) => r.key!.id)).size, resumed.length, 'no duplicates after the resume');
  const stopped = await walcast.stop('SIGTERM');
  assert.equal(stopped.code, 0);
});
