// Folding a batch: per key the last change wins, unchanged TOAST values take the batch's earlier
// value or stay KEEP, truncates split the batch, and a change without a key is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldLayout, KEEP } from '../../src/sink/columns.ts';
import type { ChangeOp, SinkChange } from '../../src/sink/decode.ts';
import { fold, type RowsSegment } from '../../src/sink/fold.ts';

const P = '__debezium_unavailable_value';
const id = fieldLayout('id', 'long', P, 'avro');
const fields = [id, fieldLayout('name', ['null', 'string'], P, 'avro'), fieldLayout('big', ['null', 'string'], P, 'avro')];
const options = { primaryKeyFields: [], deleteEnabled: true, truncateEnabled: true };
let offset = 0;

function change(op: ChangeOp, key: number | null, row: unknown[] | null): SinkChange {
  return {
    op, topic: 't', partition: 0, offset: String(offset++), source: { db: 'd', schema: 's', table: 'x' },
    keyFields: key === null ? null : [id], key: key === null ? null : [BigInt(key)], fields, row, sourceTsMs: 0,
  };
}

const rows = (segment: RowsSegment): unknown[] => segment.entries.map((e) => (e.kind === 'delete' ? ['d', ...e.key] : ['u', ...e.values]));

test('the last change per key wins; a delete after an insert deletes, an insert after a delete upserts', () => {
  const { segments, counts } = fold([
    change('c', 1, [1n, 'a', 'x']), change('u', 1, [1n, 'b', 'x']), change('c', 2, [2n, 'c', 'y']), change('d', 2, [2n, null, null]),
    change('d', 3, [3n, null, null]), change('c', 3, [3n, 'again', 'z']),
  ], options);
  assert.deepEqual(counts, { c: 3, u: 1, d: 2, r: 0, t: 0 });
  assert.equal(segments.length, 1);
  assert.deepEqual(rows(segments[0] as RowsSegment), [['u', 1n, 'b', 'x'], ['d', 2n], ['u', 3n, 'again', 'z']]);
  assert.deepEqual((segments[0] as RowsSegment).columns.map((c) => c.name), ['name', 'big']);
});

test('an unchanged TOAST value takes the value an earlier change of the batch gave it, else stays KEEP', () => {
  const { segments } = fold([change('c', 1, [1n, 'a', 'real']), change('u', 1, [1n, 'b', KEEP]), change('u', 2, [2n, 'c', KEEP])], options);
  const [one, two] = (segments[0] as RowsSegment).entries;
  assert.deepEqual(one, { kind: 'upsert', key: [1n], fields, values: [1n, 'b', 'real'], keeps: false });
  assert.equal(two?.kind === 'upsert' && two.keeps, true);
  assert.equal(two?.kind === 'upsert' && two.values[2], KEEP);
});

test('a truncate applies what came before it, then truncates; disabled truncates and deletes are skipped', () => {
  const changes = [change('c', 1, [1n, 'a', 'x']), change('t', null, null), change('c', 2, [2n, 'b', 'y'])];
  assert.deepEqual(fold(changes, options).segments.map((s) => s.kind), ['rows', 'truncate', 'rows']);
  const skipped = fold([...changes, change('d', 2, [2n, null, null])], { ...options, truncateEnabled: false, deleteEnabled: false });
  assert.deepEqual(skipped.segments.map((s) => s.kind), ['rows']);
  assert.deepEqual(skipped.counts, { c: 2, u: 0, d: 0, r: 0, t: 0 });
});

test('keys: configured value fields instead of the record key; no key at all is refused with the fix', () => {
  const byName = fold([change('c', null, [7n, 'n', 'x'])], { ...options, primaryKeyFields: ['id'] });
  assert.deepEqual((byName.segments[0] as RowsSegment).entries[0]!.key, [7n]);
  assert.throws(() => fold([change('c', null, [7n, 'n', 'x'])], options), /no key.*WALCAST_SINK_PRIMARY_KEY_FIELDS/);
});
