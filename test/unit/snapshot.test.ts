/** Snapshot progress (block ranges finishing out of order) and chunk reconciliation, as pure code. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chunkSql, inProgressXids, snapshotXmax } from '../../src/source/snapshot/chunk-reader.ts';
import { completesTable, markDone, nextRange, parseProgress, progressJson, tableDone, type BlockRange, type TableProgress } from '../../src/source/snapshot/progress.ts';
import { parseCopyText } from '../../src/source/snapshot/copy-text.ts';
import { ChunkWindows, XidSet, type ChunkRead } from '../../src/source/snapshot/windows.ts';
import { copyText } from '../helpers/copy-text.ts';

const table = (blocks: number): TableProgress => ({ schema: 's', table: 't', blocks, doneBelow: 0, doneRanges: [], rows: 0 });

describe('snapshot progress', () => {
  test('chunks handed out and finished in any order cover every block exactly once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { maxLength: 200 }), (blocks, chunk, choices) => {
        const t = table(blocks);
        const inFlight: BlockRange[] = [];
        const covered = new Uint8Array(blocks);
        let step = 0;
        while (!tableDone(t)) {
          const range = nextRange(t, chunk, inFlight);
          // Finish a random in-flight chunk when nothing new is available, or by choice.
          if (range === null || (inFlight.length > 0 && (choices[step++ % Math.max(1, choices.length)] ?? 0) % 3 === 0)) {
            const i = (choices[step++ % Math.max(1, choices.length)] ?? 0) % inFlight.length;
            const [done] = inFlight.splice(i, 1);
            const willComplete = completesTable(t, done!);
            markDone(t, done!);
            assert.equal(tableDone(t), willComplete);
            for (let b = done!.start; b < done!.end; b++) covered[b] = (covered[b] ?? 0) + 1;
            continue;
          }
          assert.ok(range.end - range.start <= chunk && range.start < range.end);
          inFlight.push(range);
        }
        assert.equal(inFlight.length, 0);
        assert.ok(covered.every((c) => c === 1), 'every block read exactly once');
        assert.deepEqual(t.doneRanges, []);
      }),
    );
  });

  test('progress survives its JSON form; malformed progress is refused', () => {
    const p = { id: 'x', kind: 'initial' as const, startedAtMs: 5, tables: [{ ...table(10), doneBelow: 4, doneRanges: [[6, 8]] as Array<[number, number]>, rows: 3 }] };
    assert.deepEqual(parseProgress(JSON.parse(JSON.stringify(progressJson(p)))), p);
    assert.throws(() => parseProgress({ id: 'x', kind: 'initial', startedAtMs: 1, tables: [{ schema: 's' }] }), /malformed/);
  });
});

describe('chunk queries', () => {
  test('identifiers are quoted; a TID range selects the blocks', () => {
    assert.equal(
      chunkSql({ schema: 'My "S"', table: 'tä ble', columns: ['id', 'Weird"Col'], range: { start: 128, end: 256 }, withXmin: false }),
      `select "id", "Weird""Col" from only "My ""S"""."tä ble" where ctid >= '(128,0)'::tid and ctid < '(256,0)'::tid`,
    );
    assert.match(chunkSql({ schema: 's', table: 't', columns: ['a'], range: { start: 0, end: 1 }, withXmin: true }), /^select "a", xmin from/);
  });

  test('in-progress xids of a snapshot, 64-bit to 32-bit', () => {
    assert.deepEqual(inProgressXids('100:105:'), []);
    assert.deepEqual(inProgressXids('4294967396:4294967400:4294967397,4294967399'), [101, 103]);
    assert.equal(snapshotXmax('4294967396:4294967400:4294967397'), 104);
  });
});

describe('chunk windows', () => {
  type Row = Array<string | null>;
  let current: Row[] = [];
  const chunk = (rows: Row[], extra: Partial<ChunkRead> = {}): ChunkRead => {
    current = rows;
    return { id: 'c1', relationId: 7, table: table(1), range: { start: 0, end: 1 }, rows: parseCopyText(Buffer.from(copyText(rows)), 2), xmins: null, inProgress: [], xmax: 1000, fileNode: 1, readAtMs: 0, keyless: false, ...extra };
  };
  /** The kept rows, by their numbers in the last chunk(). */
  const rowsOf = (kept: number[] | null): Row[] | null => kept && kept.map((i) => current[i]!);
  const keyOf = (row: number): string => JSON.stringify([current[row]![0]]);

  test('keys the stream published between the watermarks are left out; other tables do not count', () => {
    const w = new ChunkWindows('slot');
    w.low('c1', 7);
    assert.ok(w.watches(7) && !w.watches(8));
    w.touch(7, JSON.stringify(['2']));
    w.touch(8, JSON.stringify(['3']));
    assert.deepEqual(rowsOf(w.high(chunk([['1', 'a'], ['2', 'b'], ['3', 'c']]), keyOf)), [['1', 'a'], ['3', 'c']]);
    assert.ok(!w.watches(7), 'closed');
  });

  test('a truncate spoils the chunk; so does a transaction published before the low mark but invisible to the chunk', () => {
    const w = new ChunkWindows('slot');
    w.low('c1', 7);
    w.spoil(7);
    assert.equal(w.high(chunk([['1', 'a']]), keyOf), null);
    w.tracking = true;
    w.transaction(500);
    w.low('c1', 7);
    w.transaction(501);
    assert.equal(w.high(chunk([['1', 'a']], { inProgress: [500] }), keyOf), null, 'xid 500 was published before the window and not visible to the chunk');
    w.low('c1', 7);
    w.transaction(503);
    assert.deepEqual(rowsOf(w.high(chunk([['1', 'a']], { inProgress: [503, 504] }), keyOf)), [['1', 'a']], 'in-window or unseen xids are reconciled by key');
  });

  test('the race check remembers the latest 200,000 transactions, across the ring\'s wrap and xid wraparound', () => {
    const w = new ChunkWindows('slot');
    w.transaction(4294967290);
    for (let i = 0; i < 199_999; i++) w.transaction((4294967291 + i) % 4294967296);
    w.low('c1', 7);
    assert.equal(w.high(chunk([['1', 'a']], { inProgress: [4294967290] }), keyOf), null, 'published 199,999 transactions before the window: still remembered');
    w.transaction(300_000);
    w.low('c1', 7);
    assert.deepEqual(rowsOf(w.high(chunk([['1', 'a']], { inProgress: [4294967290], xmax: 300_001 }), keyOf)), [['1', 'a']], 'then forgotten: reconciled by key');
    w.low('c1', 7);
    assert.equal(w.high(chunk([['1', 'a']], { inProgress: [5], xmax: 300_001 }), keyOf), null, 'an xid past the wraparound is found too');
  });

  test('the newest transaction published before the low mark, at or above the chunk\'s xmax, spoils the chunk (it was not visible)', () => {
    const w = new ChunkWindows('slot');
    w.transaction(700);
    w.low('c1', 7);
    assert.equal(w.high(chunk([['1', 'a']], { xmax: 700 }), keyOf), null);
    w.low('c1', 7);
    w.transaction(705);
    assert.deepEqual(rowsOf(w.high(chunk([['1', 'a']], { xmax: 701 }), keyOf)), [['1', 'a']], 'xid 705 came after the low mark: reconciled by key');
    const wrapped = new ChunkWindows('slot');
    wrapped.transaction(2 ** 32 - 10);
    wrapped.transaction(5);
    wrapped.low('c1', 7);
    assert.equal(wrapped.high(chunk([['1', 'a']], { xmax: 2 ** 32 - 5 }), keyOf), null, 'xid 5 follows 2^32-10 after wraparound');
    wrapped.low('c1', 7);
    assert.deepEqual(rowsOf(wrapped.high(chunk([['1', 'a']], { xmax: 6 }), keyOf)), [['1', 'a']]);
  });

  test('a transaction published 100,000 transactions before the low mark is still remembered for the race check', () => {
    const w = new ChunkWindows('slot');
    w.transaction(500);
    for (let xid = 1000; xid < 101_000; xid++) w.transaction(xid);
    w.low('c1', 7);
    assert.equal(w.high(chunk([['1', 'a']], { inProgress: [500], xmax: 200_000 }), keyOf), null);
  });

  test('keyless: row versions the stream published are left out by xmin; deleted rows by value, one copy each', () => {
    const w = new ChunkWindows('slot');
    w.tracking = true;
    w.transaction(900);
    w.low('c1', 7);
    const row = (a: string): Row => [a, 'same'];
    w.touch(7, JSON.stringify(['2', 'same']));
    const kept = w.high(chunk([row('1'), row('2'), row('2'), row('3')], { keyless: true, xmins: [10, 10, 11, 900] }), (r) => JSON.stringify(current[r]));
    assert.deepEqual(rowsOf(kept), [['1', 'same'], ['2', 'same']]);
  });

  test('watermarks of another owner or malformed content are ignored', () => {
    const w = new ChunkWindows('slot');
    assert.equal(w.parse(Buffer.from('{"o":"other","c":"x","m":"l","r":1}')), null);
    assert.equal(w.parse(Buffer.from('not json')), null);
    assert.deepEqual(w.parse(Buffer.from('{"o":"slot","c":"x","m":"h","r":1}')), { mark: 'high', chunkId: 'x', relationId: 1 });
  });

  test('XidSet: membership over the whole 32-bit range', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 50 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (xids, probe) => {
        const set = new XidSet();
        for (const x of xids) set.add(x);
        for (const x of xids) assert.ok(set.has(x));
        assert.equal(set.has(probe), xids.includes(probe));
      }),
    );
  });
});

describe('execute-snapshot data (Debezium signal shape)', () => {
  test('tables, type and additional conditions are read; anything else is refused with the reason', async () => {
    const { snapshotRequest } = await import('../../src/source/snapshot/request.ts');
    assert.deepEqual(snapshotRequest({ 'data-collections': ['public.a', 'public.b'], type: 'INCREMENTAL', 'additional-conditions': [{ 'data-collection': 'public.a', filter: 'id > 5' }] }), {
      tables: ['public.a', 'public.b'],
      filters: { 'public.a': 'id > 5' },
    });
    assert.match(String(snapshotRequest({})), /data-collections/);
    assert.match(String(snapshotRequest({ 'data-collections': ['a.b'], type: 'blocking' })), /not supported/);
    assert.match(String(snapshotRequest({ 'data-collections': ['a.b'], 'additional-conditions': [{ 'data-collection': 'a.b' }] })), /non-empty "filter"/);
  });
});
