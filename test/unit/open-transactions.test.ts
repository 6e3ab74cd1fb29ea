import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describeForeignOpenTransactions, judgeOpenRegions, type OpenRegion } from '../../src/kafka/open-transactions.ts';

const region = (topic: string, producerIds: string[], keys: string[] = []): OpenRegion => ({ topic, partition: 0, stable: 10n, high: 12n, producerIds, keys });

test('nothing open: nothing to do', () => {
  assert.deepEqual(judgeOpenRegions([], '7', 'offsets', 'src'), { kind: 'none' });
});

test('own offset record left open: the transaction was complete, commit it everywhere', () => {
  const regions = [region('offsets', ['7'], ['src']), region('db.s.t', ['7'])];
  assert.deepEqual(judgeOpenRegions(regions, '7', 'offsets', 'src'), { kind: 'own', outcome: 'commit', regions });
});

test('only own data left open: the transaction never asked to commit, abort it', () => {
  const regions = [region('db.s.t', ['7']), region('db.s.u', ['7'])];
  assert.deepEqual(judgeOpenRegions(regions, '7', 'offsets', 'src'), { kind: 'own', outcome: 'abort', regions });
});

test('another source\'s key on the shared offsets topic is not walcast\'s offset record', () => {
  const regions = [region('offsets', ['7'], ['other-source']), region('db.s.t', ['7'])];
  assert.deepEqual(judgeOpenRegions(regions, '7', 'offsets', 'src'), { kind: 'own', outcome: 'abort', regions });
});

test('any other producer in an open region: foreign, never touched by walcast', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.constantFrom('7', '8', '9'), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), (producerSets) => {
      const regions = producerSets.map((ids, i) => region(i === 0 ? 'offsets' : `db.s.t${i}`, ids, ['src']));
      const verdict = judgeOpenRegions(regions, '7', 'offsets', 'src');
      const foreign = producerSets.some((ids) => ids.some((id) => id !== '7'));
      assert.equal(verdict.kind, foreign ? 'foreign' : 'own');
      if (verdict.kind === 'foreign') assert.ok(verdict.regions.every((r) => r.producerIds.some((id) => id !== '7')));
    }),
  );
});

test('the way out names each partition, its start offset and the abort command', () => {
  const text = describeForeignOpenTransactions([{ topic: 'walcast-offsets', partition: 0, stable: 41n, high: 43n, producerIds: ['9'], keys: [] }], ['k1:9092']);
  assert.match(text, /walcast-offsets-0 from offset 41 \(producer id 9\)/);
  assert.match(text, /kafka-transactions\.sh --bootstrap-server k1:9092 abort --topic walcast-offsets --partition 0 --start-offset 41/);
});
