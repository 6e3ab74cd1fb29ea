/**
 * The Avro row writer (src/encode/avro-rows.ts, records straight from pgoutput tuples) against
 * the event path it replaces on the stream (ChangeEventBuilder's events through AvroEncoder's
 * encodeKey/encodeValue): the same pgoutput message, decoded by decodeFrame() and by
 * decodePgoutput(), must give the same key and value bytes, or the same error, for every type of
 * the matrix, nulls, unchanged TOAST values, widened columns, inserts, updates and deletes.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinType } from '../../src/decode/codec.ts';
import type { PgColumn } from '../../src/decode/pg-type.ts';
import { AvroEncoder } from '../../src/encode/avro-encoder.ts';
import type { SchemaRegistryClient } from '../../src/encode/registry.ts';
import { ChangeEventBuilder, type EventOptions, type TransactionContext } from '../../src/events/change-events.ts';
import { buildTableSchema, type TableSchema } from '../../src/events/table-schema.ts';
import { decodeFrame, decodePgoutput, isRawRow, RawTuple, UNCHANGED_TOAST, type TupleValue } from '../../src/source/cdc/pgoutput.ts';
import { parseCopyText } from '../../src/source/snapshot/copy-text.ts';
import { copyText } from '../helpers/copy-text.ts';

const OPTIONS: EventOptions = { connectorName: 'demo', database: 'shop', version: '0.1.0-test', tombstones: true, toastPlaceholder: '__debezium_unavailable_value' };
const NUMERIC_10_2 = ((10 << 16) | 2) + 4;
const VARCHAR_8 = 8 + 4;

/** Per column: a type and pgoutput texts PostgreSQL can send for it (and some it cannot: errors must match too). */
const MATRIX: Array<{ name: string; oid: number; typeMod?: number; texts: string[] }> = [
  { name: 'id', oid: 20, texts: ['1', '-9223372036854775808', '9223372036854775807', '4503599627370496', '123456789012345678', '42', '999999999999999', '-999999999999999', '1000000000000000', '-0'] },
  { name: 'i2', oid: 21, texts: ['-32768', '0', '32767', '32768', '-32769'] },
  { name: 'i4', oid: 23, texts: ['-2147483648', '7', '2147483647', 'x', '2147483648', '+1', '', '-'] },
  { name: 'n122', oid: 1700, typeMod: ((12 << 16) | 2) + 4, texts: ['12.50', '-0.01', '9999999999.99', '0.5', '1.234', '-0.00', 'NaN', '12', '1e3', '+1.00'] },
  { name: 'n204', oid: 1700, typeMod: ((20 << 16) | 4) + 4, texts: ['1234567890123.4567', '12345678901.2345', '-1.0000', '140737488355.3280', '140737488355.3279'] },
  { name: 'n50', oid: 1700, typeMod: ((5 << 16) | 0) + 4, texts: ['99999', '-12345', '123456', '0'] },
  { name: 'n', oid: 1700, texts: ['123.456', 'NaN', '-0.5', 'Infinity', '-Infinity', '100000000000000000000000.000001'] },
  { name: 'n102', oid: 1700, typeMod: NUMERIC_10_2, texts: ['12.50', '-99999999.99', '0.00', 'NaN'] },
  { name: 'f4', oid: 700, texts: ['1.5', 'NaN', '-Infinity', '3.4028235e+38', '0.1'] },
  { name: 'f8', oid: 701, texts: ['1.5', 'NaN', 'Infinity', '-1.7976931348623157e+308', '5e-324'] },
  { name: 'b', oid: 16, texts: ['t', 'f', 'true', 'T'] },
  { name: 'txt', oid: 25, texts: ['', 'héllo', '🙂 emoji', 'x'.repeat(300), 'naïve "quotes" \\ back', 'plain ascii ~\u007f', 'é'.repeat(40)] },
  { name: 'mood', oid: 1009, texts: ['{}'] },
  { name: 'vc', oid: 1043, typeMod: VARCHAR_8, texts: ['abc', 'ü'] },
  { name: 'bp', oid: 1042, typeMod: 4 + 4, texts: ['ab  ', 'abcd'] },
  { name: 'ch', oid: 18, texts: ['a'] },
  { name: 'by', oid: 17, texts: ['\\x', '\\x0001ff', '\\xdeadbeef'] },
  { name: 'd', oid: 1082, texts: ['2024-02-29', 'infinity', '-infinity', '0001-01-01 BC', '5874897-12-31'] },
  { name: 't', oid: 1083, texts: ['24:00:00', '13:45:00.123456', '00:00:00'] },
  { name: 'tz', oid: 1266, texts: ['13:45:00+02', '00:00:00.5-11:30'] },
  { name: 'ts', oid: 1114, texts: ['2024-01-01 00:00:00', 'infinity', '-infinity', '1999-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999', '2024-02-29 12:00:00.5', '2023-02-29 12:00:00', '1000-01-01 00:00:00', '9999-12-31 23:59:59.123', '2112-09-17 23:53:47.370497', '2024-01-01 24:00:00', '2024-01-01 00:00:00.1234567'] },
  { name: 'tstz', oid: 1184, texts: ['2024-01-01 00:00:00.123456+00', '2026-12-02 01:02:03+05:30', 'infinity', '0044-03-15 12:00:00+00 BC', '1883-11-18 12:00:00-07:52:58', '2024-06-30 23:59:59.000001-11', '2024-06-30 23:59:59+14:00', '2024-06-30 23:59:59', '2024-06-30 23:59:59+1'] },
  { name: 'iv', oid: 1186, texts: ['1 year 2 mons 3 days 04:05:06.789', '-00:00:01', '00:00:00'] },
  { name: 'u', oid: 2950, texts: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'] },
  { name: 'j', oid: 114, texts: ['{"a": 1}', '[]'] },
  { name: 'jb', oid: 3802, texts: ['{"a": 1, "b": [true, null]}'] },
  { name: 'm', oid: 790, texts: ['$1,234.56', '-$0.01'] },
  { name: 'bits', oid: 1560, typeMod: 3, texts: ['101'] },
  { name: 'vb', oid: 1562, texts: ['1', '10101010101'] },
  { name: 'ia', oid: 1007, texts: ['{1,2,NULL}', '{}', '{{1,2},{3,4}}'] },
  { name: 'ta', oid: 1009, texts: ['{"a b",c,NULL}', '{}', '{"\\"q\\""}'] },
  { name: 'na', oid: 1231, texts: ['{1.5,NaN}'] },
  { name: 'tsa', oid: 1185, texts: ['{"2024-01-01 00:00:00+00",infinity}'] },
  { name: 'x', oid: 142, texts: ['<a>b</a>'] },
  { name: 'o', oid: 26, texts: ['4294967295'] },
  { name: 'tsr', oid: 3910, texts: ['["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")', 'empty'] },
];

const COLUMNS: PgColumn[] = MATRIX.map((c, i) => ({ name: c.name, typeOid: c.oid, typeMod: c.typeMod ?? -1, isKey: i === 0 }));

function table(widened: string[] = [], primaryKey = ['id']): TableSchema {
  return buildTableSchema({
    topicPrefix: 'demo', relationId: 16384, schema: 'public', table: 'matrix', columns: COLUMNS, primaryKey,
    lookupType: builtinType, widenedFields: new Set(widened),
  });
}

function tupleBytes(values: TupleValue[]): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeInt16BE(values.length);
  parts.push(count);
  for (const v of values) {
    if (v === null) parts.push(Buffer.from('n'));
    else if (v === UNCHANGED_TOAST) parts.push(Buffer.from('u'));
    else {
      const text = Buffer.from(v, 'utf8');
      const head = Buffer.alloc(5);
      head.write('t');
      head.writeInt32BE(text.length, 1);
      parts.push(head, text);
    }
  }
  return Buffer.concat(parts);
}

function frame(tag: 'I' | 'U' | 'D', relationId: number, values: TupleValue[], oldKind: 'K' | 'O' | null = null, old: TupleValue[] | null = null): Buffer {
  const head = Buffer.alloc(5);
  head.write(tag);
  head.writeUInt32BE(relationId, 1);
  const parts: Buffer[] = [head];
  if (tag === 'D') return Buffer.concat([head, Buffer.from(oldKind ?? 'K'), tupleBytes(values)]);
  if (old && oldKind) parts.push(Buffer.from(oldKind), tupleBytes(old));
  parts.push(Buffer.from('N'), tupleBytes(values));
  return Buffer.concat(parts);
}

function tx(): TransactionContext {
  return { xid: 771, commitTimeMicros: 1_733_000_000_123_456n, finalLsn: 0x16b3748n, previousCommitLsn: 0x16b3000n, totalOrder: 0, orderByTable: new Map() };
}

const registry = { register: async () => 7, latestSchema: async () => null } as unknown as SchemaRegistryClient;

type Outcome = { records: Array<[string | null, string | null]> } | { error: string };

/** The event path: eager strings, events, encodeKey/encodeValue. */
function viaEvents(encoder: AvroEncoder, t: TableSchema, bytes: Buffer, context: TransactionContext): Outcome {
  const builder = new ChangeEventBuilder(OPTIONS);
  try {
    const m = decodePgoutput(bytes);
    const events =
      m.tag === 'insert' ? builder.insert(t, context, 500n, m.newTuple)
      : m.tag === 'update' ? builder.update(t, context, 500n, m.oldTuple, m.oldTupleKind, m.newTuple)
      : m.tag === 'delete' ? builder.delete(t, context, 500n, m.oldTuple)
      : [];
    return { records: events.map((e) => [encoder.encodeKey(e)?.toString('hex') ?? null, encoder.encodeValue(e)?.toString('hex') ?? null]) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** The row path: raw tuples, RowChange, encodeRow. null: the row path does not take this message. */
function viaRows(encoder: AvroEncoder, t: TableSchema, bytes: Buffer, context: TransactionContext): Outcome | null {
  const builder = new ChangeEventBuilder(OPTIONS);
  const m = decodeFrame(bytes);
  assert.ok(isRawRow(m));
  const op = m.tag === 'insert' ? 'c' : m.tag === 'update' ? 'u' : 'd';
  const tuple = m.tag === 'delete' ? m.oldRaw : m.tag === 'update' && m.oldRaw !== null ? null : m.newRaw;
  if (!tuple) return null;
  const change = builder.rowChange(t, context, 500n, op, tuple);
  if (!change) return null;
  const records: Array<[string | null, string | null]> = [];
  try {
    encoder.encodeRow(change, (key, value) => records.push([key?.toString('hex') ?? null, value?.toString('hex') ?? null]));
    return { records };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

let realNow: () => number;
beforeEach(() => {
  realNow = Date.now;
  // both paths stamp ts_ms/ts_us/ts_ns with Date.now(): one instant for both
  Date.now = () => 1_733_000_001_234;
});
afterEach(() => {
  Date.now = realNow;
});

async function encoderFor(t: TableSchema): Promise<AvroEncoder> {
  const encoder = new AvroEncoder(registry);
  await encoder.prepare(t);
  assert.ok(encoder.encodesRows(t));
  return encoder;
}

function assertSame(encoder: AvroEncoder, t: TableSchema, bytes: Buffer): void {
  const rows = viaRows(encoder, t, bytes, tx());
  if (rows === null) return;
  assert.deepEqual(rows, viaEvents(encoder, t, bytes, tx()));
}

const cell = (i: number): fc.Arbitrary<TupleValue> =>
  i === 0 ? fc.constantFrom(...MATRIX[0]!.texts) : fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...MATRIX[i]!.texts) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(UNCHANGED_TOAST) });
const rowArb = fc.tuple(...MATRIX.map((_, i) => cell(i)));

describe('Avro rows straight from tuples = the event path', () => {
  test('every text of every type, column by column, as insert, update and delete', async () => {
    for (const widened of [[], MATRIX.map((c) => c.name).slice(1)]) {
      const t = table(widened);
      const encoder = await encoderFor(t);
      const base: TupleValue[] = MATRIX.map((c) => c.texts[0]!);
      for (let i = 0; i < MATRIX.length; i++) {
        for (const text of [...MATRIX[i]!.texts, null, UNCHANGED_TOAST] as TupleValue[]) {
          if (i === 0 && typeof text !== 'string') continue;
          const values = base.map((v, j) => (j === i ? text : v));
          assertSame(encoder, t, frame('I', t.relationId, values));
          assertSame(encoder, t, frame('U', t.relationId, values));
          assertSame(encoder, t, frame('D', t.relationId, values, 'O'));
        }
      }
    }
  });

  test('random rows (property), keyed and key-less tables, deletes with key-only old tuples', async () => {
    const keyed = table();
    const keyless = table([], []);
    const encoders = new Map([[keyed, await encoderFor(keyed)], [keyless, await encoderFor(keyless)]]);
    fc.assert(
      fc.property(rowArb, fc.boolean(), (values, useKeyless) => {
        const t = useKeyless ? keyless : keyed;
        const encoder = encoders.get(t)!;
        const keyOnly = values.map((v, i) => (i === 0 ? v : null));
        assertSame(encoder, t, frame('I', t.relationId, values));
        assertSame(encoder, t, frame('U', t.relationId, values));
        assertSame(encoder, t, frame('D', t.relationId, keyOnly, 'K'));
        assertSame(encoder, t, frame('D', t.relationId, values, 'O'));
      }),
      { numRuns: 300 },
    );
  });

  test('several rows of one transaction keep their orders and share the source bytes correctly', async () => {
    const lsnOf = (i: number): bigint => (i % 3 === 2 ? 2n ** 60n + BigInt(i) : BigInt(1000 + i * 977));
    const t = table();
    const encoder = await encoderFor(t);
    // the first transaction has no previous commit (sequence '[null,"...'); LSNs past 2^53 too
    let a: TransactionContext = { ...tx(), previousCommitLsn: null };
    let b: TransactionContext = { ...tx(), previousCommitLsn: null };
    const events = new ChangeEventBuilder(OPTIONS);
    const rows = new ChangeEventBuilder(OPTIONS);
    for (let i = 0; i < 20; i++) {
      const values: TupleValue[] = MATRIX.map((c, j) => (j === 0 ? String(i) : c.texts[i % c.texts.length]!));
      if (i === 10) {
        // the next transaction (a new context, as ChangeTranslator.begin() makes one)
        a = { ...tx(), xid: 772 };
        b = { ...tx(), xid: 772 };
      }
      const bytes = frame('I', t.relationId, values);
      const m = decodePgoutput(bytes);
      const r = decodeFrame(bytes);
      assert.ok(m.tag === 'insert' && r.tag === 'insert' && isRawRow(r));
      let expected: Outcome;
      try {
        const [event] = events.insert(t, a, lsnOf(i), m.newTuple);
        expected = { records: [[encoder.encodeKey(event!)!.toString('hex'), encoder.encodeValue(event!)!.toString('hex')]] };
      } catch (error) {
        expected = { error: (error as Error).name };
      }
      // a row that fails is rewound (ChangeTranslator.rewindRow): its orders are not used up
      const mark = { total: b.totalOrder, table: b.orderByTable.get(t.relationId) };
      const change = rows.rowChange(t, b, lsnOf(i), 'c', r.newRaw)!;
      const got: Array<[string, string]> = [];
      let outcome: Outcome;
      try {
        encoder.encodeRow(change, (key, value) => got.push([key!.toString('hex'), value!.toString('hex')]));
        outcome = { records: got };
      } catch (error) {
        outcome = { error: (error as Error).name };
        b.totalOrder = mark.total;
        if (mark.table === undefined) b.orderByTable.delete(t.relationId);
        else b.orderByTable.set(t.relationId, mark.table);
      }
      assert.deepEqual(outcome, expected);
    }
  });

  test('composite keys of every text form (text, timestamptz, numeric, boolean, int2), declared and widened', async () => {
    const names = ['txt', 'tstz', 'n122', 'b', 'i2'];
    for (const widened of [[], names]) {
      const columns = COLUMNS.map((c) => ({ ...c, isKey: names.includes(c.name) }));
      const t = buildTableSchema({ topicPrefix: 'demo', relationId: 16385, schema: 'public', table: 'keyed', columns, primaryKey: names, lookupType: builtinType, widenedFields: new Set(widened) });
      const encoder = await encoderFor(t);
      fc.assert(
        fc.property(fc.tuple(...MATRIX.map((c) => fc.constantFrom(...c.texts))), (values) => {
          assertSame(encoder, t, frame('I', t.relationId, values));
          assertSame(encoder, t, frame('D', t.relationId, values.map((v, i) => (names.includes(MATRIX[i]!.name) ? v : null)), 'K'));
        }),
        { numRuns: 200 },
      );
    }
  });

  test('random integers, timestamps and decimals as PostgreSQL prints them', async () => {
    const t = table();
    const encoder = await encoderFor(t);
    const index = (name: string): number => MATRIX.findIndex((c) => c.name === name);
    const base: TupleValue[] = MATRIX.map((c) => c.texts[0]!);
    const pad = (n: number, w: number): string => String(n).padStart(w, '0');
    const timestamp = fc.record({
      ms: fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }),
      micros: fc.integer({ min: 0, max: 999 }),
      digits: fc.integer({ min: 0, max: 6 }),
      offset: fc.integer({ min: -15 * 3600, max: 15 * 3600 }),
      offsetForm: fc.integer({ min: 0, max: 2 }),
    }).map(({ ms, micros, digits, offset, offsetForm }) => {
      const d = new Date(ms);
      const fraction = pad(d.getUTCMilliseconds() * 1000 + micros, 6).slice(0, digits);
      const when = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${digits ? `.${fraction}` : ''}`;
      const abs = Math.abs(offset);
      const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}${offsetForm > 0 ? `:${pad(Math.floor(abs / 60) % 60, 2)}` : ''}${offsetForm > 1 ? `:${pad(abs % 60, 2)}` : ''}`;
      return { ts: when, tstz: when + zone };
    });
    const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), fc.boolean()).map(([n, neg]) => {
      const text = (n < 0n ? -n : n).toString().padStart(3, '0');
      return `${n < 0n || (neg && n === 0n) ? '-' : ''}${text.slice(0, -2)}.${text.slice(-2)}`;
    });
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.integer({ min: -2147483648, max: 2147483647 }), timestamp, decimal, (id, i4, { ts, tstz }, n) => {
        const values = [...base];
        values[index('id')] = id.toString();
        values[index('i4')] = String(i4);
        values[index('ts')] = ts;
        values[index('tstz')] = tstz;
        values[index('n122')] = n;
        assertSame(encoder, t, frame('I', t.relationId, values));
      }),
      { numRuns: 500 },
    );
  });

  test('snapshot reads: every text of every type, from COPY\'s text, = ChangeEventBuilder.read()\'s event', async () => {
    const MARKERS = ['first', 'true', 'last_in_data_collection', 'last', 'incremental'];
    for (const [widened, primaryKey] of [[[], ['id']], [MATRIX.map((c) => c.name).slice(1), ['id']], [[], []]] as Array<[string[], string[]]>) {
      const t = table(widened, primaryKey);
      const encoder = await encoderFor(t);
      const base: Array<string | null> = MATRIX.map((c) => c.texts[0]!);
      let n = 0;
      for (let i = 0; i < MATRIX.length; i++) {
        for (const text of [...MATRIX[i]!.texts, null]) {
          if (i === 0 && text === null) continue;
          const values = base.map((v, j) => (j === i ? text : v));
          const marker = MARKERS[n % MARKERS.length]!;
          // LSNs past 2^53 too; reads of one chunk share an LSN and a read time
          const lsn = n % 7 === 6 ? 2n ** 60n + BigInt(n) : BigInt(1000 + (n >> 2));
          const readAtMs = 1_733_000_000_000 + (n >> 3);
          n++;
          let expected: Outcome;
          try {
            const event = new ChangeEventBuilder(OPTIONS).read(t, lsn, values, marker, readAtMs);
            expected = { records: [[encoder.encodeKey(event)?.toString('hex') ?? null, encoder.encodeValue(event)?.toString('hex') ?? null]] };
          } catch (error) {
            expected = { error: `${(error as Error).name}: ${(error as Error).message}` };
          }
          const tuple = parseCopyText(Buffer.from(copyText([values]), 'utf8'), values.length).tuple(0);
          const read = new ChangeEventBuilder(OPTIONS).rowRead(t, lsn, tuple, marker, readAtMs)!;
          const got: Array<[string | null, string | null]> = [];
          let outcome: Outcome;
          try {
            encoder.encodeRead(read, (key, value) => got.push([key?.toString('hex') ?? null, value?.toString('hex') ?? null]));
            outcome = { records: got };
          } catch (error) {
            outcome = { error: `${(error as Error).name}: ${(error as Error).message}` };
          }
          assert.deepEqual(outcome, expected, `${MATRIX[i]!.name} = ${JSON.stringify(text)}`);
        }
      }
    }
  });

  test('raw tuples read as the strings decodePgoutput gives', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constant(null), fc.constant(UNCHANGED_TOAST))), (values) => {
        const bytes = frame('I', 1, values);
        const raw = decodeFrame(bytes);
        const eager = decodePgoutput(bytes);
        assert.ok(raw.tag === 'insert' && eager.tag === 'insert' && isRawRow(raw));
        assert.ok(raw.newRaw instanceof RawTuple);
        assert.deepEqual(raw.newTuple, eager.newTuple);
      }),
    );
  });
});
