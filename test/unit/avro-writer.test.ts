// The compiled writer (src/encode/avro-writer.ts) must write exactly the bytes avsc writes for
// the same type and value, and refuse what avsc refuses: checked here value by value against
// avsc's own encode, for generated values and for real change events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import type avsc from 'avsc';
import { builtinType, codecFor } from '../../src/decode/codec.ts';
import type { PgColumn } from '../../src/decode/pg-type.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';
import { AvroEncodeError, AvroOut, avroWriter } from '../../src/encode/avro-writer.ts';
import { ChangeEventBuilder, type TransactionContext } from '../../src/events/change-events.ts';
import { buildTableSchema, messageEventSchema } from '../../src/events/table-schema.ts';

function avscBytes(type: avsc.Type, value: unknown): Buffer | Error {
  try {
    return type.toBuffer(value);
  } catch (error) {
    return error as Error;
  }
}

function writerBytes(type: avsc.Type, value: unknown, size = 3): Buffer | Error {
  // A tiny initial buffer: every growth path runs.
  const out = new AvroOut(size);
  try {
    avroWriter(type)(out, value);
    return out.take();
  } catch (error) {
    return error as Error;
  }
}

function assertSame(type: avsc.Type, value: unknown): void {
  const expected = avscBytes(type, value);
  for (const size of [1, 7, 4096]) {
    const actual = writerBytes(type, value, size);
    if (expected instanceof Error) {
      assert.ok(actual instanceof Error, `avsc refused ${inspect(value)}, the writer wrote ${inspect(actual)}`);
      assert.equal(actual.message, expected.message);
    } else {
      assert.ok(!(actual instanceof Error), `the writer refused ${inspect(value)}, which avsc wrote: ${inspect(actual)}`);
      assert.deepEqual(actual, expected);
    }
  }
}

const SCHEMA = {
  type: 'record',
  name: 'T',
  fields: [
    { name: 's', type: ['null', 'string'], default: null },
    { name: 'sLast', type: ['string', 'null'], default: 'x' },
    { name: 'i', type: ['null', 'int'], default: null },
    { name: 'l', type: ['null', 'long'], default: null },
    { name: 'lPlain', type: 'long' },
    { name: 'b', type: ['null', 'boolean'], default: null },
    { name: 'd', type: ['null', 'double'], default: null },
    { name: 'f', type: ['null', 'float'], default: null },
    { name: 'y', type: ['null', 'bytes'], default: null },
    { name: 'dec', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 }], default: null },
    { name: 'date', type: ['null', { type: 'int', logicalType: 'date' }], default: null },
    { name: 'time', type: ['null', { type: 'long', logicalType: 'time-micros' }], default: null },
    { name: 'ts', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }], default: null },
    { name: 'uuid', type: ['null', { type: 'string', logicalType: 'uuid' }], default: null },
    { name: 'arr', type: ['null', { type: 'array', items: ['null', 'string'] }], default: null },
    { name: 'map', type: ['null', { type: 'map', values: ['null', 'string'] }], default: null },
    { name: 'rec', type: ['null', { type: 'record', name: 'R', fields: [{ name: 'x', type: 'long' }] }], default: null },
  ],
};

const anyValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.uuid(),
  fc.integer(),
  fc.integer({ min: -(2 ** 31) - 5, max: 2 ** 31 + 5 }),
  fc.maxSafeInteger(),
  fc.constantFrom(2 ** 52, -(2 ** 52), 2 ** 52 - 1, 1 - 2 ** 52, 2 ** 53, 0.5, -0, NaN, Infinity),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }),
  fc.constantFrom(2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 52n, -(2n ** 52n)),
  fc.double(),
  fc.boolean(),
  fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
  fc.record({ unscaled: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), scale: fc.integer({ min: 0, max: 4 }) }),
  fc.array(fc.option(fc.string())),
  fc.dictionary(fc.string(), fc.option(fc.string())),
  fc.record({ x: fc.bigInt() }),
);

test('avro writer: every field, every kind of value, the bytes and errors of avsc', () => {
  const type = avroType(SCHEMA as avsc.Schema);
  const names = SCHEMA.fields.map((f) => f.name);
  fc.assert(
    fc.property(fc.array(anyValue, { minLength: names.length, maxLength: names.length }), (values) => {
      for (let i = 0; i < names.length; i++) {
        const field = (type as unknown as { fields: Array<{ type: avsc.Type }> }).fields[i]!;
        assertSame(field.type, values[i]);
      }
      // Whole records: the well-typed prefix of fields, then this value everywhere.
      assertSame(type, Object.fromEntries(names.map((n, i) => [n, values[i]])));
    }),
    { numRuns: 3000 },
  );
});

test('avro writer: strings near the 64-byte switch, lone surrogates, multi-byte characters', () => {
  const type = avroType(['null', 'string']);
  for (const s of ['', 'a'.repeat(64), 'a'.repeat(65), 'é'.repeat(32), 'é'.repeat(33), '\ud800', 'a\udc00b', '\ud800'.repeat(30), '😀'.repeat(17), 'x'.repeat(100000)]) {
    assertSame(type, s);
  }
});

test('avro writer: decimals around the precision and the 6-byte boundary', () => {
  for (const [precision, scale] of [[10, 2], [15, 0], [18, 3], [1, 0], [38, 10]] as const) {
    const type = avroType(['null', { type: 'bytes', logicalType: 'decimal', precision, scale }]);
    const edges = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 10n ** BigInt(precision), 10n ** BigInt(precision) - 1n, 2n ** 47n, 2n ** 47n - 1n, -(2n ** 47n), -(2n ** 47n) - 1n, 2n ** 64n];
    for (const e of edges) {
      for (const unscaled of [e, -e]) {
        assertSame(type, { unscaled, scale });
        assertSame(type, { unscaled, scale: scale + 1 });
        assertSame(type, String(unscaled));
      }
    }
  }
});

test('avro writer: a value avsc refuses is an AvroEncodeError (code WALCAST_VALUE_ENCODE) with avsc\'s message', () => {
  const type = avroType(['null', 'int']);
  const error = writerBytes(type, 'not an int');
  assert.ok(error instanceof AvroEncodeError);
  assert.equal(error.code, 'WALCAST_VALUE_ENCODE');
  assert.equal(error.message, (avscBytes(type, 'not an int') as Error).message);
});

test('avro writer: widened shapes (unions with string, arrays of any depth) write what avsc writes', () => {
  const widened = (oid: number, typeMod = -1): avsc.Type => {
    const codec = codecFor(builtinType(oid)!, typeMod, () => undefined).widened();
    return avroType(['null', ...codec.avroBranches] as avsc.Schema);
  };
  const decimal = widened(1700, ((10 << 16) | 2) + 4);
  const timestamp = widened(1184);
  const ints = widened(1007);
  const numerics = widened(1231, ((8 << 16) | 3) + 4);
  const nested = <T>(leaf: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small', maxDepth: 7 }, leaf, fc.array(tie('node'), { maxLength: 3 })) })).node;
  const decimalValue = fc.oneof(
    fc.constantFrom('NaN', 'Infinity', '12.5', ''),
    fc.record({ unscaled: fc.bigInt({ min: -(10n ** 11n), max: 10n ** 11n }), scale: fc.integer({ min: 0, max: 4 }) }),
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(null), decimalValue, anyValue),
      fc.oneof(fc.constant(null), fc.string(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), anyValue),
      fc.oneof(fc.constant(null), nested(fc.option(fc.integer(), { nil: null })), anyValue),
      fc.oneof(fc.constant(null), nested(fc.option(decimalValue, { nil: null }))),
      (d, t, i, n) => {
        assertSame(decimal, d);
        assertSame(timestamp, t);
        assertSame(ints, i);
        assertSame(numerics, n);
      },
    ),
    { numRuns: 2000 },
  );
});

const column = (name: string, typeOid: number, typeMod = -1, isKey = false): PgColumn => ({ name, typeOid, typeMod, isKey });

test('avro writer: change events of a table with many types, and logical messages', () => {
  const table = buildTableSchema({
    topicPrefix: 'demo',
    relationId: 1,
    schema: 'public',
    table: 'orders',
    columns: [
      column('id', 20, -1, true),
      column('account', 23),
      column('amount', 1700, ((12 << 16) | 2) + 4),
      column('note', 25),
      column('created', 1184),
      column('flag', 16),
      column('data', 17),
      column('tags', 1009),
      column('ratio', 701),
      column('doc', 3802),
      column('day', 1082),
      column('at', 1114),
      column('id2', 2950),
    ],
    primaryKey: ['id'],
    lookupType: builtinType,
  });
  const builder = new ChangeEventBuilder({ connectorName: 'demo', database: 'shop', version: '0.1.0', tombstones: true, toastPlaceholder: '__u' });
  const tx: TransactionContext = {
    xid: 771,
    commitTimeMicros: 1_704_103_200_123_456n,
    finalLsn: 0x1_6b37_4c00n,
    previousCommitLsn: null,
    totalOrder: 0,
    orderByTable: new Map(),
  };
  const row = (id: string): Array<string | null> => [
    id, '-7', '1234567890.12', 'ordre n° 1 😀', '2024-01-01 15:30:00.123456+05:30', 't', '\\x00ff', '{a,"b c",NULL}', '-0',
    '{"k": [1, 2]}', '2024-02-29', '2024-01-01 10:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  ];
  const events = [
    ...builder.insert(table, tx, 100n, row('9223372036854775807')),
    ...builder.insert(table, tx, 101n, row('-9223372036854775808').map((v, i) => (i === 0 ? v : null))),
    ...builder.update(table, tx, 102n, row('1'), 'O', row('2')),
    ...builder.delete(table, tx, 103n, row('3')),
    ...builder.truncate(table, tx, 104n),
  ];
  const keyType = avroType(table.keyAvro as avsc.Schema);
  const valueType = avroType(table.envelopeAvro as avsc.Schema);
  for (const event of events) {
    assertSame(keyType, event.key);
    assertSame(valueType, event.value);
  }
  // One writer across events and transactions: what it remembers between values (the source
  // block's first fields, the last nanosecond timestamp) must never leak into the next value.
  const tx2: TransactionContext = { ...tx, xid: 772, commitTimeMicros: tx.commitTimeMicros + 1n, orderByTable: new Map() };
  const later = [...builder.insert(table, tx2, 200n, row('5')), ...builder.insert(table, tx, 201n, row('6')), ...builder.insert(table, tx2, 202n, row('7'))];
  const writer = avroWriter(valueType);
  const out = new AvroOut(16);
  for (const event of [...events, ...later, ...events]) {
    if (event.value === null) continue;
    out.pos = 0;
    writer(out, event.value);
    assert.deepEqual(out.take(), valueType.toBuffer(event.value));
  }
  const messages = messageEventSchema('demo');
  const messageType = avroType(messages.envelopeAvro as avsc.Schema);
  assertSame(messageType, builder.message(messages, tx, 105n, 'p', Buffer.from('hi')).value);
  assertSame(messageType, builder.message(messages, null, 106n, 'p', Buffer.from('hi')).value);
});
