// Widened shapes over time (docs/types.md), against the real services: a column widens at its first
// unusual value, the registry accepts the new version under its default BACKWARD rule, and the
// column stays widened across a restart and a later table change (going back to the declared shape
// would be refused: the registry's history decides, not the process's memory). With JSON the same
// values flow, nested and as strings, with no schema to keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { loadServices } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const avro = capturedSchema('widen', {
  setup: async (db) => {
    await db.query(`create table ${avro.schema}.t (id int primary key, a int[], n numeric(6,2))`);
  },
});
const json = capturedSchema('widenjson', {
  setup: async (db) => {
    await db.query(`create table ${json.schema}.t (id int primary key, a int[], n numeric(6,2), ts timestamptz)`);
  },
});

async function subjectVersions(subject: string): Promise<Array<{ fields: Array<{ name: string; type: unknown }> }>> {
  const versions = (await (await fetch(`${services.schemaRegistryUrl}/subjects/${subject}/versions`)).json()) as number[];
  const schemas = [];
  for (const v of versions) {
    const body = (await (await fetch(`${services.schemaRegistryUrl}/subjects/${subject}/versions/${v}`)).json()) as { schema: string };
    const envelope = JSON.parse(body.schema) as { fields: Array<{ name: string; type: unknown[] }> };
    schemas.push((envelope.fields.find((f) => f.name === 'before')!.type as unknown[]).find((t) => t !== 'null') as { fields: Array<{ name: string; type: unknown }> });
  }
  return schemas;
}

/** The non-null branches of a value field. */
const branches = (value: { fields: Array<{ name: string; type: unknown }> }, name: string): unknown[] =>
  (value.fields.find((f) => f.name === name)!.type as unknown[]).filter((t) => t !== 'null');

test('Avro: a column widens at its first unusual value and stays widened across a restart and a later column', async (t) => {
  const { db, schema } = avro;
  const topic = avro.topic('t');
  let walcast = new WalcastProcess(avro.env());
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (1, '{1}', 1.5)`);
  await db.query(`insert into ${schema}.t values (2, '{{1,2},{3,NULL}}', 'NaN')`);
  await db.query(`insert into ${schema}.t values (3, '{3}', 2.5)`);
  await avro.waitForAck(db, await avro.currentLsn(db));
  assert.deepEqual(
    walcast.lines.filter((l) => l.msg.startsWith('a value needs the column')).map((l) => l.column),
    ['a', 'n'],
    'each column widened once, at its first unusual value',
  );
  assert.equal((await walcast.stop('SIGTERM')).code, 0);

  // A new column while walcast is stopped: the version it registers next keeps a and n widened.
  await db.query(`alter table ${schema}.t add column b text`);
  await db.query(`insert into ${schema}.t values (4, '{4}', 3.5, 'b4')`);
  walcast = new WalcastProcess(avro.env());
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (5, '{{{5}}}', 'NaN', 'b5')`);
  await avro.waitForAck(db, await avro.currentLsn(db));
  assert.equal(walcast.lines.filter((l) => l.level >= 50).length, 0, walcast.output.slice(-3000));
  assert.equal(walcast.lines.filter((l) => l.msg.startsWith('a value needs the column')).length, 0, 'already widened: nothing to widen again');
  assert.equal((await walcast.stop('SIGTERM')).code, 0);

  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 5 }, [topic]);
  assert.deepEqual(records.map((r) => r.value!.after), [
    { id: 1, a: [1], n: '1.50' },
    { id: 2, a: [[1, 2], [3, null]], n: 'NaN' },
    { id: 3, a: [3], n: '2.50' },
    { id: 4, a: [4], n: '3.50', b: 'b4' },
    { id: 5, a: [[[5]]], n: 'NaN', b: 'b5' },
  ]);

  const versions = await subjectVersions(`${topic}-value`);
  assert.equal(versions.length, 4, 'declared, a widened, n widened, b added');
  const widened = (v: (typeof versions)[number]): string[] =>
    ['a', 'n'].filter((name) => {
      const [first, ...rest] = branches(v, name);
      return rest.length > 0 || ((first as { items?: unknown[] }).items ?? []).some((i) => (i as { type?: string }).type === 'array');
    });
  assert.deepEqual(versions.map(widened), [[], ['a'], ['a', 'n'], ['a', 'n']]);
  assert.ok(versions[3]!.fields.some((f) => f.name === 'b'));
});

test('JSON: the same values flow, nested arrays and strings, without a schema', async (t) => {
  const { db, schema } = json;
  const topic = json.topic('t');
  const walcast = new WalcastProcess(json.env({ WALCAST_FORMAT: 'json' }));
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  await db.query(`insert into ${schema}.t values (1, '{1}', 1.5, '2024-01-01 00:00:00+00')`);
  await db.query(`insert into ${schema}.t values (2, '{{1,2},{3,NULL}}', 'NaN', '294250-01-01 00:00:00.5+00')`);
  await json.waitForAck(db, await json.currentLsn(db));
  assert.equal((await walcast.stop('SIGTERM')).code, 0);
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2, jsonTopics: [topic] }, [topic]);
  assert.deepEqual(records.map((r) => r.value!.after), [
    { id: 1, a: [1], n: '1.50', ts: 1704067200000000 },
    { id: 2, a: [[1, 2], [3, null]], n: 'NaN', ts: '+294250-01-01T00:00:00.5Z' },
  ]);
});
