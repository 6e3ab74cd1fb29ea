// The widened shapes (src/decode/codec.ts): values PostgreSQL accepts beyond what its declared type
// suggests (NaN in numeric(p,s), timestamps past int64 microseconds, arrays of any dimension count
// in any array column) are held exactly, and every widened schema reads what the declared one
// wrote (BACKWARD compatibility, checked with avsc's schema resolution, the same rules a schema
// registry applies) while the declared one cannot read the widened (why a widened column stays so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type avsc from 'avsc';
import { builtinType, codecFor, MAX_ARRAY_DIMENSIONS, type ColumnCodec } from '../../src/decode/codec.ts';
import { ValueUnrepresentableError } from '../../src/decode/errors.ts';
import type { PgColumn, PgType } from '../../src/decode/pg-type.ts';
import { isoInstant } from '../../src/decode/temporal.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';
import { buildTableSchema, widenedFieldsOf } from '../../src/events/table-schema.ts';

const noLookup = (): PgType | undefined => undefined;
const builtin = (oid: number, typeMod = -1, arrayDimensions = 1): ColumnCodec => codecFor(builtinType(oid)!, typeMod, noLookup, { arrayDimensions });
const nullable = (c: ColumnCodec): avsc.Type => avroType(['null', ...c.avroBranches] as never);
const numericTypmod = (p: number, s: number): number => ((p << 16) | (s & 0x7ff)) + 4;

function roundTrip(c: ColumnCodec, value: unknown): unknown {
  const type = nullable(c);
  return type.fromBuffer(type.toBuffer(value));
}

/** The array literal PostgreSQL's array_out prints for nested JS arrays of integers/NULLs. */
function literal(value: unknown): string {
  return Array.isArray(value) ? `{${value.map(literal).join(',')}}` : value === null ? 'NULL' : String(value);
}

/** A rectangular array of `dims` dimensions (each 1-3 long), elements int4 or NULL. */
const rectangular = (dims: number): fc.Arbitrary<unknown[]> =>
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: dims, maxLength: dims }).chain((lengths) => {
    const level = (d: number): fc.Arbitrary<unknown> =>
      d === lengths.length
        ? fc.option(fc.integer(), { nil: null, freq: 4 })
        : fc.array(level(d + 1), { minLength: lengths[d]!, maxLength: lengths[d]! });
    return level(0) as fc.Arbitrary<unknown[]>;
  });

test('int4[] declared with 1 or 2 dimensions: the declared shape refuses other dimension counts, the widened one holds 1..6', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: MAX_ARRAY_DIMENSIONS }).chain((dims) => fc.tuple(fc.constant(dims), rectangular(dims))),
      (declared, [dims, value]) => {
      const codec = builtin(1007, -1, declared);
      const wide = codec.widened();
      assert.notEqual(wide, codec);
      assert.equal(wide.widened(), wide);
      const text = literal(value);
      if (dims === declared) assert.deepEqual(codec.fromText(text), value);
      else assert.throws(() => codec.fromText(text), ValueUnrepresentableError);
      assert.deepEqual(wide.fromText(text), value);
      assert.deepEqual(roundTrip(wide, value), value);
      assert.deepEqual(wide.toJson(value), value);
    }),
    { numRuns: 300 },
  );
  // The empty array has no dimensions: any shape holds it.
  assert.deepEqual(builtin(1007, -1, 2).fromText('{}'), []);
  assert.deepEqual(builtin(1007).widened().fromText('{}'), []);
});

test('widened arrays: elements keep their own widened shape (NaN in numeric(5,2)[], far timestamps in timestamptz[])', () => {
  const numerics = builtin(1231, numericTypmod(5, 2)).widened();
  assert.deepEqual(numerics.fromText('{{1.50,NaN},{NULL,-2.00}}'), [[{ unscaled: 150n, scale: 2 }, 'NaN'], [null, { unscaled: -200n, scale: 2 }]]);
  assert.deepEqual(roundTrip(numerics, [[{ unscaled: 150n, scale: 2 }, 'NaN'], [null, { unscaled: -200n, scale: 2 }]]), [[{ unscaled: 150n, scale: 2 }, 'NaN'], [null, { unscaled: -200n, scale: 2 }]]);
  assert.deepEqual(numerics.toJson([['1.50', 'NaN']]), [['1.50', 'NaN']]);
  const stamps = builtin(1185).widened();
  assert.deepEqual(stamps.fromText('{"294250-01-01 00:00:00+00","2024-01-01 00:00:00+00",infinity}'), [
    '+294250-01-01T00:00:00Z',
    1704067200000000n,
    9223372036825200000n,
  ]);
});

test('numeric(p,s) and domains over it: NaN widens to the string "NaN"; money and unconstrained numeric have nothing to widen', () => {
  const price: PgType = { oid: 16410, name: 'price', namespace: 'public', kind: 'd', baseOid: 1700, baseTypeMod: numericTypmod(10, 2) };
  const domain = codecFor(price, -1, (oid) => (oid === price.oid ? price : undefined));
  assert.throws(() => domain.fromText('NaN'), ValueUnrepresentableError);
  const wide = domain.widened();
  assert.equal(wide.fromText('NaN'), 'NaN');
  assert.equal(wide.pgTypeName, 'price');
  assert.equal((wide.avroSchema['connect.parameters'] as Record<string, string>)['__debezium.source.column.type'], 'PRICE');
  assert.deepEqual(roundTrip(wide, 'NaN'), 'NaN');
  for (const [oid, typmod] of [[790, -1], [1700, -1], [25, -1], [23, -1], [1082, -1], [17, -1]] as const) {
    const c = builtin(oid, typmod);
    assert.equal(c.widened(), c, `oid ${oid}`);
  }
  const asString = codecFor(builtinType(1700)!, numericTypmod(10, 2), noLookup, { decimalHandling: 'string' });
  assert.equal(asString.widened(), asString);
});

test('timestamps past int64 microseconds: refused by the declared shape, ISO-8601 text in the widened one', () => {
  for (const oid of [1114, 1184]) {
    const c = builtin(oid);
    const suffix = oid === 1184 ? '+00' : '';
    assert.throws(() => c.fromText(`294250-01-01 00:00:00${suffix}`), ValueUnrepresentableError);
    const wide = c.widened();
    assert.equal(wide.fromText(`294250-01-01 00:00:00.5${suffix}`), '+294250-01-01T00:00:00.5Z');
    assert.equal(wide.fromText(`294276-12-31 23:59:59.999999${suffix}`), '+294276-12-31T23:59:59.999999Z');
    assert.equal(wide.fromText(`2024-02-29 12:00:00${suffix}`), 1709208000000000n);
    assert.equal(wide.toJson('+294250-01-01T00:00:00.5Z'), '+294250-01-01T00:00:00.5Z');
    assert.equal(wide.toJson(1709208000000000n), 1709208000000000);
    assert.equal(roundTrip(wide, '+294250-01-01T00:00:00.5Z'), '+294250-01-01T00:00:00.5Z');
  }
  assert.equal(builtin(1184).widened().fromText('294250-01-01 01:30:00+01:30'), '+294250-01-01T00:00:00Z');
  assert.equal(isoInstant(0n), '1970-01-01T00:00:00Z');
  assert.equal(isoInstant(-62135596800000001n), '0000-12-31T23:59:59.999999Z');
});

/** Every codec kind that widens, and some that do not, as columns of one table. */
const COLUMNS: Array<[string, number, number, number?]> = [
  ['id', 20, -1],
  ['amount', 1700, numericTypmod(12, 2)],
  ['at', 1184, -1],
  ['local', 1114, -1],
  ['tags', 1009, -1],
  ['grid', 1007, -1, 2],
  ['cube', 1007, -1, 3],
  ['amounts', 1231, numericTypmod(8, 3)],
  ['note', 25, -1],
];

function table(widened: Set<string>) {
  const columns: PgColumn[] = COLUMNS.map(([name, typeOid, typeMod, dimensions]) => ({ name, typeOid, typeMod, isKey: name === 'id', dimensions }));
  return buildTableSchema({ topicPrefix: 'p', relationId: 1, schema: 'public', table: 't', columns, primaryKey: ['id'], lookupType: builtinType, widenedFields: widened });
}

test('a widened envelope reads everything the declared one wrote (BACKWARD); the declared one cannot read the widened', () => {
  const declared = table(new Set());
  const names = COLUMNS.map(([name]) => name).filter((n) => n !== 'note' && n !== 'id');
  fc.assert(
    fc.property(fc.subarray(names, { minLength: 1 }), (subset) => {
      const wide = table(new Set(subset));
      for (const c of wide.columns) assert.equal(c.widened, subset.includes(c.name), c.name);
      const writer = avroType(declared.envelopeAvro as never);
      const reader = avroType(wide.envelopeAvro as never);
      const resolver = reader.createResolver(writer);
      const after = {
        id: 7n,
        amount: { unscaled: 12345n, scale: 2 },
        at: 1709208000000000n,
        local: -1n,
        tags: ['a', null],
        grid: [[1, null], [3, 4]],
        cube: [[[1]], [[2]]],
        amounts: [{ unscaled: 1n, scale: 3 }, null],
        note: 'n',
      };
      const envelope = { before: null, after, source: { version: '1', connector: 'postgresql', name: 'p', ts_ms: 1n, snapshot: 'false', db: 'd', sequence: null, ts_us: null, ts_ns: null, schema: 'public', table: 't', txId: 1n, lsn: 1n, xmin: null }, transaction: null, op: 'c', ts_ms: null, ts_us: null, ts_ns: null };
      // structuredClone: avsc decodes records into instances of its own classes.
      assert.deepEqual(structuredClone(reader.fromBuffer(writer.toBuffer(envelope), resolver)), envelope);
      assert.throws(() => writer.createResolver(reader));
      // And the registered widened version is recognised field by field, however it is formatted.
      assert.deepEqual([...widenedFieldsOf(JSON.stringify(wide.envelopeAvro, null, 2), JSON.stringify(wide.keyAvro))].sort(), [...subset].sort());
    }),
    { numRuns: 60 },
  );
  assert.deepEqual([...widenedFieldsOf(JSON.stringify(declared.envelopeAvro), JSON.stringify(declared.keyAvro))], []);
  assert.deepEqual([...widenedFieldsOf(null, null)], []);
});

test('a widened key column: the key field is the bare union (keys are never null) and is recognised', () => {
  const columns: PgColumn[] = [{ name: 'k', typeOid: 1700, typeMod: numericTypmod(6, 1), isKey: true }];
  const wide = buildTableSchema({ topicPrefix: 'p', relationId: 1, schema: 's', table: 't', columns, primaryKey: ['k'], lookupType: builtinType, widenedFields: new Set(['k']) });
  const keyField = (wide.keyAvro as unknown as { fields: Array<{ type: unknown }> }).fields[0]!;
  assert.ok(Array.isArray(keyField.type) && keyField.type.length === 2 && !keyField.type.includes('null'));
  const keyType = avroType(wide.keyAvro as never);
  assert.deepEqual(structuredClone(keyType.fromBuffer(keyType.toBuffer({ k: 'NaN' }))), { k: 'NaN' });
  assert.deepEqual([...widenedFieldsOf(null, JSON.stringify(wide.keyAvro))], ['k']);
});
