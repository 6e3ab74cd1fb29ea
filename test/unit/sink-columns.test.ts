// Field schemas to target column types and values to PostgreSQL text: walcast's own annotations
// first (TIMESTAMPTZ stays timestamptz), then Debezium's and Connect's logical names, then Avro.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinType, codecFor } from '../../src/decode/codec.ts';
import { nameUuidFromBytes, toastPlaceholder } from '../../src/events/toast-placeholder.ts';
import { connectToAvro, dateText, fieldLayout, pgTypeOf, timestampText, timeText } from '../../src/sink/columns.ts';

const P = '__debezium_unavailable_value';
const source = (type: string, extra: Record<string, string> = {}): Record<string, string> => ({ '__debezium.source.column.type': type, ...extra });

test('column types: the source type walcast names, then logical names, then the Avro type', () => {
  assert.equal(pgTypeOf({ type: 'long', logicalType: 'timestamp-micros', 'connect.name': 'io.debezium.time.MicroTimestamp', 'connect.parameters': source('TIMESTAMPTZ') }), 'timestamp with time zone');
  assert.equal(pgTypeOf({ type: 'long', 'connect.name': 'io.debezium.time.MicroTimestamp' }), 'timestamp without time zone');
  assert.equal(pgTypeOf({ type: 'string', 'connect.name': 'io.debezium.time.ZonedTimestamp' }), 'timestamp with time zone');
  assert.equal(pgTypeOf({ type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2, 'connect.parameters': source('NUMERIC', { '__debezium.source.column.length': '12', '__debezium.source.column.scale': '2' }) }), 'numeric(12,2)');
  assert.equal(pgTypeOf({ type: 'bytes', 'connect.name': 'org.apache.kafka.connect.data.Decimal', 'connect.parameters': { scale: '3', 'connect.decimal.precision': '9' } }), 'numeric(9,3)');
  assert.equal(pgTypeOf({ type: 'array', items: ['null', 'string'], 'connect.parameters': source('_VARCHAR', { '__debezium.source.column.length': '20' }) }), 'character varying(20)[]');
  assert.equal(pgTypeOf({ type: 'string', 'connect.name': 'io.debezium.data.Json' }), 'jsonb');
  assert.equal(pgTypeOf({ type: 'string', 'connect.name': 'io.debezium.data.Enum', 'connect.parameters': source('MOOD') }), 'text');
  assert.equal(pgTypeOf({ type: 'int', 'connect.type': 'int16' }), 'smallint');
  assert.equal(pgTypeOf({ type: 'array', items: { type: 'array', items: 'int' } }), 'integer[]');
  assert.equal(pgTypeOf({ type: 'map', values: 'string' }), 'jsonb');
});

test('temporal text: BC dates, infinities, microseconds, 24:00', () => {
  assert.equal(dateText(0), '1970-01-01');
  assert.equal(dateText(-737_000), '0049-03-01 BC'); // PostgreSQL: date '1970-01-01' - 737000
  assert.equal(dateText(2147483647), 'infinity');
  assert.equal(timestampText(1_500_000n), '1970-01-01 00:00:01.500000+00');
  assert.equal(timestampText(-1n), '1969-12-31 23:59:59.999999+00');
  assert.equal(timestampText(9223372036825200000n), 'infinity');
  assert.equal(timeText(86_400_000_000), '24:00:00');
});

test('values: decimals from Avro and from JSON base64, arrays with quotes and NULLs, bytes, floats', () => {
  const decimal = fieldLayout('a', ['null', { type: 'bytes', logicalType: 'decimal', precision: 5, scale: 2 }], P, 'avro');
  assert.equal(decimal.text({ unscaled: -12345n, scale: 2 }, 'numeric(5,2)'), '-123.45');
  const jsonDecimal = fieldLayout('a', connectToAvro({ type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } }), P, 'json');
  assert.equal(jsonDecimal.text(Buffer.from([0x30, 0x39]).toString('base64'), 'numeric'), '123.45');
  const tags = fieldLayout('t', ['null', { type: 'array', items: ['null', 'string'] }], P, 'avro');
  assert.equal(tags.text(['a', null, 'q"b\\c', ''], 'text[]'), '{"a",NULL,"q\\"b\\\\c",""}');
  assert.equal(fieldLayout('b', 'bytes', P, 'avro').text(Buffer.from([0, 255]), 'bytea'), '\\x00ff');
  assert.equal(fieldLayout('f', 'double', P, 'avro').text(-0, 'double precision'), '-0');
  assert.equal(fieldLayout('f', 'double', P, 'avro').text(Number.NaN, 'double precision'), 'NaN');
});

test('the unchanged-TOAST placeholder in each shape the source gives it (events/toast-placeholder.ts)', () => {
  const text = fieldLayout('x', ['null', 'string'], P, 'avro');
  assert.ok(text.unchanged(P));
  assert.ok(!text.unchanged('real'));
  assert.ok(text.unchanged(Buffer.from(P)));
  assert.ok(text.unchanged([P]));
  assert.ok(text.unchanged([...Buffer.from(P)]));
  assert.ok(!text.unchanged([1, 2]));
  assert.ok(text.unchanged([Buffer.from(P)]), 'bytea[]');
  assert.ok(text.unchanged([Buffer.from(P).toString('base64')]), 'bytea[] in Connect JSON');
  assert.ok(text.unchanged([nameUuidFromBytes(Buffer.from(P))]), 'uuid[]');
  assert.ok(text.unchanged({ [P]: P }), 'hstore');
  assert.ok(!text.unchanged({ a: P }));
  // every shape the source publishes is recognised
  for (const oid of [25, 17, 1009, 1007, 1016, 1182, 1001, 2951, 1015]) {
    const value = toastPlaceholder(codecFor(builtinType(oid)!, -1, builtinType).avroSchema, P);
    assert.ok(text.unchanged(value), `oid ${oid}: ${JSON.stringify(value)}`);
  }
});
