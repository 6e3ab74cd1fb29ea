import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLsn, formatLsn } from '../../src/pg/lsn.ts';

const MAX = 2n ** 64n - 1n;
const lsn = fc.bigInt({ min: 0n, max: MAX });

/** The two halves of an LSN as hex, optionally zero-padded to 8 digits and in either case. */
function render(value: bigint, padHigh: boolean, padLow: boolean, lower: boolean): string {
  let hi = (value >> 32n).toString(16);
  let lo = (value & 0xffffffffn).toString(16);
  if (padHigh) hi = hi.padStart(8, '0');
  if (padLow) lo = lo.padStart(8, '0');
  const text = `${hi}/${lo}`;
  return lower ? text : text.toUpperCase();
}

describe('formatLsn / parseLsn', () => {
  test('known values in PostgreSQL\'s %X/%X form', () => {
    assert.equal(formatLsn(0n), '0/0');
    assert.equal(formatLsn(0x16b3748n), '0/16B3748');
    assert.equal(formatLsn(0x1_00000000n), '1/0');
    assert.equal(formatLsn(0xab_0000cd00n), 'AB/CD00');
    assert.equal(formatLsn(MAX), 'FFFFFFFF/FFFFFFFF');
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.equal(parseLsn('00000000/016B3748'), 0x16b3748n);
    assert.equal(parseLsn('0/16b3748'), 0x16b3748n);
    assert.equal(parseLsn('FFFFFFFF/FFFFFFFF'), MAX);
    assert.equal(parseLsn('1/0'), 0x1_00000000n);
  });

  test('round trip for every 64-bit value', () => {
    fc.assert(fc.property(lsn, (v) => {
      const text = formatLsn(v);
      assert.match(text, /^(0|[1-9A-F][0-9A-F]{0,7})\/(0|[1-9A-F][0-9A-F]{0,7})$/);
      assert.equal(parseLsn(text), v);
    }), { numRuns: 1000 });
  });

  test('both paddings and both cases parse to the same value', () => {
    fc.assert(fc.property(lsn, fc.boolean(), fc.boolean(), fc.boolean(), (v, padHigh, padLow, lower) => {
      const text = render(v, padHigh, padLow, lower);
      assert.equal(parseLsn(text), v, text);
      assert.equal(formatLsn(parseLsn(text)), formatLsn(v));
    }), { numRuns: 1000 });
  });

  test('ordering of parsed values matches numeric ordering (unlike string ordering)', () => {
    assert.ok(parseLsn('0/9') < parseLsn('0/10'));
    assert.ok(parseLsn('0/FFFFFFFF') < parseLsn('1/0'));
    assert.ok(parseLsn('00000000/0A000000') < parseLsn('0/B000000'));
    fc.assert(fc.property(lsn, lsn, fc.boolean(), fc.boolean(), (a, b, padA, padB) => {
      const pa = parseLsn(render(a, padA, padA, padA));
      const pb = parseLsn(render(b, padB, !padB, true));
      assert.equal(pa < pb, a < b);
      assert.equal(pa === pb, a === b);
    }), { numRuns: 1000 });
  });

  test('junk is rejected with RangeError', () => {
    const junk = [
      '', '/', '0/', '/0', '0//0', '0/0/0', 'G/0', '0/G', '0/0 ', ' 0/0', '0 /0', '0x1/0', '-1/0', '+1/0', '1.5/0',
      '0', '16B3748', '0\\0', '0:0', '0/0\n', '\u0660/0', '１/0', 'null', 'undefined',
    ];
    for (const text of junk) {
      assert.throws(() => parseLsn(text), RangeError, JSON.stringify(text));
    }
  });

  test('random strings that are not hex/hex are rejected with RangeError', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEFgxX/ -+.\n'.split(''));
    const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const candidates = fc.oneof(fc.string({ unit: alphabet, maxLength: 20 }), fc.string({ unit: anyChar, maxLength: 20 }));
    fc.assert(fc.property(candidates, (text) => {
      fc.pre(!/^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/.test(text));
      assert.throws(() => parseLsn(text), RangeError);
    }), { numRuns: 1000 });
  });

  // Known bug (reported, not fixed here): PostgreSQL's pg_lsn input accepts at most 8 hex digits
  // per half (MAXPG_LSNCOMPONENT). parseLsn accepts more and returns values that overlap the
  // high half ('1/100000000' === '1/0') or exceed 64 bits.
  test('a half with more than 8 hex digits is rejected', () => {
    for (const text of ['0/100000000', '100000000/0', '1/100000000', '000000000/0']) {
      assert.throws(() => parseLsn(text), RangeError, text);
    }
  });
});
