/**
 * A writer compiled once per avsc Type that writes the same bytes as `type.encode(value, ...)`
 * without avsc's per-value overhead on walcast's hot path: unions of null and one branch decided
 * by a null check instead of avsc's branch probing (every long and logical column is such a
 * branch, probed with `_check` on every value), longs written straight into the buffer instead
 * of through a varint copy, and no Tap per message.
 *
 * Only what walcast's envelopes are made of has a fast path (records, ["null", X] unions,
 * string, int, boolean, double, bytes, walcast's long and logical types). Anything else, and any
 * value a fast path does not recognise, goes through avsc for that field, so a value avsc would
 * refuse is refused by avsc, with its error.
 */
import avsc from 'avsc';
import type { Decimal } from '../decode/numeric.ts';
import { BIGINT_LONG, DecimalType } from './avro-logical-types.ts';

/**
 * The output buffer and position; grows as needed. Two ways to get the bytes out: take() copies
 * everything written since position 0; begin()/claim() hand out each record as a view of the
 * buffer, which is then used as an arena (no copy, no allocation but the view's object): a
 * claimed range is never written again, and a new buffer is started between records once the
 * current one runs low, so the records of a produce request share a few buffers, which live as
 * long as some record of theirs does.
 */
export class AvroOut {
  buf: Buffer;
  pos = 0;
  /** Where the record being written started (begin()). */
  private mark = 0;
  private readonly size: number;

  constructor(size = 64 * 1024) {
    this.size = size;
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Keeps every offset: writers remember positions inside the record being written. */
  private grow(n: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A copy of the bytes written so far. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** Starts a record for claim(); in a new buffer when less than a quarter of this one is left. */
  begin(): void {
    if (this.buf.length - this.pos < this.size >> 2) {
      this.buf = Buffer.allocUnsafe(this.size);
      this.pos = 0;
    }
    this.mark = this.pos;
  }

  /** Drops what was written since begin() (a value was refused part-way). */
  abandon(): void {
    this.pos = this.mark;
  }

  /** The record written since begin(), as a view that later writes never touch. */
  claim(): Buffer {
    const view = this.buf.subarray(this.mark, this.pos);
    this.mark = this.pos;
    return view;
  }
}

/** Writes `value` at out.pos and advances it. */
export type AvroWrite = (out: AvroOut, value: unknown) => void;
/** Writes `value` and returns true, or writes nothing and returns false (not its fast path). */
type TryWrite = (out: AvroOut, value: unknown) => boolean;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Below this magnitude zig-zag (2|n| + 1) is still an exact double. */
const FAST_NUMBER = 2 ** 52;
/** Decimals below this magnitude: up to 6 bytes, exact double arithmetic (as toTwosComplement). */
const FAST_DECIMAL = 0x800000000000;
const FAST_DECIMAL_BIG = 0x800000000000n;

/** Zig-zag varint of an integer-valued number (|n| < 2^52: 2|n| + 1 exact). */
export function writeLong(out: AvroOut, n: number): void {
  out.ensure(10);
  const buf = out.buf;
  let pos = out.pos;
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[pos++] = m;
  } else {
    let f = n >= 0 ? n * 2 : -n * 2 - 1;
    while (f >= 0x80) {
      buf[pos++] = (f % 0x80) | 0x80;
      f = Math.floor(f / 0x80);
    }
    buf[pos++] = f;
  }
  out.pos = pos;
}

function writeBigLong(out: AvroOut, n: bigint): void {
  out.ensure(10);
  const buf = out.buf;
  let pos = out.pos;
  // The zig-zag value in two 32-bit halves, then 7-bit groups with number arithmetic: a BigInt
  // operation per group allocated a BigInt each.
  const z = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
  let hi = Number(z >> 32n);
  let lo = Number(z & 0xffffffffn);
  while (hi > 0 || lo >= 0x80) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = (lo >>> 7) | ((hi & 0x7f) << 25);
    lo >>>= 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  out.pos = pos;
}

/** UTF-8 as avsc's Tap.writeString (its own loop up to 64 bytes, utf8Write beyond). */
function writeString(out: AvroOut, s: string): void {
  const len = Buffer.byteLength(s);
  writeLong(out, len);
  out.ensure(len);
  const buf = out.buf;
  let pos = out.pos;
  if (len > 64) {
    buf.write(s, pos, len, 'utf8'); // utf8Write, as avsc
    out.pos = pos + len;
    return;
  }
  // avsc's loop runs to the byte length, past the string's end on multi-byte text, writing junk
  // after the string that later fields overwrite: the string's own bytes are these.
  const end = pos + len;
  for (let i = 0, n = s.length; i < n; i++) {
    let c1 = s.charCodeAt(i);
    let c2: number;
    if (c1 < 0x80) {
      buf[pos++] = c1;
    } else if (c1 < 0x800) {
      buf[pos++] = (c1 >> 6) | 0xc0;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
      c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
      i++;
      buf[pos++] = (c1 >> 18) | 0xf0;
      buf[pos++] = ((c1 >> 12) & 0x3f) | 0x80;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else {
      buf[pos++] = (c1 >> 12) | 0xe0;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    }
  }
  out.pos = end;
}

function writeByte(out: AvroOut, b: number): void {
  out.ensure(1);
  out.buf[out.pos++] = b;
}

/**
 * avsc refused a value (its message, unchanged). Never expected for values walcast's codecs
 * build; if it happens, the row goes by WALCAST_ERRORS_TOLERANCE like any row that cannot be
 * published, instead of ending the session as if a service had failed.
 */
export class AvroEncodeError extends Error {
  readonly code = 'WALCAST_VALUE_ENCODE';
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'AvroEncodeError';
  }
}

/** avsc writes `value` as `type` at out.pos (its errors, its bytes). Only values off the fast paths come here. */
function avscWrite(type: avsc.Type, out: AvroOut, value: unknown): void {
  for (;;) {
    let end: number;
    try {
      end = type.encode(value, out.buf, out.pos);
    } catch (error) {
      throw new AvroEncodeError(error);
    }
    if (end >= 0) {
      out.pos = end;
      return;
    }
    out.ensure(out.buf.length - out.pos - end);
  }
}

interface LogicalInternals {
  underlyingType: avsc.Type;
  _toValue(value: unknown): unknown;
}

function isDecimalValue(value: unknown): value is Decimal {
  return typeof value === 'object' && value !== null && typeof (value as Decimal).unscaled === 'bigint' && Number.isInteger((value as Decimal).scale);
}

function isObjectBucket(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** A logical type's conversion, then its underlying type's fast path. */
function logicalWriter(type: avsc.Type): TryWrite | null {
  const logical = type as unknown as LogicalInternals;
  const underlying = tryWriter(logical.underlyingType);
  if (!underlying) return null;
  return (out, v) => {
    let u: unknown;
    try {
      u = logical._toValue(v);
    } catch {
      return false;
    }
    return u !== undefined && underlying(out, u);
  };
}

/** The fast path of a non-union type, or null where there is none. */
function tryWriter(type: avsc.Type): TryWrite | null {
  if (type === BIGINT_LONG) {
    let lastBig: bigint | null = null;
    let lastBytes = Buffer.alloc(0);
    return (out, v) => {
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v)) return false;
        if (v > -FAST_NUMBER && v < FAST_NUMBER) writeLong(out, v);
        else writeBigLong(out, BigInt(v));
        return true;
      }
      if (typeof v !== 'bigint') return false;
      // Most longs (ids, epoch microseconds) are small: one conversion decides, no BigInt
      // comparison. Number() rounds monotonically and 2^52 is a double, so a result inside
      // (-2^52, 2^52) means the bigint itself is inside, and exactly that number.
      const n = Number(v);
      if (n > -FAST_NUMBER && n < FAST_NUMBER) {
        writeLong(out, n);
      } else if (v < INT64_MIN || v > INT64_MAX) {
        return false;
      } else if (v === lastBig) {
        // Nanosecond timestamps: the same value for a whole transaction or millisecond.
        out.ensure(lastBytes.length);
        lastBytes.copy(out.buf, out.pos);
        out.pos += lastBytes.length;
      } else {
        const start = out.pos;
        writeBigLong(out, v);
        lastBig = v;
        lastBytes = Buffer.from(out.buf.subarray(start, out.pos));
      }
      return true;
    };
  }
  if (type instanceof DecimalType) {
    const general = logicalWriter(type);
    const { scale, precision } = type;
    // Small decimals of the column's scale (every value of a numeric(p,s) column decoded by
    // walcast): the minimal two's complement straight into the buffer, no Buffer per value.
    const limit = precision <= 15 ? 10 ** precision : FAST_DECIMAL;
    return (out, v) => {
      if (isDecimalValue(v) && v.scale === scale) {
        const unscaled = v.unscaled;
        if (unscaled > -FAST_DECIMAL_BIG && unscaled < FAST_DECIMAL_BIG) {
          const n = Number(unscaled);
          if (n > -limit && n < limit) {
            let length = 1;
            for (let bound = 0x80; n >= bound || n < -bound; bound *= 0x100) length++;
            writeLong(out, length);
            out.ensure(length);
            out.buf.writeIntBE(n, out.pos, length);
            out.pos += length;
            return true;
          }
        }
      }
      return general ? general(out, v) : false;
    };
  }
  if (type instanceof avsc.types.LogicalType) {
    return logicalWriter(type);
  }
  if (type instanceof avsc.types.StringType) {
    return (out, v) => {
      if (typeof v !== 'string') return false;
      writeString(out, v);
      return true;
    };
  }
  if (type instanceof avsc.types.IntType) {
    return (out, v) => {
      if (typeof v !== 'number' || v !== (v | 0)) return false;
      writeLong(out, v as number);
      return true;
    };
  }
  if (type instanceof avsc.types.BooleanType) {
    return (out, v) => {
      if (typeof v !== 'boolean') return false;
      writeByte(out, v ? 1 : 0);
      return true;
    };
  }
  if (type instanceof avsc.types.DoubleType) {
    return (out, v) => {
      if (typeof v !== 'number') return false;
      out.ensure(8);
      out.buf.writeDoubleLE(v, out.pos);
      out.pos += 8;
      return true;
    };
  }
  if (type instanceof avsc.types.BytesType) {
    return (out, v) => {
      if (!Buffer.isBuffer(v)) return false;
      writeLong(out, v.length);
      out.ensure(v.length);
      v.copy(out.buf, out.pos);
      out.pos += v.length;
      return true;
    };
  }
  if (type instanceof avsc.types.RecordType) {
    const write = recordWriter(type);
    return (out, v) => {
      if (!isObjectBucket(v)) return false;
      write(out, v);
      return true;
    };
  }
  return null;
}

/** Zig-zag varint of a small union index, one byte. */
function indexByte(index: number): number {
  return index << 1;
}

/** A writer for any type: fast where it can, avsc otherwise. */
export function avroWriter(type: avsc.Type): AvroWrite {
  if (type instanceof avsc.types.UnwrappedUnionType) {
    const branches = (type as unknown as { types: avsc.Type[] }).types;
    const nullIndex = branches.findIndex((t) => t instanceof avsc.types.NullType);
    if (branches.length === 2 && nullIndex >= 0) {
      const valueIndex = 1 - nullIndex;
      const fast = tryWriter(branches[valueIndex]!);
      if (fast) {
        const nullByte = indexByte(nullIndex);
        const valueByte = indexByte(valueIndex);
        return (out, v) => {
          if (v === null) {
            writeByte(out, nullByte);
            return;
          }
          const mark = out.pos;
          writeByte(out, valueByte);
          if (!fast(out, v)) {
            out.pos = mark;
            avscWrite(type, out, v);
          }
        };
      }
    }
    return (out, v) => avscWrite(type, out, v);
  }
  const fast = tryWriter(type);
  if (!fast) return (out, v) => avscWrite(type, out, v);
  return (out, v) => {
    if (!fast(out, v)) avscWrite(type, out, v);
  };
}

interface FieldWriter {
  name: string;
  write: AvroWrite;
  /** The encoded default, written for an undefined value; null: the field has no default. */
  defaultBytes: Buffer | null;
}

interface RecordField {
  name: string;
  type: avsc.Type;
  defaultValue(): unknown;
}

/**
 * Records whose first fields hold the same values event after event: Debezium's source block
 * (version, connector, name, ts_ms, snapshot, db change at most once per transaction). Their
 * bytes are remembered and copied while the values stay the same (compared with ===, primitives
 * only).
 */
const MEMO_PREFIX: Record<string, number> = { 'io.debezium.connector.postgresql.Source': 6 };

/** Fields in order; an undefined value takes the field's default, as avsc's record writer does. */
export function recordWriter(type: avsc.Type): (out: AvroOut, value: Record<string, unknown>) => void {
  const fields = fieldWriters(type);
  const memo = Math.min(MEMO_PREFIX[(type as unknown as { name?: string }).name ?? ''] ?? 0, fields.length);
  if (memo === 0) return (out, value) => writeFields(fields, 0, out, value);
  const lastValues: unknown[] = new Array<unknown>(memo).fill(undefined);
  let lastBytes: Buffer | null = null;
  return (out, value) => {
    let same = lastBytes !== null;
    for (let i = 0; same && i < memo; i++) same = value[fields[i]!.name] === lastValues[i];
    if (same) {
      const bytes = lastBytes!;
      out.ensure(bytes.length);
      bytes.copy(out.buf, out.pos);
      out.pos += bytes.length;
    } else {
      const start = out.pos;
      writeFields(fields, 0, out, value, memo);
      lastBytes = null;
      let primitive = true;
      for (let i = 0; i < memo; i++) {
        const v = value[fields[i]!.name];
        lastValues[i] = v;
        if (typeof v === 'object' || typeof v === 'function') primitive = false;
      }
      if (primitive) lastBytes = Buffer.from(out.buf.subarray(start, out.pos));
    }
    writeFields(fields, memo, out, value);
  };
}

function writeFields(fields: FieldWriter[], from: number, out: AvroOut, value: Record<string, unknown>, to = fields.length): void {
  for (let i = from; i < to; i++) {
    const field = fields[i]!;
    const v = value[field.name];
    if (v === undefined && field.defaultBytes !== null) {
      out.ensure(field.defaultBytes.length);
      field.defaultBytes.copy(out.buf, out.pos);
      out.pos += field.defaultBytes.length;
    } else {
      field.write(out, v);
    }
  }
}

function fieldWriters(type: avsc.Type): FieldWriter[] {
  return (type as unknown as { fields: RecordField[] }).fields.map((field) => {
    const defaultValue = field.defaultValue();
    return {
      name: field.name,
      write: avroWriter(field.type),
      defaultBytes: defaultValue === undefined ? null : field.type.toBuffer(defaultValue),
    };
  });
}
