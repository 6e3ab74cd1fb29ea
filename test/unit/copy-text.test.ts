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
      assert.deepEqual(parsed.map((t) => t.values()), rows);
    }),
    { numRuns: 1000 },
  );
});

test('a NULL is \\N alone; the text "\\N" is escaped and stays text', () => {
  const [row] = parseCopyText(Buffer.from('\\N\t\\\\N\t\\N\n'), 3);
  assert.deepEqual(row!.values(), [null, '\\N', null]);
});

test('rows of the wrong width or cut short are refused', () => {
  assert.throws(() => parseCopyText(Buffer.from('a\tb\n'), 3), CopyTextError);
  assert.throws(() => parseCopyText(Buffer.from('a\tb\tc\td\n'), 3), CopyTextError);
  assert.throws(() => parseCopyText(Buffer.from('a\tb'), 2), CopyTextError);
  assert.deepEqual(parseCopyText(Buffer.alloc(0), 2), []);
});
