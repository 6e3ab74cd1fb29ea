/** Offset records: the versioned format, and records written by earlier builds still read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { offsetRecord, parseOffsetValue, OffsetRecordError } from '../../src/kafka/offsets.ts';
import { fromSourcePosition, toSourcePosition } from '../../src/source/cdc/position.ts';

test('a record written by earlier builds ({lsn, txId, tsMs}) is read as the CDC position it held', () => {
  const legacy = Buffer.from('{"lsn":"1A/2B3C4D5E","txId":74213,"tsMs":1764600000000}');
  const value = parseOffsetValue(legacy);
  assert.equal(value.version, 1);
  assert.equal(value.tsMs, 1764600000000);
  assert.deepEqual(fromSourcePosition(value.position), { lsn: (0x1an << 32n) | 0x2b3c4d5en, txId: 74213, snapshot: null });
  assert.deepEqual(fromSourcePosition(parseOffsetValue(Buffer.from('{"lsn":"0/0","txId":null,"tsMs":1}')).position), { lsn: 0n, txId: null, snapshot: null });
});

test('a CDC position round-trips through the offset record, for any LSN and xid', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 })), (lsn, txId) => {
      const record = offsetRecord('offsets', 'walcast-x', toSourcePosition({ lsn, txId }), 5);
      const value = parseOffsetValue(record.value!);
      assert.equal(value.version, 2);
      assert.deepEqual(fromSourcePosition(value.position), { lsn, txId, snapshot: null });
    }),
  );
});

test('any JSON position is stored opaquely', () => {
  const position = { table: 'public."Ä b"', lastKey: [1, 'x', null], done: ['a', 'b'] };
  assert.deepEqual(parseOffsetValue(offsetRecord('o', 's', position).value!).position, position);
});

test('unknown or broken records are refused with a precise error', () => {
  assert.throws(() => parseOffsetValue(Buffer.from('not json')), OffsetRecordError);
  assert.throws(() => parseOffsetValue(Buffer.from('{"v":3,"position":{}}')), /version 3, newer than this walcast/);
  assert.throws(() => fromSourcePosition({ lsn: 'zz' }), /malformed/);
  assert.throws(() => fromSourcePosition({ txId: 1 }), /no LSN/);
});
