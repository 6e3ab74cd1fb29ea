/**
 * Decoder for the pgoutput logical replication protocol, version 1
 * (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html).
 *
 * Written here rather than taken from pg-logical-replication because that parser runs values
 * through the global pg-types parsers (millisecond timestamps, float numerics); walcast keeps
 * pgoutput's text exactly and decodes it by type OID later.
 */
import type { Lsn } from '../../pg/lsn.ts';

/** Marks a TOASTed value that did not change and that pgoutput therefore did not send. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

export interface RelationColumnMessage {
  name: string;
  isKey: boolean;
  typeOid: number;
  typeMod: number;
}
export interface BeginMessage { tag: 'begin'; finalLsn: Lsn; commitTimeMicros: bigint; xid: number }
export interface CommitMessage { tag: 'commit'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTimeMicros: bigint }
export interface OriginMessage { tag: 'origin'; originLsn: Lsn; name: string }
export interface RelationMessage {
  tag: 'relation';
  relationId: number;
  schema: string;
  table: string;
  /** d default, n nothing, f full, i index */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumnMessage[];
}
export interface TypeMessage { tag: 'type'; typeOid: number; schema: string; name: string }
export interface InsertMessage { tag: 'insert'; relationId: number; newTuple: TupleValue[] }
export interface UpdateMessage {
  tag: 'update';
  relationId: number;
  /** Present when the replica identity changed (K: key columns only) or under REPLICA IDENTITY FULL (O). */
  oldTuple: TupleValue[] | null;
  oldTupleKind: 'K' | 'O' | null;
  newTuple: TupleValue[];
}
export interface DeleteMessage { tag: 'delete'; relationId: number; oldTuple: TupleValue[]; oldTupleKind: 'K' | 'O' }
export interface TruncateMessage { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relationIds: number[] }
export interface LogicalMessage { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }

export type PgoutputMessage =
  | BeginMessage | CommitMessage | OriginMessage | RelationMessage | TypeMessage
  | InsertMessage | UpdateMessage | DeleteMessage | TruncateMessage | LogicalMessage;

export class PgoutputDecodeError extends Error {
  readonly code = 'WALCAST_PGOUTPUT_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'PgoutputDecodeError';
  }
}

class Reader {
  offset = 0;
  private buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /** Starts over on another message (one reader serves every decode: decoding never nests). */
  reset(buf: Buffer): this {
    this.buf = buf;
    this.offset = 0;
    return this;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new PgoutputDecodeError(`message truncated: need ${n} bytes at offset ${this.offset}, have ${this.buf.length - this.offset}`);
    }
  }
  u8(): number { this.need(1); return this.buf[this.offset++]!; }
  i16(): number { this.need(2); const v = this.buf.readInt16BE(this.offset); this.offset += 2; return v; }
  i32(): number { this.need(4); const v = this.buf.readInt32BE(this.offset); this.offset += 4; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.offset); this.offset += 4; return v; }
  u64(): bigint { this.need(8); const v = this.buf.readBigUInt64BE(this.offset); this.offset += 8; return v; }
  i64(): bigint { this.need(8); const v = this.buf.readBigInt64BE(this.offset); this.offset += 8; return v; }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new PgoutputDecodeError(`unterminated string at offset ${this.offset}`);
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    if (n < 0) throw new PgoutputDecodeError(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  skip(n: number): void {
    if (n < 0) throw new PgoutputDecodeError(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    this.offset += n;
  }
  text(n: number): string {
    if (n < 0) throw new PgoutputDecodeError(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  done(): boolean { return this.offset === this.buf.length; }
}

/** RawTuple lengths of values that carry no text. */
export const RAW_NULL = -1;
export const RAW_UNCHANGED_TOAST = -2;

/**
 * A tuple as it lies in its frame: where each value's text is, and no string made yet. The Avro
 * row writer (src/encode/avro-rows.ts) encodes most values straight from these bytes; values()
 * gives the usual strings, once, for everything else.
 */
export class RawTuple {
  readonly buf: Buffer;
  /** Per column i: [2i] the text's offset in `buf`, [2i + 1] its length, or RAW_NULL / RAW_UNCHANGED_TOAST. */
  readonly spans: Int32Array;
  private strings: TupleValue[] | null = null;

  constructor(buf: Buffer, spans: Int32Array) {
    this.buf = buf;
    this.spans = spans;
  }

  get length(): number {
    return this.spans.length >> 1;
  }

  /** The values as decodePgoutput() gives them (UTF-8 text, null, UNCHANGED_TOAST). */
  values(): TupleValue[] {
    if (this.strings) return this.strings;
    const { buf, spans } = this;
    const values = new Array<TupleValue>(spans.length >> 1);
    for (let i = 0; i < values.length; i++) {
      const length = spans[2 * i + 1]!;
      values[i] = length === RAW_NULL ? null : length === RAW_UNCHANGED_TOAST ? UNCHANGED_TOAST : buf.toString('utf8', spans[2 * i]!, spans[2 * i]! + length);
    }
    this.strings = values;
    return values;
  }
}

function rawTuple(r: Reader, buf: Buffer): RawTuple {
  const count = r.i16();
  if (count < 0) throw new PgoutputDecodeError(`negative column count ${count}`);
  const spans = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    switch (kind) {
      case 0x6e: spans[2 * i + 1] = RAW_NULL; break; // n
      case 0x75: spans[2 * i + 1] = RAW_UNCHANGED_TOAST; break; // u
      case 0x74: { // t
        const length = r.i32();
        spans[2 * i] = r.offset;
        r.skip(length);
        spans[2 * i + 1] = length;
        break;
      }
      case 0x62: throw new PgoutputDecodeError('binary tuple data received; walcast requests text format');
      default: throw new PgoutputDecodeError(`unknown tuple data kind 0x${kind.toString(16)} for column ${i}`);
    }
  }
  return new RawTuple(buf, spans);
}

/**
 * Row messages of decodeFrame(): the tuples stay raw (`newRaw`, `oldRaw`) and become strings
 * only when something reads `newTuple` / `oldTuple`.
 */
class RawInsert implements InsertMessage {
  readonly tag = 'insert' as const;
  readonly relationId: number;
  readonly newRaw: RawTuple;
  constructor(relationId: number, newRaw: RawTuple) {
    this.relationId = relationId;
    this.newRaw = newRaw;
  }
  get newTuple(): TupleValue[] {
    return this.newRaw.values();
  }
}

class RawUpdate implements UpdateMessage {
  readonly tag = 'update' as const;
  readonly relationId: number;
  readonly oldTupleKind: 'K' | 'O' | null;
  readonly oldRaw: RawTuple | null;
  readonly newRaw: RawTuple;
  constructor(relationId: number, oldTupleKind: 'K' | 'O' | null, oldRaw: RawTuple | null, newRaw: RawTuple) {
    this.relationId = relationId;
    this.oldTupleKind = oldTupleKind;
    this.oldRaw = oldRaw;
    this.newRaw = newRaw;
  }
  get oldTuple(): TupleValue[] | null {
    return this.oldRaw ? this.oldRaw.values() : null;
  }
  get newTuple(): TupleValue[] {
    return this.newRaw.values();
  }
}

class RawDelete implements DeleteMessage {
  readonly tag = 'delete' as const;
  readonly relationId: number;
  readonly oldTupleKind: 'K' | 'O';
  readonly oldRaw: RawTuple;
  constructor(relationId: number, oldTupleKind: 'K' | 'O', oldRaw: RawTuple) {
    this.relationId = relationId;
    this.oldTupleKind = oldTupleKind;
    this.oldRaw = oldRaw;
  }
  get oldTuple(): TupleValue[] {
    return this.oldRaw.values();
  }
}

/** A row message whose tuples decodeFrame() left raw. */
export type RawRowMessage = RawInsert | RawUpdate | RawDelete;

export function isRawRow(message: PgoutputMessage): message is RawRowMessage {
  return message instanceof RawInsert || message instanceof RawUpdate || message instanceof RawDelete;
}

function tuple(r: Reader): TupleValue[] {
  const count = r.i16();
  if (count < 0) throw new PgoutputDecodeError(`negative column count ${count}`);
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    switch (kind) {
      case 0x6e: values[i] = null; break; // n
      case 0x75: values[i] = UNCHANGED_TOAST; break; // u
      case 0x74: values[i] = r.text(r.i32()); break; // t
      case 0x62: throw new PgoutputDecodeError('binary tuple data received; walcast requests text format');
      default: throw new PgoutputDecodeError(`unknown tuple data kind 0x${kind.toString(16)} for column ${i}`);
    }
  }
  return values;
}

const micros = (pgMicros: bigint): bigint => pgMicros + PG_EPOCH_MICROS;

/** Decodes one pgoutput message (the payload of an XLogData frame). */
export function decodePgoutput(buf: Buffer): PgoutputMessage {
  return decode(buf, false);
}

/**
 * As decodePgoutput(), but row messages keep their tuples raw (RawTuple; `newTuple` and
 * `oldTuple` still read as strings): the stream's decoder. `buf` must not change while the
 * message is in use.
 */
export function decodeFrame(buf: Buffer): PgoutputMessage {
  return decode(buf, true);
}

const READER = new Reader(Buffer.alloc(0));

function decode(buf: Buffer, raw: boolean): PgoutputMessage {
  const r = READER.reset(buf);
  const tag = r.u8();
  let msg: PgoutputMessage;
  switch (tag) {
    case 0x42: // B
      msg = { tag: 'begin', finalLsn: r.u64(), commitTimeMicros: micros(r.i64()), xid: r.u32() };
      break;
    case 0x43: // C
      msg = { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTimeMicros: micros(r.i64()) };
      break;
    case 0x4f: // O
      msg = { tag: 'origin', originLsn: r.u64(), name: r.cstring() };
      break;
    case 0x52: { // R
      const relationId = r.u32();
      const schema = r.cstring() || 'pg_catalog';
      const table = r.cstring();
      const identity = String.fromCharCode(r.u8());
      if (identity !== 'd' && identity !== 'n' && identity !== 'f' && identity !== 'i') {
        throw new PgoutputDecodeError(`unknown replica identity ${JSON.stringify(identity)} for ${schema}.${table}`);
      }
      const count = r.i16();
      const columns: RelationColumnMessage[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        columns.push({ isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
      }
      msg = { tag: 'relation', relationId, schema, table, replicaIdentity: identity, columns };
      break;
    }
    case 0x59: // Y
      msg = { tag: 'type', typeOid: r.u32(), schema: r.cstring() || 'pg_catalog', name: r.cstring() };
      break;
    case 0x49: { // I
      const relationId = r.u32();
      const marker = r.u8();
      if (marker !== 0x4e) throw new PgoutputDecodeError(`insert: expected 'N', got 0x${marker.toString(16)}`);
      msg = raw ? new RawInsert(relationId, rawTuple(r, buf)) : { tag: 'insert', relationId, newTuple: tuple(r) };
      break;
    }
    case 0x55: { // U
      const relationId = r.u32();
      let marker = r.u8();
      let oldTuple: TupleValue[] | null = null;
      let oldRaw: RawTuple | null = null;
      let oldTupleKind: 'K' | 'O' | null = null;
      if (marker === 0x4b || marker === 0x4f) {
        oldTupleKind = marker === 0x4b ? 'K' : 'O';
        if (raw) oldRaw = rawTuple(r, buf);
        else oldTuple = tuple(r);
        marker = r.u8();
      }
      if (marker !== 0x4e) throw new PgoutputDecodeError(`update: expected 'N', got 0x${marker.toString(16)}`);
      msg = raw ? new RawUpdate(relationId, oldTupleKind, oldRaw, rawTuple(r, buf)) : { tag: 'update', relationId, oldTuple, oldTupleKind, newTuple: tuple(r) };
      break;
    }
    case 0x44: { // D
      const relationId = r.u32();
      const marker = r.u8();
      if (marker !== 0x4b && marker !== 0x4f) throw new PgoutputDecodeError(`delete: expected 'K' or 'O', got 0x${marker.toString(16)}`);
      const oldTupleKind = marker === 0x4b ? 'K' : 'O';
      msg = raw ? new RawDelete(relationId, oldTupleKind, rawTuple(r, buf)) : { tag: 'delete', relationId, oldTupleKind, oldTuple: tuple(r) };
      break;
    }
    case 0x54: { // T
      const count = r.u32();
      const options = r.u8();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(r.u32());
      msg = { tag: 'truncate', cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationIds };
      break;
    }
    case 0x4d: { // M
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const content = Buffer.from(r.bytes(r.i32()));
      msg = { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
      break;
    }
    default:
      throw new PgoutputDecodeError(
        `unsupported pgoutput message ${JSON.stringify(String.fromCharCode(tag))} (0x${tag.toString(16)}); ` +
          'walcast speaks protocol version 1 without streaming or two-phase',
      );
  }
  if (!r.done()) {
    throw new PgoutputDecodeError(`${msg.tag} message has ${buf.length - r.offset} trailing bytes`);
  }
  return msg;
}
