import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { avroName, avroFullName, uniqueFieldNames } from '../../src/events/avro-names.ts';

/** Avro's rule for a name (and each dotted part of a full name). */
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Any UTF-16 code unit (lone surrogates included), biased towards identifier-ish characters. */
const unit = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'Z', '_', '0', '9', ' ', '.', '-', '$', 'é', 'ï', '😀', '\0', '\n'), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), weight: 2 },
);
const identifier = fc.string({ unit, maxLength: 20 });
const validName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
const isDigit = (ch: string): boolean => ch >= '0' && ch <= '9';

describe('avroName', () => {
  test('examples (Debezium avro adjustment)', () => {
    assert.equal(avroName('Order Items'), 'Order_Items');
    assert.equal(avroName('1abc'), '_1abc');
    assert.equal(avroName('naïve'), 'na_ve');
    assert.equal(avroName('orders'), 'orders');
    assert.equal(avroName('_x9'), '_x9');
    assert.equal(avroName('a-b.c$d'), 'a_b_c_d');
    assert.equal(avroName(''), '_');
    assert.equal(avroName('9'), '_9');
    assert.equal(avroName('😀'), '__', 'a non-BMP character is two UTF-16 units, as in Java');
  });

  test('property: output is always a valid Avro name', () => {
    fc.assert(fc.property(identifier, (id) => {
      assert.match(avroName(id), AVRO_NAME);
    }), { numRuns: 1000 });
  });

  test('property: idempotent, and the identity on valid names', () => {
    fc.assert(fc.property(identifier, (id) => {
      const once = avroName(id);
      assert.equal(avroName(once), once);
    }), { numRuns: 1000 });
    fc.assert(fc.property(validName, (name) => {
      assert.equal(avroName(name), name);
    }), { numRuns: 500 });
  });

  test('property: each UTF-16 unit maps to one character in place; valid ones are kept', () => {
    fc.assert(fc.property(identifier.filter((s) => s !== ''), (id) => {
      const out = avroName(id);
      const shift = isDigit(id[0]!) ? 1 : 0;
      assert.equal(out.length, id.length + shift);
      if (shift === 1) assert.equal(out[0], '_');
      for (let i = 0; i < id.length; i++) {
        const ch = id[i]!;
        const keep = /[A-Za-z0-9_]/.test(ch);
        assert.equal(out[i + shift], keep ? ch : '_', `position ${i} of ${JSON.stringify(id)}`);
      }
    }), { numRuns: 1000 });
  });
});

describe('avroFullName', () => {
  test('examples', () => {
    assert.equal(avroFullName('shop', 'public', 'Order Items', 'Value'), 'shop.public.Order_Items.Value');
    assert.equal(avroFullName('my-db', 'sales.eu', '2024'), 'my_db.sales_eu._2024');
  });

  test('property: one valid Avro name per part, joined by dots', () => {
    fc.assert(fc.property(fc.array(identifier, { minLength: 1, maxLength: 5 }), (parts) => {
      const full = avroFullName(...parts);
      const split = full.split('.');
      assert.equal(split.length, parts.length);
      split.forEach((p, i) => {
        assert.match(p, AVRO_NAME);
        assert.equal(p, avroName(parts[i]!));
      });
    }), { numRuns: 500 });
  });
});

describe('uniqueFieldNames', () => {
  test('examples', () => {
    assert.deepStrictEqual(uniqueFieldNames(['id', 'a b', 'a_b', 'a-b']), ['id', 'a_b', 'a_b_2', 'a_b_3']);
    assert.deepStrictEqual(uniqueFieldNames(['a', 'a', 'a_2']), ['a', 'a_2', 'a_2_2']);
    assert.deepStrictEqual(uniqueFieldNames(['1x', '_1x']), ['_1x', '_1x_2']);
    assert.deepStrictEqual(uniqueFieldNames([]), []);
  });

  test('property: distinct valid names, one per column, in column order', () => {
    // Small alphabets make collisions (a b / a_b / a-b / a_b_2) common.
    const collidingColumn = fc.string({ unit: fc.constantFrom('a', 'b', '_', ' ', '-', '2', '3', 'é'), maxLength: 5 });
    fc.assert(fc.property(fc.array(fc.oneof(collidingColumn, identifier), { maxLength: 30 }), (columns) => {
      const names = uniqueFieldNames(columns);
      assert.equal(names.length, columns.length);
      assert.equal(new Set(names).size, names.length, JSON.stringify(names));
      names.forEach((n, i) => {
        assert.match(n, AVRO_NAME);
        // each name is the adjusted column, possibly with a _<n> suffix
        const base = avroName(columns[i]!);
        assert.ok(n === base || new RegExp(`^${base}_[0-9]+$`).test(n), `${n} from ${base}`);
      });
      // the first column to claim a free adjusted name keeps it unchanged
      assert.equal(names[0], columns.length > 0 ? avroName(columns[0]!) : undefined);
    }), { numRuns: 1000 });
  });

  test('property: distinct valid names are returned unchanged', () => {
    fc.assert(fc.property(fc.uniqueArray(validName, { maxLength: 20 }), (columns) => {
      assert.deepStrictEqual(uniqueFieldNames(columns), columns);
    }), { numRuns: 500 });
  });
});
