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
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
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
  text(n: number): string {
    if (n < 0) throw new PgoutputDecodeError(`negative length ${n} at offset ${this.offset}`);
    this.need(n);
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  done(): boolean { return this.offset === this.buf.length; }
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
  const r = new Reader(buf);
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
      msg = { tag: 'insert', relationId, newTuple: tuple(r) };
      break;
    }
    case 0x55: { // U
      const relationId = r.u32();
      let marker = r.u8();
      let oldTuple: TupleValue[] | null = null;
      let oldTupleKind: 'K' | 'O' | null = null;
      if (marker === 0x4b || marker === 0x4f) {
        oldTupleKind = marker === 0x4b ? 'K' : 'O';
        oldTuple = tuple(r);
        marker = r.u8();
      }
      if (marker !== 0x4e) throw new PgoutputDecodeError(`update: expected 'N', got 0x${marker.toString(16)}`);
      msg = { tag: 'update', relationId, oldTuple, oldTupleKind, newTuple: tuple(r) };
      break;
    }
    case 0x44: { // D
      const relationId = r.u32();
      const marker = r.u8();
      if (marker !== 0x4b && marker !== 0x4f) throw new PgoutputDecodeError(`delete: expected 'K' or 'O', got 0x${marker.toString(16)}`);
      msg = { tag: 'delete', relationId, oldTupleKind: marker === 0x4b ? 'K' : 'O', oldTuple: tuple(r) };
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
