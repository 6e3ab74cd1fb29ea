/** COPY's text format (src/source/snapshot/copy-text.ts): rows back as the values PostgreSQL wrote. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CopyTextError, parseCopyText } from '../../src/source/snapshot/copy-text.ts';
import { copyText } from '../helpers/copy-text.ts';

const value = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('\\', '\t', '\n', '\r', '\b', '\f', '\v', 'N', 'a', 'é', '🙂') }) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom('\\N', 'N', '\\', '') },
);

test('any rows of any values come back as written (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }).chain((columns) => fc.tuple(fc.constant(columns), fc.array(fc.array(value, { minLength: columns, maxLength: columns }), { maxLength: 8 }))), ([columns, rows]) => {
      const parsed = parseCopyText(Buffer.from(copyText(rows), 'utf8'), columns);
      assert.equal(parsed.count, rows.length);
      assert.deepEqual(Array.from({ length: parsed.count }, (_, i) => parsed.tuple(i).values()), rows);
      assert.deepEqual(Array.from({ length: parsed.count }, (_, i) => Array.from({ length: columns }, (_, c) => parsed.text(i, c))), rows);
    }),
    { numRuns: 1000 },
  );
});

test('a NULL is \\N alone; the text "\\N" is escaped and stays text', () => {
  const rows = parseCopyText(Buffer.from('\\N\t\\\\N\t\\N\n'), 3);
  assert.deepEqual(rows.tuple(0).values(), [null, '\\N', null]);
  assert.deepEqual(parseCopyText(Buffer.from('1\t\\N\t77\n'), 3, 2).tuple(0).values(), ['1', null], 'width: the leading values only');
});

test('rows of the wrong width or cut short are refused', () => {
  assert.throws(() => parseCopyText(Buffer.from('a\tb\n'), 3), CopyTextError);
  assert.throws(() => parseCopyText(Buffer.from('a\tb\tc\td\n'), 3), CopyTextError);
  assert.throws(() => parseCopyText(Buffer.from('a\tb'), 2), CopyTextError);
  assert.equal(parseCopyText(Buffer.alloc(0), 2).count, 0);
});
