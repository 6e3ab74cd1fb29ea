import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import avsc from 'avsc';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import { renderAvro } from '../../src/tail-render.ts';
import { builtinType, codecFor } from '../../src/decode/codec.ts';

const schema = {
  type: 'record',
  name: 'R',
  fields: [
    { name: 'ts', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
    { name: 'd', type: ['null', { type: 'int', logicalType: 'date' }] },
    { name: 't', type: ['null', { type: 'long', logicalType: 'time-micros' }] },
    { name: 'amount', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }] },
    { name: 'raw', type: ['null', 'bytes'] },
    { name: 'big', type: 'long' },
    { name: 'tags', type: { type: 'array', items: ['null', 'string'] } },
  ],
};

test('tail renders logical types readably and exactly', () => {
  const type = avsc.Type.forSchema(schema as avsc.Schema, avroTypeOptions());
  const value = type.fromBuffer(
    type.toBuffer({
      ts: 1_709_210_096_123_456n,
      d: 19782,
      t: 45_296_000_001,
      amount: { unscaled: -1050n, scale: 2 },
      raw: Buffer.from([0, 255]),
      big: 9_223_372_036_854_775_807n,
      tags: ['a', null],
    }),
  );
  assert.deepEqual(renderAvro(type, value), {
    ts: '2024-02-29T12:34:56.123456Z',
    d: '2024-02-29',
    t: '12:34:56.000001',
    amount: '-10.50',
    raw: 'AP8=',
    big: '9223372036854775807',
    tags: ['a', null],
  });
});

test('property: rendered timestamps parse back to the same millisecond and keep the microseconds', () => {
  const type = avsc.Type.forSchema({ type: 'long', logicalType: 'timestamp-micros' } as avsc.Schema, avroTypeOptions());
  // Within JavaScript Date's range, for an independent check.
  fc.assert(fc.property(fc.bigInt({ min: -62_135_596_800_000_000n, max: 253_402_300_799_999_999n }), (micros) => {
    const text = renderAvro(type, micros) as string;
    assert.equal(Date.parse(text.replace(/(\.\d{3})\d*/, '$1')), Number(micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n)));
    const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
    if (fraction !== 0n) assert.ok(text.includes(`.${String(fraction).padStart(6, '0')}Z`), text);
  }), { numRuns: 500 });
});

test('tail renders widened columns: each value through its own branch', () => {
  const field = (oid: number, typeMod = -1): avsc.Type =>
    avsc.Type.forSchema(['null', ...codecFor(builtinType(oid)!, typeMod, () => undefined).widened().avroBranches] as avsc.Schema, avroTypeOptions());
  const numeric = field(1700, ((10 << 16) | 2) + 4);
  const stamp = field(1184);
  const ints = field(1007);
  const back = (type: avsc.Type, value: unknown): unknown => renderAvro(type, type.fromBuffer(type.toBuffer(value)));
  assert.equal(back(numeric, 'NaN'), 'NaN');
  assert.equal(back(numeric, { unscaled: -1050n, scale: 2 }), '-10.50');
  assert.equal(back(stamp, '+294250-01-01T00:00:00Z'), '+294250-01-01T00:00:00Z');
  assert.equal(back(stamp, 1_709_210_096_123_456n), '2024-02-29T12:34:56.123456Z');
  assert.deepEqual(back(ints, [[1, null], [3, 4]]), [[1, null], [3, 4]]);
});
