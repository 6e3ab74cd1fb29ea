/**
 * decodePgoutput against an independent encoder written from the protocol documentation
 * (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html, version 1):
 * round trips of random messages, hand-written byte vectors, and fuzzing (random bytes,
 * truncations, extensions and mutations of valid messages) that must only ever produce a
 * PgoutputDecodeError.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePgoutput, PgoutputDecodeError, UNCHANGED_TOAST } from '../../src/source/cdc/pgoutput.ts';
import type {
  PgoutputMessage, TupleValue, RelationColumnMessage, BeginMessage, CommitMessage, OriginMessage,
  RelationMessage, TypeMessage, InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage,
} from '../../src/source/cdc/pgoutput.ts';

// ---------------------------------------------------------------------------------------------
// Encoder (test-only), following the documented message formats.
// ---------------------------------------------------------------------------------------------

/** Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

class Writer {
  private readonly parts: Buffer[] = [];
  byte1(ch: string): this { return this.u8(ch.charCodeAt(0)); }
  u8(v: number): this { const b = Buffer.alloc(1); b.writeUInt8(v); this.parts.push(b); return this; }
  i16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  i32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32BE(v); this.parts.push(b); return this; }
  u64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); this.parts.push(b); return this; }
  i64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  /** String: NUL-terminated UTF-8. */
  cstring(s: string): this {
    assert.ok(!s.includes('\0'), 'protocol strings cannot contain NUL');
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.of(0));
    return this;
  }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  build(): Buffer { return Buffer.concat(this.parts); }
}

function writeTuple(w: Writer, values: TupleValue[]): void {
  w.i16(values.length);
  for (const v of values) {
    if (v === null) w.byte1('n');
    else if (v === UNCHANGED_TOAST) w.byte1('u');
    else {
      const bytes = Buffer.from(v, 'utf8');
      w.byte1('t').i32(bytes.length).raw(bytes);
    }
  }
}

/** Encodes a message the way a PostgreSQL walsender running pgoutput (proto_version 1) does. */
function encodePgoutput(msg: PgoutputMessage): Buffer {
  const w = new Writer();
  switch (msg.tag) {
    case 'begin':
      w.byte1('B').u64(msg.finalLsn).i64(msg.commitTimeMicros - PG_EPOCH_MICROS).u32(msg.xid);
      break;
    case 'commit':
      w.byte1('C').u8(msg.flags).u64(msg.commitLsn).u64(msg.endLsn).i64(msg.commitTimeMicros - PG_EPOCH_MICROS);
      break;
    case 'origin':
      w.byte1('O').u64(msg.originLsn).cstring(msg.name);
      break;
    case 'relation':
      // logicalrep_write_namespace sends pg_catalog as the empty string.
      w.byte1('R').u32(msg.relationId).cstring(msg.schema === 'pg_catalog' ? '' : msg.schema).cstring(msg.table)
        .byte1(msg.replicaIdentity).i16(msg.columns.length);
      for (const c of msg.columns) w.u8(c.isKey ? 1 : 0).cstring(c.name).u32(c.typeOid).i32(c.typeMod);
      break;
    case 'type':
      w.byte1('Y').u32(msg.typeOid).cstring(msg.schema).cstring(msg.name);
      break;
    case 'insert':
      w.byte1('I').u32(msg.relationId).byte1('N');
      writeTuple(w, msg.newTuple);
      break;
    case 'update':
      w.byte1('U').u32(msg.relationId);
      if (msg.oldTuple !== null) {
        assert.ok(msg.oldTupleKind !== null);
        w.byte1(msg.oldTupleKind);
        writeTuple(w, msg.oldTuple);
      }
      w.byte1('N');
      writeTuple(w, msg.newTuple);
      break;
    case 'delete':
      w.byte1('D').u32(msg.relationId).byte1(msg.oldTupleKind);
      writeTuple(w, msg.oldTuple);
      break;
    case 'truncate':
      w.byte1('T').u32(msg.relationIds.length).u8((msg.cascade ? 1 : 0) | (msg.restartIdentity ? 2 : 0));
      for (const id of msg.relationIds) w.u32(id);
      break;
    case 'message':
      w.byte1('M').u8(msg.transactional ? 1 : 0).u64(msg.lsn).cstring(msg.prefix).i32(msg.content.length).raw(msg.content);
      break;
  }
  return w.build();
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** fc.record makes null-prototype objects by default; the decoder makes plain ones. */
const plain = { noNullPrototype: true };
const lsn = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
/** Any int64 PostgreSQL timestamp, as micros since the Unix epoch (what the decoder returns). */
const commitTime = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((pg) => pg + PG_EPOCH_MICROS);
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
/**
 * Any Unicode scalar value (no lone surrogates, so it survives UTF-8), biased to printable ASCII.
 * (fc.string's 'binary' unit does the same but costs ~0.5 s of set-up per process.)
 */
const codePoint = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 0xd7ff }), weight: 2 },
  { arbitrary: fc.integer({ min: 0xe000, max: 0x10ffff }), weight: 2 },
).map((c) => String.fromCodePoint(c));
/** Arbitrary Unicode text, including the empty string. */
const text = fc.string({ unit: codePoint, maxLength: 40 });
/** Protocol String fields are NUL-terminated, so they cannot hold NUL. */
const name = text.filter((s) => !s.includes('\0'));
const nonEmptyName = name.filter((s) => s !== '');

const tupleValue: fc.Arbitrary<TupleValue> = fc.oneof(
  { arbitrary: text, weight: 6 },
  { arbitrary: fc.constant(''), weight: 1 },
  { arbitrary: fc.constant(null), weight: 2 },
  { arbitrary: fc.constant(UNCHANGED_TOAST), weight: 2 },
  // long values and values with NUL bytes (text values are length-prefixed, not terminated)
  { arbitrary: fc.string({ unit: codePoint, minLength: 200, maxLength: 2000 }), weight: 1 },
);
const tuple: fc.Arbitrary<TupleValue[]> = fc.oneof(
  { arbitrary: fc.array(tupleValue, { maxLength: 12 }), weight: 8 },
  // PostgreSQL allows up to 1664 columns in a row.
  { arbitrary: fc.array(fc.oneof(fc.constant(null), fc.constant(UNCHANGED_TOAST), fc.string({ maxLength: 3 })), { minLength: 1000, maxLength: 1664 }), weight: 1 },
);

const column: fc.Arbitrary<RelationColumnMessage> = fc.record({ name, isKey: fc.boolean(), typeOid: uint32, typeMod: int32 }, plain);

const begin: fc.Arbitrary<BeginMessage> = fc.record({ tag: fc.constant('begin' as const), finalLsn: lsn, commitTimeMicros: commitTime, xid: uint32 }, plain);
const commit: fc.Arbitrary<CommitMessage> = fc.record({
  tag: fc.constant('commit' as const), flags: fc.integer({ min: 0, max: 255 }), commitLsn: lsn, endLsn: lsn, commitTimeMicros: commitTime,
}, plain);
const origin: fc.Arbitrary<OriginMessage> = fc.record({ tag: fc.constant('origin' as const), originLsn: lsn, name }, plain);
const relation: fc.Arbitrary<RelationMessage> = fc.record({
  tag: fc.constant('relation' as const),
  relationId: uint32,
  schema: fc.oneof(nonEmptyName, fc.constant('pg_catalog')),
  table: name,
  replicaIdentity: fc.constantFrom('d' as const, 'n' as const, 'f' as const, 'i' as const),
  columns: fc.oneof({ arbitrary: fc.array(column, { maxLength: 20 }), weight: 8 }, { arbitrary: fc.array(column, { minLength: 1000, maxLength: 1664 }), weight: 1 }),
}, plain);
// Non-empty namespace: see the note on the Type message test below.
const type: fc.Arbitrary<TypeMessage> = fc.record({ tag: fc.constant('type' as const), typeOid: uint32, schema: nonEmptyName, name }, plain);
const insert: fc.Arbitrary<InsertMessage> = fc.record({ tag: fc.constant('insert' as const), relationId: uint32, newTuple: tuple }, plain);
const update: fc.Arbitrary<UpdateMessage> = fc.oneof(
  fc.record({ tag: fc.constant('update' as const), relationId: uint32, oldTuple: fc.constant(null), oldTupleKind: fc.constant(null), newTuple: tuple }, plain),
  fc.record({ tag: fc.constant('update' as const), relationId: uint32, oldTuple: tuple, oldTupleKind: fc.constantFrom('K' as const, 'O' as const), newTuple: tuple }, plain),
);
const del: fc.Arbitrary<DeleteMessage> = fc.record({ tag: fc.constant('delete' as const), relationId: uint32, oldTuple: tuple, oldTupleKind: fc.constantFrom('K' as const, 'O' as const) }, plain);
const truncate: fc.Arbitrary<TruncateMessage> = fc.record({
  tag: fc.constant('truncate' as const), cascade: fc.boolean(), restartIdentity: fc.boolean(), relationIds: fc.array(uint32, { maxLength: 50 }),
}, plain);
const message: fc.Arbitrary<LogicalMessage> = fc.record({
  tag: fc.constant('message' as const), transactional: fc.boolean(), lsn, prefix: name,
  content: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
}, plain);

const byKind: [string, fc.Arbitrary<PgoutputMessage>][] = [
  ['Begin', begin], ['Commit', commit], ['Origin', origin], ['Relation', relation], ['Type', type],
  ['Insert', insert], ['Update', update], ['Delete', del], ['Truncate', truncate], ['Message', message],
];
const anyMessage: fc.Arbitrary<PgoutputMessage> = fc.oneof(...byKind.map(([, a]) => a));

/** Decodes and asserts that any failure is a PgoutputDecodeError. */
function decodeOrDecodeError(buf: Buffer): PgoutputMessage | PgoutputDecodeError {
  try {
    return decodePgoutput(buf);
  } catch (e) {
    assert.ok(e instanceof PgoutputDecodeError, `expected PgoutputDecodeError, got ${String(e)}`);
    assert.equal(e.code, 'WALCAST_PGOUTPUT_DECODE');
    return e;
  }
}

function isDecodeError(e: unknown): boolean {
  return e instanceof PgoutputDecodeError && e.name === 'PgoutputDecodeError' && e.code === 'WALCAST_PGOUTPUT_DECODE';
}

// ---------------------------------------------------------------------------------------------

describe('decodePgoutput: round trip of random messages', () => {
  for (const [kind, arb] of byKind) {
    test(`${kind} messages decode to what was encoded`, { timeout: 20_000 }, () => {
      fc.assert(fc.property(arb, (msg) => {
        assert.deepStrictEqual(decodePgoutput(encodePgoutput(msg)), msg);
      }), { numRuns: 300 });
    });
  }

  test('the decoded Message content is a copy, not a view of the input buffer', () => {
    fc.assert(fc.property(message.filter((m) => m.content.length > 0), (msg) => {
      const buf = encodePgoutput(msg);
      const decoded = decodePgoutput(buf);
      assert.equal(decoded.tag, 'message');
      const before = Buffer.from(decoded.content);
      buf.fill(0xaa);
      assert.deepStrictEqual(decoded.content, before);
    }), { numRuns: 200 });
  });
});

// ---------------------------------------------------------------------------------------------

/** Hex with optional whitespace. */
const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
/** A NUL-terminated protocol String. */
const s = (str: string): Buffer => Buffer.concat([Buffer.from(str, 'utf8'), Buffer.of(0)]);
const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

describe('decodePgoutput: hand-written byte vectors', () => {
  test('Begin: LSN 0/16B3748, commit at the PostgreSQL epoch, xid 723', () => {
    const buf = h('42 00000000 016B3748 0000000000000000 000002D3');
    assert.deepStrictEqual(decodePgoutput(buf), {
      tag: 'begin', finalLsn: 0x16b3748n, commitTimeMicros: 946_684_800_000_000n, xid: 723,
    });
  });

  test('Begin: 64-bit LSN, xid above 2^31 and a timestamp before 2000 (micros since the Unix epoch)', () => {
    // 1970-01-01T00:00:01Z is -946684799000000 µs from 2000-01-01.
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(-946_684_799_000_000n);
    const buf = cat(h('42 FFFFFFFF FFFFFFFE'), ts, h('FFFFFFFF'));
    assert.deepStrictEqual(decodePgoutput(buf), {
      tag: 'begin', finalLsn: 0xfffffffffffffffen, commitTimeMicros: 1_000_000n, xid: 0xffffffff,
    });
  });

  test('Commit: flags, commit LSN, end LSN, timestamp one second after 2000-01-01', () => {
    const buf = h('43 00 00000001 00000010 00000001 00000040 00000000000F4240');
    assert.deepStrictEqual(decodePgoutput(buf), {
      tag: 'commit', flags: 0, commitLsn: 0x1_00000010n, endLsn: 0x1_00000040n, commitTimeMicros: 946_684_801_000_000n,
    });
  });

  test('Origin', () => {
    assert.deepStrictEqual(decodePgoutput(cat(h('4F 00000000 00000100'), s('node_a'))), {
      tag: 'origin', originLsn: 0x100n, name: 'node_a',
    });
  });

  test('Relation: public.users (id int4 key, name text, price numeric(10,2))', () => {
    const buf = cat(
      h('52 00004000'), s('public'), s('users'), h('64 0003'),
      h('01'), s('id'), h('00000017 FFFFFFFF'),
      h('00'), s('name'), h('00000019 FFFFFFFF'),
      h('00'), s('price'), h('000006A4 000A0006'),
    );
    assert.deepStrictEqual(decodePgoutput(buf), {
      tag: 'relation', relationId: 16384, schema: 'public', table: 'users', replicaIdentity: 'd',
      columns: [
        { name: 'id', isKey: true, typeOid: 23, typeMod: -1 },
        { name: 'name', isKey: false, typeOid: 25, typeMod: -1 },
        { name: 'price', isKey: false, typeOid: 1700, typeMod: 0x000a0006 },
      ],
    });
  });

  test('Relation: an empty namespace means pg_catalog; UTF-8 names; REPLICA IDENTITY FULL; no columns', () => {
    const decoded = decodePgoutput(cat(h('52 00000001'), s(''), s('tâble ✓'), h('66 0000')));
    assert.deepStrictEqual(decoded, {
      tag: 'relation', relationId: 1, schema: 'pg_catalog', table: 'tâble ✓', replicaIdentity: 'f', columns: [],
    });
  });

  test('Relation: only bit 0 of the column flags marks a key column', () => {
    const decoded = decodePgoutput(cat(h('52 00000001'), s('s'), s('t'), h('69 0002'), h('FF'), s('a'), h('00000017 FFFFFFFF'), h('FE'), s('b'), h('00000017 FFFFFFFF')));
    assert.equal(decoded.tag, 'relation');
    assert.deepStrictEqual(decoded.columns.map((c) => c.isKey), [true, false]);
  });

  test('Type', () => {
    assert.deepStrictEqual(decodePgoutput(cat(h('59 00008001'), s('public'), s('mood'))), {
      tag: 'type', typeOid: 0x8001, schema: 'public', name: 'mood',
    });
  });

  test("Insert: text '1', text '' (empty), NULL, unchanged TOAST", () => {
    const buf = cat(h('49 00004000 4E 0004'), h('74 00000001 31'), h('74 00000000'), h('6E'), h('75'));
    assert.deepStrictEqual(decodePgoutput(buf), { tag: 'insert', relationId: 16384, newTuple: ['1', '', null, UNCHANGED_TOAST] });
  });

  test('Insert: text values are UTF-8 with a byte length', () => {
    const value = 'é€😀';
    const bytes = Buffer.from(value, 'utf8');
    assert.equal(bytes.length, 9);
    const buf = cat(h('49 00000001 4E 0001 74 00000009'), bytes);
    assert.deepStrictEqual(decodePgoutput(buf), { tag: 'insert', relationId: 1, newTuple: [value] });
  });

  test('Update without an old tuple', () => {
    const buf = cat(h('55 00004000 4E 0001'), h('74 00000002'), Buffer.from('42'));
    assert.deepStrictEqual(decodePgoutput(buf), { tag: 'update', relationId: 16384, oldTuple: null, oldTupleKind: null, newTuple: ['42'] });
  });

  test('Update with a K (key) old tuple and with an O (full) old tuple', () => {
    const k = cat(h('55 00004000 4B 0001 74 00000001 31 4E 0002 74 00000001 32 75'));
    assert.deepStrictEqual(decodePgoutput(k), { tag: 'update', relationId: 16384, oldTuple: ['1'], oldTupleKind: 'K', newTuple: ['2', UNCHANGED_TOAST] });
    const o = cat(h('55 00004000 4F 0002 74 00000001 31 6E 4E 0002 74 00000001 32 6E'));
    assert.deepStrictEqual(decodePgoutput(o), { tag: 'update', relationId: 16384, oldTuple: ['1', null], oldTupleKind: 'O', newTuple: ['2', null] });
  });

  test('Delete with K and with O', () => {
    assert.deepStrictEqual(decodePgoutput(h('44 00004000 4B 0001 74 00000001 37')), { tag: 'delete', relationId: 16384, oldTupleKind: 'K', oldTuple: ['7'] });
    assert.deepStrictEqual(decodePgoutput(h('44 00004000 4F 0002 74 00000001 37 6E')), { tag: 'delete', relationId: 16384, oldTupleKind: 'O', oldTuple: ['7', null] });
  });

  test('Truncate: option bits 1 (CASCADE) and 2 (RESTART IDENTITY)', () => {
    const ids = h('00004000 00004001');
    assert.deepStrictEqual(decodePgoutput(cat(h('54 00000002 00'), ids)), { tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [16384, 16385] });
    assert.deepStrictEqual(decodePgoutput(cat(h('54 00000002 01'), ids)), { tag: 'truncate', cascade: true, restartIdentity: false, relationIds: [16384, 16385] });
    assert.deepStrictEqual(decodePgoutput(cat(h('54 00000002 02'), ids)), { tag: 'truncate', cascade: false, restartIdentity: true, relationIds: [16384, 16385] });
    assert.deepStrictEqual(decodePgoutput(cat(h('54 00000002 03'), ids)), { tag: 'truncate', cascade: true, restartIdentity: true, relationIds: [16384, 16385] });
  });

  test('Message: transactional and not, binary content', () => {
    assert.deepStrictEqual(decodePgoutput(cat(h('4D 01 00000000 01000000'), s('walcast'), h('00000003 00FF61'))), {
      tag: 'message', transactional: true, lsn: 0x1000000n, prefix: 'walcast', content: Buffer.from([0x00, 0xff, 0x61]),
    });
    assert.deepStrictEqual(decodePgoutput(cat(h('4D 00 00000000 00000001'), s(''), h('00000000'))), {
      tag: 'message', transactional: false, lsn: 1n, prefix: '', content: Buffer.alloc(0),
    });
  });
});

describe('decodePgoutput: malformed input is refused with PgoutputDecodeError', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['empty buffer', Buffer.alloc(0), /truncated/],
    ['binary tuple data (walcast asks for text)', h('49 00000001 4E 0001 62 00000001 00'), /binary/],
    ['unknown tuple kind', h('49 00000001 4E 0001 78'), /tuple data kind 0x78/],
    ['negative column count', h('49 00000001 4E FFFF'), /negative column count/],
    ['negative text length', h('49 00000001 4E 0001 74 FFFFFFFF'), /negative length/],
    ['text longer than the message', h('49 00000001 4E 0001 74 00000005 6162'), /truncated/],
    ['insert without N', h('49 00000001 4B 0000'), /insert/],
    ['update without N after the old tuple', h('55 00000001 4B 0000 4B 0000'), /update/],
    ['delete without K or O', h('44 00000001 4E 0000'), /delete/],
    ['unknown replica identity', cat(h('52 00000001'), s('s'), s('t'), h('78 0000')), /replica identity/],
    ['unterminated string', h('4F 0000000000000001 616263'), /unterminated/],
    ['trailing bytes', h('42 0000000000000001 0000000000000000 00000001 00'), /trailing/],
    ['stream start (protocol v2, never requested)', h('53 00000001 01'), /unsupported pgoutput message "S"/],
    ['begin prepare (two-phase, never requested)', h('62'), /unsupported/],
    ['truncate with more relations than bytes', h('54 FFFFFFFF 00 00000001'), /truncated/],
  ];
  for (const [label, buf, pattern] of cases) {
    test(label, () => {
      assert.throws(() => decodePgoutput(buf), (e: unknown) => isDecodeError(e) && pattern.test((e as Error).message));
    });
  }
});

describe('decodePgoutput: fuzzing', () => {
  const tags = [...'BCORYIUDTMSEAcKPrbpK'].map((c) => c.charCodeAt(0));

  test('random bytes decode or throw PgoutputDecodeError', { timeout: 20_000 }, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      decodeOrDecodeError(Buffer.from(bytes));
    }), { numRuns: 3000 });
  });

  test('random bytes after a known tag decode or throw PgoutputDecodeError', { timeout: 20_000 }, () => {
    fc.assert(fc.property(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 120 }), (tag, rest) => {
      decodeOrDecodeError(Buffer.concat([Buffer.of(tag), rest]));
    }), { numRuns: 3000 });
  });

  test('every strict prefix of a valid message is refused as truncated', { timeout: 20_000 }, () => {
    fc.assert(fc.property(anyMessage, fc.array(fc.nat(), { maxLength: 40 }), (msg, cuts) => {
      const buf = encodePgoutput(msg);
      const lengths = buf.length <= 400 ? [...Array(buf.length).keys()] : cuts.map((c) => c % buf.length);
      for (const n of lengths) {
        assert.throws(() => decodePgoutput(buf.subarray(0, n)), isDecodeError, `prefix of ${n}/${buf.length} bytes of ${msg.tag}`);
      }
    }), { numRuns: 300 });
  });

  test('a valid message followed by extra bytes is refused (trailing bytes)', { timeout: 20_000 }, () => {
    fc.assert(fc.property(anyMessage, fc.uint8Array({ minLength: 1, maxLength: 16 }), (msg, extra) => {
      const buf = Buffer.concat([encodePgoutput(msg), extra]);
      assert.throws(() => decodePgoutput(buf), (e: unknown) => isDecodeError(e) && /trailing/.test((e as Error).message));
    }), { numRuns: 300 });
  });

  test('mutated valid messages decode or throw PgoutputDecodeError', { timeout: 20_000 }, () => {
    fc.assert(fc.property(
      anyMessage,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      (msg, edits) => {
        const buf = Buffer.from(encodePgoutput(msg));
        for (const [at, byte] of edits) buf[at % buf.length] = byte;
        decodeOrDecodeError(buf);
      },
    ), { numRuns: 1000 });
  });

  test('mutations of length fields and counts decode or throw PgoutputDecodeError', { timeout: 20_000 }, () => {
    // Overwrite 2 or 4 bytes at a random offset with extreme values (0xFFFF..., 0x7FFF..., 0x8000...).
    const extreme = fc.constantFrom(
      Buffer.from('FFFF', 'hex'), Buffer.from('7FFF', 'hex'), Buffer.from('8000', 'hex'),
      Buffer.from('FFFFFFFF', 'hex'), Buffer.from('7FFFFFFF', 'hex'), Buffer.from('80000000', 'hex'), Buffer.from('00000000', 'hex'),
    );
    fc.assert(fc.property(anyMessage, fc.nat(), extreme, (msg, at, patch) => {
      const buf = Buffer.from(encodePgoutput(msg));
      patch.copy(buf, at % buf.length);
      decodeOrDecodeError(buf);
    }), { numRuns: 1000 });
  });
});

describe('decodePgoutput: Type message namespace', () => {
  test('a non-empty namespace is passed through', () => {
    const decoded = decodePgoutput(cat(h('59 00000001'), s('my schema'), s('t')));
    assert.equal(decoded.tag, 'type');
    assert.equal(decoded.schema, 'my schema');
  });

  // Known bug (reported, not fixed here): the protocol sends pg_catalog as '' in Type messages
  // too (logicalrep_write_namespace), but only Relation maps it back.
  test('an empty namespace means pg_catalog, as in Relation', () => {
    const decoded = decodePgoutput(cat(h('59 00000001'), s(''), s('t')));
    assert.equal(decoded.tag, 'type');
    assert.equal(decoded.schema, 'pg_catalog');
  });
});
