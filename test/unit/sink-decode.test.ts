// Records to changes without Kafka: JSON with Connect's {schema, payload} wrapper (Debezium's
// JsonConverter with schemas.enable) and without it (walcast's WALCAST_FORMAT=json), tombstones
// and messages skipped, unchanged TOAST values marked KEEP in updates only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEEP } from '../../src/sink/columns.ts';
import { ChangeDecoder } from '../../src/sink/decode.ts';

const P = '__debezium_unavailable_value';
const decoder = new ChangeDecoder(null, P);
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

const row = { type: 'struct', optional: true, name: 'shop.public.orders.Value', fields: [
  { field: 'id', type: 'int64', optional: false },
  { field: 'amount', type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '10' } },
  { field: 'at', type: 'string', optional: true, name: 'io.debezium.time.ZonedTimestamp' },
  { field: 'note', type: 'string', optional: true },
] };
const envelope = { type: 'struct', name: 'shop.public.orders.Envelope', fields: [
  { ...row, field: 'before' }, { ...row, field: 'after' },
  { field: 'source', type: 'struct', fields: [{ field: 'schema', type: 'string' }, { field: 'table', type: 'string' }, { field: 'ts_ms', type: 'int64' }] },
  { field: 'op', type: 'string' },
] };
const key = { schema: { type: 'struct', name: 'shop.public.orders.Key', fields: [{ field: 'id', type: 'int64', optional: false }] }, payload: { id: 7 } };

test('JSON with the schema wrapper: Connect types and logical names give the column types and values', async () => {
  const value = { schema: envelope, payload: { before: null, after: { id: 7, amount: Buffer.from([0x30, 0x39]).toString('base64'), at: '2024-01-01T10:00:00.5Z', note: P }, source: { schema: 'public', table: 'orders', ts_ms: 1 }, op: 'u' } };
  const change = (await decoder.decode('shop.public.orders', 0, '5', json(key), json(value)))!;
  assert.equal(change.op, 'u');
  assert.deepEqual(change.source, { db: '', schema: 'public', table: 'orders' });
  assert.deepEqual(change.fields.map((f) => `${f.name} ${f.pgType}`), ['id bigint', 'amount numeric(10,2)', 'at timestamp with time zone', 'note text']);
  assert.equal(change.fields[1]!.text(change.row![1], 'numeric(10,2)'), '123.45');
  assert.equal(change.row![3], KEEP, 'the placeholder in an update keeps the target value');
  assert.deepEqual(change.key, [7]);
  assert.deepEqual(change.keyFields!.map((f) => f.name), ['id']);
});

test('schemaless JSON: fields as they come, rendered for the target column type', async () => {
  const value = { before: null, after: { id: 1, at: 1_500_000, tags: ['a', null], doc: { k: 1 } }, source: { schema: 'public', table: 't' }, op: 'c' };
  const change = (await decoder.decode('t', 0, '0', json({ id: 1 }), json(value)))!;
  const at = change.fields.find((f) => f.name === 'at')!;
  assert.equal(at.text(1_500_000, 'timestamp with time zone'), '1970-01-01 00:00:01.500000+00');
  const tags = change.fields.find((f) => f.name === 'tags')!;
  assert.equal(tags.text(['a', null], 'text[]'), '{"a",NULL}');
  assert.equal(change.fields.find((f) => f.name === 'doc')!.text({ k: 1 }, 'jsonb'), '{"k":1}');
});

test('tombstones, logical messages and records without an op are not changes; a creation keeps the placeholder text', async () => {
  assert.equal(await decoder.decode('t', 0, '1', json({ id: 1 }), null), null);
  assert.equal(await decoder.decode('t', 0, '2', json({ prefix: 'p' }), json({ op: 'm', message: { prefix: 'p' } })), null);
  assert.equal(await decoder.decode('t', 0, '3', null, json({ hello: 'world' })), null);
  const created = (await decoder.decode('t', 0, '4', json({ id: 2 }), json({ before: null, after: { id: 2, note: P }, source: {}, op: 'c' })))!;
  assert.equal(created.row![1], P);
});

test('JSON integers beyond 2^53 stay exact (Debezium writes int64 as JSON numbers)', async () => {
  const wide = { ...row, fields: [{ field: 'id', type: 'int64', optional: false }, { field: 'big', type: 'int64', optional: true }, { field: 'ratio', type: 'double', optional: true }, { field: 'ints', type: 'array', items: { type: 'int64', optional: true }, optional: true }] };
  const schema = { ...envelope, fields: [{ ...wide, field: 'before' }, { ...wide, field: 'after' }, ...envelope.fields.slice(2)] };
  // written by hand: JSON.stringify cannot write these numbers
  const value = `{"schema":${JSON.stringify(schema)},"payload":{"before":null,"after":{"id":9223372036854775807,"big":-9223372036854775808,"ratio":1.7976931348623157e308,"ints":[9007199254740993,1]},"source":{"schema":"public","table":"orders","ts_ms":1},"op":"c"}}`;
  const change = (await decoder.decode('shop.public.orders', 0, '6', json({ schema: key.schema, payload: { id: 1 } }), Buffer.from(value)))!;
  assert.equal(change.fields[0]!.text(change.row![0], 'bigint'), '9223372036854775807');
  assert.equal(change.fields[1]!.text(change.row![1], 'bigint'), '-9223372036854775808');
  assert.equal(change.fields[2]!.text(change.row![2], 'double precision'), '1.7976931348623157e+308');
  assert.equal(change.fields[3]!.text(change.row![3], 'bigint[]'), '{"9007199254740993","1"}');
  // schemaless JSON too
  const plain = (await decoder.decode('t', 0, '7', json({ id: 1 }), Buffer.from('{"before":null,"after":{"id":1,"big":-9223372036854775808},"source":{"schema":"public","table":"t"},"op":"c"}')))!;
  const big = plain.fields.find((f) => f.name === 'big')!;
  assert.equal(big.pgType, 'bigint');
  assert.equal(big.text(plain.row![1], 'bigint'), '-9223372036854775808');
});

test("flat records (Confluent's JDBC sink): the value is the row, upserted; a tombstone deletes its key's row", async () => {
  const flat = new ChangeDecoder(null, P, 'flat');
  // The JDBC source's output through JsonConverter with schemas: a struct named after the table.
  const schema = { type: 'struct', optional: false, name: 'users', fields: [
    { field: 'id', type: 'int32', optional: false },
    { field: 'name', type: 'string', optional: true },
    { field: 'amount', type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '10' } },
  ] };
  const change = (await flat.decode('postgres-users', 1, '9', null, json({ schema, payload: { id: 3, name: 'carol', amount: Buffer.from([0x30, 0x39]).toString('base64') } })))!;
  assert.equal(change.op, 'c');
  assert.deepEqual(change.source, { db: '', schema: '', table: '' });
  assert.deepEqual(change.fields.map((f) => `${f.name} ${f.pgType}`), ['id integer', 'name text', 'amount numeric(10,2)']);
  assert.deepEqual(change.row!.slice(0, 2), [3, 'carol']);
  assert.equal(change.fields[2]!.text(change.row![2], 'numeric(10,2)'), '123.45');
  assert.equal(change.key, null, 'the JDBC source writes no key');
  // A field named op or after is a column like any other here.
  const odd = (await flat.decode('t', 0, '1', null, json({ id: 1, op: 'x', after: 'y' })))!;
  assert.deepEqual(odd.fields.map((f) => f.name), ['id', 'op', 'after']);
  assert.equal(odd.op, 'c');
  // A tombstone: the key's row goes (delete.enabled decides whether it is applied).
  const tombstone = (await flat.decode('t', 0, '2', json({ schema: { type: 'struct', fields: [{ field: 'id', type: 'int32', optional: false }] }, payload: { id: 1 } }), null))!;
  assert.equal(tombstone.op, 'd');
  assert.deepEqual(tombstone.key, [1]);
  assert.equal(await flat.decode('t', 0, '3', null, null), null, 'a tombstone without a key changes nothing');
  // The envelope decoder does not take a flat row for a change.
  assert.equal(await decoder.decode('t', 0, '4', null, json({ id: 1 })), null);
});
