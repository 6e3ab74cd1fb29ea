import avsc from 'avsc';
import type { Schema, Type, types } from 'avsc';
import type { Decimal } from '../decode/numeric.ts';
import { digitCount, parseNumeric, pow10 } from '../decode/numeric.ts';

/*
 * avsc 5.7.9 ships no logical types and its `long` refuses integers beyond 2^53. This module
 * supplies both, so the values produced by src/decode/codec.ts encode exactly and the bytes on
 * the wire are plain Avro (zig-zag longs, two's-complement decimal bytes, ints and strings) that
 * fastavro, Java's GenericDatumReader or any other reader decodes without walcast code.
 *
 * JS values:
 *   long (any, incl. timestamp-micros)  bigint on decode; bigint or safe-integer number on encode
 *   decimal                             Decimal {unscaled: bigint, scale} (a decimal string is
 *                                       also accepted on encode)
 *   date                                number, days since 1970-01-01
 *   time-micros                         number, microseconds since midnight
 *   timestamp-micros                    bigint, microseconds since 1970-01-01T00:00:00Z
 *   uuid                                string, canonical 8-4-4-4-12 hex
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Below this magnitude zig-zag (2|n| + 1) is still an exact double. */
const FAST_ZIGZAG = 2 ** 52;

// One varint is at most 10 bytes. avsc copies what toBuffer returns into its own buffer before
// calling any other type, so one scratch buffer serves every long without an allocation.
const scratch = Buffer.alloc(10);
// A view per length, made once: a subarray per long was 7% of walcast's CPU in allocations.
const scratchViews = Array.from({ length: 11 }, (_, n) => scratch.subarray(0, n));

function zigZagVarint(value: bigint | number): Buffer {
  let n = value;
  if (typeof n === 'bigint') {
    if (n > -FAST_ZIGZAG && n < FAST_ZIGZAG) n = Number(n);
  } else if (n >= FAST_ZIGZAG || n <= -FAST_ZIGZAG) {
    n = BigInt(n); // 2|n| + 1 would round in a double
  }
  let i = 0;
  if (typeof n === 'number') {
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      scratch[i++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    scratch[i++] = z;
  } else {
    let z = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
    while (z >= 0x80n) {
      scratch[i++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    scratch[i++] = Number(z);
  }
  return scratchViews[i]!;
}

function varintToBigInt(buf: Buffer): bigint {
  if (buf.length <= 7) {
    // 49 bits: exact in a double.
    let z = 0;
    for (let i = buf.length - 1; i >= 0; i--) z = z * 0x80 + ((buf[i] as number) & 0x7f);
    return BigInt(z % 2 === 0 ? z / 2 : -(z + 1) / 2);
  }
  let z = 0n;
  for (let i = buf.length - 1; i >= 0; i--) z = (z << 7n) | BigInt((buf[i] as number) & 0x7f);
  return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
}

function isLong(value: unknown): value is bigint | number {
  return typeof value === 'bigint' ? value >= INT64_MIN && value <= INT64_MAX : Number.isSafeInteger(value);
}

/**
 * Avro `long` over the full int64 range. Decodes to bigint always (a reader cannot know in
 * advance whether a value fits a double); encodes bigint or safe-integer numbers, so code that
 * writes small longs (ts_ms, counters) can keep using numbers.
 */
export const BIGINT_LONG: Type = avsc.types.LongType.__with(
  {
    toBuffer: zigZagVarint,
    fromBuffer: varintToBigInt,
    fromJSON: (value: bigint | number | string) => BigInt(value),
    // Exact both ways: avsc's clone goes through toJSON/fromJSON.
    toJSON: (value: bigint | number) =>
      typeof value === 'number' || (value > -FAST_ZIGZAG && value < FAST_ZIGZAG) ? Number(value) : value.toString(),
    isValid: isLong,
    compare: (a: bigint | number, b: bigint | number) => (a < b ? -1 : a > b ? 1 : 0),
  },
  true,
);

function isLongSchema(schema: Schema): boolean {
  return schema === 'long' || (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long');
}

/**
 * Options for the LogicalType constructor: its underlying long must be BIGINT_LONG, but avsc
 * builds the underlying type from the same schema object (logicalType included), which the
 * top-level hook has to leave alone so that avsc instantiates the logical type first.
 */
function underlyingLongOptions(opts: unknown): object {
  return {
    ...(opts as object),
    typeHook: (schema: Schema) => (isLongSchema(schema) ? BIGINT_LONG : undefined),
  };
}

function hasLogicalType(schema: Schema): boolean {
  if (typeof schema !== 'object' || schema === null) return false;
  const name = (schema as { logicalType?: unknown }).logicalType;
  return typeof name === 'string' && Object.hasOwn(logicalTypes, name);
}

function attribute(schema: Schema, name: string): unknown {
  return typeof schema === 'object' && schema !== null ? (schema as unknown as Record<string, unknown>)[name] : undefined;
}

function underlyingName(type: types.LogicalType): string {
  return type.underlyingType.typeName;
}

function isDecimalValue(value: unknown): value is Decimal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Decimal).unscaled === 'bigint' &&
    Number.isInteger((value as Decimal).scale)
  );
}

/** Minimal big-endian two's complement, as Avro's decimal and Java's BigInteger.toByteArray. */
export function toTwosComplement(n: bigint): Buffer {
  if (n >= -0x800000000000n && n < 0x800000000000n) {
    // Up to 6 bytes: plain double arithmetic.
    const v = Number(n);
    let length = 1;
    for (let bound = 0x80; v >= bound || v < -bound; bound *= 0x100) length++;
    const buf = Buffer.allocUnsafe(length);
    buf.writeIntBE(v, 0, length);
    return buf;
  }
  const negative = n < 0n;
  const magnitudeBits = (negative ? -n - 1n : n).toString(2).length;
  const length = Math.floor(magnitudeBits / 8) + 1; // room for the sign bit
  const value = negative ? (1n << BigInt(length * 8)) + n : n;
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

export function fromTwosComplement(buf: Buffer): bigint {
  if (buf.length === 0) return 0n;
  if (buf.length <= 6) return BigInt(buf.readIntBE(0, buf.length));
  const value = BigInt(`0x${buf.toString('hex')}`);
  return ((buf[0] as number) & 0x80) === 0 ? value : value - (1n << BigInt(buf.length * 8));
}

/**
 * Avro `decimal` on `bytes`. The JS value is a Decimal with the schema's scale; on encode a
 * Decimal of another scale is rescaled when that is exact, and a value with more digits than the
 * declared precision is invalid (avsc reports it) rather than written for readers to choke on.
 */
export class DecimalType extends avsc.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  // avsc converts a value twice when it sits in a union (once to pick the branch, once to write
  // it), and every column is in ["null", ...]: remember the last conversion. Decimal values are
  // immutable, so identity is enough.
  private lastValue: unknown;
  private lastBytes: Buffer | undefined;

  constructor(schema: Schema, opts?: unknown) {
    super(schema, opts);
    const precision = attribute(schema, 'precision');
    const scale = attribute(schema, 'scale') ?? 0;
    if (underlyingName(this) !== 'bytes') throw new Error('walcast decimal: only bytes-backed decimals are supported');
    if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1) {
      throw new Error(`walcast decimal: invalid precision ${String(precision)}`);
    }
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new Error(`walcast decimal: invalid scale ${String(scale)}`);
    }
    this.precision = precision;
    this.scale = scale;
  }

  protected override _fromValue(buf: Buffer): Decimal {
    return { unscaled: fromTwosComplement(buf), scale: this.scale };
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    if (value === this.lastValue && this.lastBytes !== undefined) return this.lastBytes;
    const bytes = this.toBytes(value);
    this.lastValue = value;
    this.lastBytes = bytes;
    return bytes;
  }

  private toBytes(value: unknown): Buffer | undefined {
    let decimal: Decimal | undefined;
    if (isDecimalValue(value)) decimal = value;
    else if (typeof value === 'string') decimal = this.parse(value);
    if (decimal === undefined) return undefined;
    let unscaled = decimal.unscaled;
    if (decimal.scale < this.scale) {
      unscaled *= pow10(this.scale - decimal.scale);
    } else if (decimal.scale > this.scale) {
      const divisor = pow10(decimal.scale - this.scale);
      if (unscaled % divisor !== 0n) return undefined;
      unscaled /= divisor;
    }
    if (digitCount(unscaled) > this.precision) return undefined;
    return toTwosComplement(unscaled);
  }

  private parse(text: string): Decimal | undefined {
    try {
      return parseNumeric('decimal', text);
    } catch {
      return undefined;
    }
  }

  protected override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    if (type instanceof DecimalType && type.scale === this.scale) return (value) => value;
    if (type.typeName === 'bytes') return (value) => this._fromValue(value as Buffer);
    return undefined;
  }

  protected override _export(schema: Schema): void {
    const attributes = schema as unknown as Record<string, unknown>;
    attributes.precision = this.precision;
    attributes.scale = this.scale;
  }
}

/** Avro `date`: days since 1970-01-01 as a number. */
export class DateType extends avsc.types.LogicalType {
  constructor(schema: Schema, opts?: unknown) {
    super(schema, opts);
    if (underlyingName(this) !== 'int') throw new Error('walcast date: underlying type must be int');
  }

  protected override _fromValue(days: number): number {
    return days;
  }

  protected override _toValue(days: unknown): number | undefined {
    return typeof days === 'number' && (days | 0) === days ? days : undefined;
  }

  protected override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    return type instanceof DateType || type.typeName === 'int' ? (value) => value : undefined;
  }
}

/** Avro `time-micros`: microseconds since midnight as a number (at most 86,400,000,000). */
export class TimeMicrosType extends avsc.types.LogicalType {
  constructor(schema: Schema, opts?: unknown) {
    super(schema, underlyingLongOptions(opts));
    if (this.underlyingType !== BIGINT_LONG) throw new Error('walcast time-micros: underlying type must be long');
  }

  protected override _fromValue(micros: bigint): number {
    return Number(micros);
  }

  protected override _toValue(micros: unknown): number | undefined {
    return typeof micros === 'number' && Number.isSafeInteger(micros) ? micros : undefined;
  }

  protected override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    if (type instanceof TimeMicrosType) return (value) => value;
    if (type.typeName === 'long' || type.typeName === 'abstract:long') return (value) => Number(value);
    return undefined;
  }
}

/** Avro `timestamp-micros`: microseconds since the epoch, UTC, as a bigint (int64 range). */
export class TimestampMicrosType extends avsc.types.LogicalType {
  constructor(schema: Schema, opts?: unknown) {
    super(schema, underlyingLongOptions(opts));
    if (this.underlyingType !== BIGINT_LONG) throw new Error('walcast timestamp-micros: underlying type must be long');
  }

  protected override _fromValue(micros: bigint): bigint {
    return micros;
  }

  protected override _toValue(micros: unknown): bigint | number | undefined {
    return isLong(micros) ? micros : undefined;
  }

  protected override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    if (type instanceof TimestampMicrosType) return (value) => value;
    if (type.typeName === 'long' || type.typeName === 'abstract:long') return (value) => BigInt(value as bigint);
    return undefined;
  }
}

function isUuid(value: string): boolean {
  if (value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) {
      return false;
    }
  }
  return true;
}

/** Avro `uuid` on `string`, canonical 8-4-4-4-12 hex. */
export class UuidType extends avsc.types.LogicalType {
  constructor(schema: Schema, opts?: unknown) {
    super(schema, opts);
    if (underlyingName(this) !== 'string') throw new Error('walcast uuid: underlying type must be string');
  }

  protected override _fromValue(value: string): string {
    return value;
  }

  protected override _toValue(value: unknown): string | undefined {
    return typeof value === 'string' && isUuid(value) ? value : undefined;
  }

  protected override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    return type instanceof UuidType || type.typeName === 'string' ? (value) => value : undefined;
  }
}

/** Logical type classes by Avro `logicalType` name. */
export const logicalTypes = {
  decimal: DecimalType,
  date: DateType,
  'time-micros': TimeMicrosType,
  'timestamp-micros': TimestampMicrosType,
  uuid: UuidType,
} as const;

/** The subset of avsc's ForSchemaOptions walcast sets. */
export interface AvroTypeOptions {
  logicalTypes: Record<string, new (schema: Schema, opts?: unknown) => types.LogicalType>;
  assertLogicalTypes: true;
  registry: Record<string, Type>;
  typeHook: (schema: Schema) => Type | undefined;
}

/**
 * Options for `avsc.Type.forSchema(schema, avroTypeOptions())`. A function, not a shared
 * object, because avsc records every named type it meets in `registry`: sharing one registry
 * between two versions of an envelope schema would make the second fail on a duplicate name.
 *
 * `typeHook` makes every `long` (bare or in object form, where avsc would ignore the registry)
 * the bigint-capable BIGINT_LONG, except a long carrying a logical type registered here, which
 * avsc must first turn into that logical type (whose constructor then asks for the long again).
 * `assertLogicalTypes` turns an invalid decimal (say, scale > precision) into an error instead of
 * Avro's silent fall-back to plain bytes.
 */
export function avroTypeOptions(): AvroTypeOptions {
  return {
    logicalTypes,
    assertLogicalTypes: true,
    registry: { long: BIGINT_LONG },
    typeHook: (schema: Schema) => (isLongSchema(schema) && !hasLogicalType(schema) ? BIGINT_LONG : undefined),
  };
}

/** Convenience: an avsc Type for `schema` with walcast's logical types. */
export function avroType(schema: Schema): Type {
  return avsc.Type.forSchema(schema, avroTypeOptions());
}
