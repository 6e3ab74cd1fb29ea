// numeric and money: exact values beyond 2^53, every declared precision/scale form PostgreSQL 15
// accepts, and the special values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinType, codecFor, type AvroSchemaObject, type ColumnCodec } from '../../src/decode/codec.ts';
import { ValueDecodeError, ValueUnrepresentableError } from '../../src/decode/errors.ts';
import { formatDecimal, numericTypmod, parseNumeric, type Decimal } from '../../src/decode/numeric.ts';
import type { PgType } from '../../src/decode/pg-type.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';

const noLookup = (): PgType | undefined => undefined;
const NUMERIC = builtinType(1700)!;
const MONEY = builtinType(790)!;
/** atttypmod of numeric(p,s), as PostgreSQL computes it (scale as 11-bit two's complement). */
const typmod = (p: number, s: number): number => ((p << 16) | (s & 0x7ff)) + 4;

/** numeric_out: sign, integer digits (at least one), and exactly `scale` fraction digits. */
function renderNumeric(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative && unscaled !== 0n ? `-${body}` : body;
}

function throughAvro(c: ColumnCodec, value: unknown): unknown {
  const type = avroType(['null', c.avroSchema] as never);
  return type.fromBuffer(type.toBuffer(value));
}

test('numeric typmods decode like PostgreSQL 15, negative scales included', () => {
  assert.deepEqual(numericTypmod(typmod(10, 2)), { precision: 10, scale: 2 });
  assert.deepEqual(numericTypmod(typmod(3, -2)), { precision: 3, scale: -2 });
  assert.deepEqual(numericTypmod(typmod(2, 5)), { precision: 2, scale: 5 });
  assert.deepEqual(numericTypmod(typmod(1000, 0)), { precision: 1000, scale: 0 });
  assert.equal(numericTypmod(-1), undefined);
});

test('numeric(p,s): any value with at most p digits is exact through Avro decimal, far beyond 2^53', () => {
  const declared = fc.integer({ min: 1, max: 80 }).chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: p })));
  fc.assert(
    fc.property(declared, fc.bigInt({ min: 0n, max: 10n ** 80n }), fc.boolean(), ([p, s], raw, negative) => {
      const magnitude = raw % 10n ** BigInt(p);
      const unscaled = negative ? -magnitude : magnitude;
      const c = codecFor(NUMERIC, typmod(p, s), noLookup);
      const text = renderNumeric(unscaled, s);
      const value = c.fromText(text) as Decimal;
      assert.deepEqual(value, { unscaled, scale: s }, text);
      assert.deepEqual(throughAvro(c, value), value);
      assert.equal(c.toJson(value), text);
      const schema = c.avroSchema as AvroSchemaObject;
      assert.equal(schema.precision, p);
      assert.equal(schema.scale, s);
    }),
    { numRuns: 1500 },
  );
});

test('numeric(p,s) schema: Connect Decimal annotations Debezium/AvroConverter produce', () => {
  assert.deepEqual(codecFor(NUMERIC, typmod(10, 2), noLookup).avroSchema, {
    type: 'bytes',
    logicalType: 'decimal',
    precision: 10,
    scale: 2,
    'connect.version': 1,
    'connect.name': 'org.apache.kafka.connect.data.Decimal',
    'connect.parameters': {
      scale: '2',
      'connect.decimal.precision': '10',
      '__debezium.source.column.type': 'NUMERIC',
      '__debezium.source.column.length': '10',
      '__debezium.source.column.scale': '2',
    },
  });
});

test('numeric(3,-2) and numeric(2,5) map to Avro decimals that hold the same values', () => {
  const negative = codecFor(NUMERIC, typmod(3, -2), noLookup);
  assert.equal((negative.avroSchema as AvroSchemaObject).precision, 5);
  assert.equal((negative.avroSchema as AvroSchemaObject).scale, 0);
  assert.deepEqual(negative.fromText('12300'), { unscaled: 12300n, scale: 0 });
  assert.deepEqual(negative.fromText('-99900'), { unscaled: -99900n, scale: 0 });
  const tiny = codecFor(NUMERIC, typmod(2, 5), noLookup);
  assert.equal((tiny.avroSchema as AvroSchemaObject).precision, 5);
  assert.deepEqual(tiny.fromText('0.00012'), { unscaled: 12n, scale: 5 });
  for (const c of [negative, tiny]) avroType(c.avroSchema as never); // valid under assertLogicalTypes
});

test('numeric(p,s): NaN is refused by the declared decimal, kept by the widened shape and by string mode', () => {
  const precise = codecFor(NUMERIC, typmod(10, 2), noLookup);
  assert.throws(
    () => precise.fromText('NaN'),
    (e: unknown) => e instanceof ValueUnrepresentableError && /widened schema/.test(e.message),
  );
  const widened = precise.widened();
  assert.notEqual(widened, precise);
  assert.equal(widened.widened(), widened);
  assert.deepEqual(widened.avroBranches, [precise.avroSchema, { type: 'string' }]);
  assert.equal(widened.fromText('NaN'), 'NaN');
  assert.deepEqual(widened.fromText('-12.50'), { unscaled: -1250n, scale: 2 });
  assert.equal(widened.toJson('NaN'), 'NaN');
  assert.equal(widened.toJson({ unscaled: -1250n, scale: 2 }), '-12.50');
  const union = avroType(['null', ...widened.avroBranches] as never);
  for (const value of ['NaN', { unscaled: -1250n, scale: 2 }, null]) assert.deepEqual(union.fromBuffer(union.toBuffer(value)), value);
  const asString = codecFor(NUMERIC, typmod(10, 2), noLookup, { decimalHandling: 'string' });
  assert.deepEqual(asString.avroSchema, {
    type: 'string',
    'connect.parameters': {
      '__debezium.source.column.type': 'NUMERIC',
      '__debezium.source.column.length': '10',
      '__debezium.source.column.scale': '2',
    },
  });
  assert.equal(asString.fromText('NaN'), 'NaN');
  assert.equal(asString.fromText('-1.50'), '-1.50');
});

test('numeric(p,s): text that does not fit the declared scale or precision is an error, not a rounded value', () => {
  const c = codecFor(NUMERIC, typmod(5, 2), noLookup);
  assert.deepEqual(c.fromText('1.5'), { unscaled: 150n, scale: 2 }); // widening is exact
  assert.deepEqual(c.fromText('1.500'), { unscaled: 150n, scale: 2 }); // so is dropping zeros
  for (const text of ['1.505', '1234.00', '', '-', '.', '1.2.3', '1e5', ' 1', '0x10', 'Infinity', '--1', '+-1']) {
    assert.throws(() => c.fromText(text), ValueDecodeError, JSON.stringify(text));
  }
});

test('unconstrained numeric: the exact text, NaN and ±Infinity included', () => {
  const c = codecFor(NUMERIC, -1, noLookup);
  assert.deepEqual(c.avroSchema, { type: 'string', 'connect.parameters': { '__debezium.source.column.type': 'NUMERIC' } });
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }), fc.integer({ min: 0, max: 40 }), (unscaled, scale) => {
      const text = renderNumeric(unscaled, scale);
      assert.equal(c.fromText(text), text);
      assert.deepEqual(parseNumeric('numeric', text), { unscaled, scale });
      assert.equal(formatDecimal({ unscaled, scale }), text);
    }),
  );
  for (const text of ['NaN', 'Infinity', '-Infinity', '0.00000000000000000001', '100000000000000000000']) {
    assert.equal(c.fromText(text), text);
  }
  assert.throws(() => c.fromText('nan'), ValueDecodeError);
  assert.throws(() => c.fromText('1e10'), ValueDecodeError);
});

test('money: any int64 of cents, in C-locale text, is exact; other locales parse by their digits', () => {
  const c = codecFor(MONEY, -1, noLookup);
  const grouped = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (cents) => {
      const negative = cents < 0n;
      const digits = (negative ? -cents : cents).toString().padStart(3, '0');
      const text = `${negative ? '-' : ''}$${grouped(digits.slice(0, -2))}.${digits.slice(-2)}`;
      const value = c.fromText(text);
      assert.deepEqual(value, { unscaled: cents, scale: 2 }, text);
      assert.deepEqual(throughAvro(c, value), value);
    }),
  );
  // Exact outputs of PostgreSQL 15 with lc_monetary=C.UTF-8:
  assert.deepEqual(c.fromText('$1,234.56'), { unscaled: 123456n, scale: 2 });
  assert.deepEqual(c.fromText('-$1.00'), { unscaled: -100n, scale: 2 });
  assert.deepEqual(c.fromText('-$92,233,720,368,547,758.08'), { unscaled: -(2n ** 63n), scale: 2 });
  assert.deepEqual(c.fromText('$0.00'), { unscaled: 0n, scale: 2 });
  // Other lc_monetary formats:
  assert.deepEqual(c.fromText('1.234,56 €'), { unscaled: 123456n, scale: 2 });
  assert.deepEqual(c.fromText('($1.00)'), { unscaled: -100n, scale: 2 });
  assert.deepEqual(c.fromText('-1 234,56 kr'), { unscaled: -123456n, scale: 2 });
  assert.equal(c.toJson({ unscaled: -123456n, scale: 2 }), '-1234.56');
  assert.equal((c.avroSchema as AvroSchemaObject)['connect.name'], 'org.apache.kafka.connect.data.Decimal');
  assert.throws(() => c.fromText('$'), ValueDecodeError);
  assert.throws(() => c.fromText('$100,000,000,000,000,000,000.00'), ValueDecodeError);

  const yen = codecFor(MONEY, -1, noLookup, { moneyFractionDigits: 0 });
  assert.deepEqual(yen.fromText('￥1,234'), { unscaled: 1234n, scale: 0 });
  const asString = codecFor(MONEY, -1, noLookup, { decimalHandling: 'string' });
  assert.equal(asString.fromText('-$1,234.50'), '-1234.50');
});
