import { ValueDecodeError } from './errors.ts';

/*
 * Decoders for the simple built-in types. They run once per column value, so they scan char
 * codes rather than using regexes, Number() on unchecked input (which would accept "", " 1",
 * "0x1f") or parseInt (which would accept "12abc").
 */

export function parseBool(typeName: string, text: string): boolean {
  if (text === 't') return true;
  if (text === 'f') return false;
  throw new ValueDecodeError(typeName, text, 'expected "t" or "f"');
}

/** int2 / int4: optional minus, 1..10 digits, within [min, max]. */
export function parseSmallInt(typeName: string, text: string, min: number, max: number): number {
  const len = text.length;
  let i = 0;
  let negative = false;
  if (len > 0 && text.charCodeAt(0) === 45 /* - */) {
    negative = true;
    i = 1;
  }
  if (len === i || len - i > 10) throw new ValueDecodeError(typeName, text, 'not an integer in range');
  let n = 0;
  for (; i < len; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new ValueDecodeError(typeName, text, 'not an integer');
    n = n * 10 + d;
  }
  if (negative) n = -n;
  if (n < min || n > max) throw new ValueDecodeError(typeName, text, 'out of range');
  return n;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** int8 (and other 64-bit integers) as an exact bigint. */
export function parseBigInt(typeName: string, text: string, min: bigint = INT64_MIN, max: bigint = INT64_MAX): bigint {
  const len = text.length;
  const start = len > 0 && text.charCodeAt(0) === 45 ? 1 : 0;
  const digits = len - start;
  if (digits === 0 || digits > 19) throw new ValueDecodeError(typeName, text, 'not a 64-bit integer');
  let n = 0;
  for (let i = start; i < len; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new ValueDecodeError(typeName, text, 'not an integer');
    // Exact while at most 15 digits; longer values are re-read as a BigInt below.
    n = n * 10 + d;
  }
  const value = digits <= 15 ? BigInt(start === 1 ? -n : n) : BigInt(text);
  if (value < min || value > max) throw new ValueDecodeError(typeName, text, 'out of range');
  return value;
}

/** True if every char could belong to a float_out number (digits, sign, point, exponent). */
function isFloatSyntax(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69)) return false;
  }
  return true;
}

/**
 * float8 text -> number, including "NaN", "Infinity", "-Infinity" and "-0". float8_out prints
 * the shortest text that reads back as the same double (extra_float_digits >= 1, the default
 * since PostgreSQL 12), so Number() recovers the stored value exactly.
 */
export function parseFloat8(typeName: string, text: string): number {
  if (isFloatSyntax(text)) {
    const n = Number(text);
    if (!Number.isNaN(n)) return n;
  } else if (text === 'NaN') {
    return NaN;
  } else if (text === 'Infinity') {
    return Infinity;
  } else if (text === '-Infinity') {
    return -Infinity;
  }
  throw new ValueDecodeError(typeName, text, 'not a floating-point number');
}

/**
 * float4 text -> the exact float32 value as a number. float4_out prints the shortest text that
 * identifies the float32, so rounding the parsed double to float32 gives back the stored value.
 */
export function parseFloat4(typeName: string, text: string): number {
  const d = parseFloat8(typeName, text);
  const f = Math.fround(d);
  if (Number.isFinite(d) && !Number.isFinite(f)) throw new ValueDecodeError(typeName, text, 'out of float4 range');
  return f;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * bytea text in either bytea_output format: hex (`\x0aff`, the default) or escape (printable
 * bytes as themselves, `\\` for a backslash, `\ooo` octal for the rest).
 */
export function parseBytea(typeName: string, text: string): Buffer {
  if (text.charCodeAt(0) === 92 && text.charCodeAt(1) === 120 /* \x */) {
    const hexLength = text.length - 2;
    if (hexLength % 2 !== 0) throw new ValueDecodeError(typeName, text, 'odd number of hex digits');
    const buf = Buffer.from(text.slice(2), 'hex');
    // Buffer.from stops silently at the first non-hex pair; a short result means bad input.
    if (buf.length * 2 !== hexLength) throw new ValueDecodeError(typeName, text, 'invalid hex digit');
    return buf;
  }
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new ValueDecodeError(typeName, text, 'non-byte character in escape format');
    if (c !== 92) {
      out[n++] = c;
      continue;
    }
    if (text.charCodeAt(i + 1) === 92) {
      out[n++] = 92;
      i++;
      continue;
    }
    // charCodeAt past the end is NaN, which fails these range tests as it must.
    const a = text.charCodeAt(i + 1) - 48;
    const b = text.charCodeAt(i + 2) - 48;
    const d = text.charCodeAt(i + 3) - 48;
    if (!(a >= 0 && a <= 3 && b >= 0 && b <= 7 && d >= 0 && d <= 7)) {
      throw new ValueDecodeError(typeName, text, 'bad escape sequence');
    }
    out[n++] = a * 64 + b * 8 + d;
    i += 3;
  }
  return out.subarray(0, n);
}

/** uuid_out's canonical lowercase 8-4-4-4-12 form (checked, then passed through). */
export function parseUuid(typeName: string, text: string): string {
  if (text.length !== 36) throw new ValueDecodeError(typeName, text, 'not a canonical uuid');
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23 ? c !== 45 : hexValue(c) < 0) {
      throw new ValueDecodeError(typeName, text, 'not a canonical uuid');
    }
  }
  return text;
}

/** bit / varbit text: only 0 and 1. */
export function parseBitString(typeName: string, text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 48 && c !== 49) throw new ValueDecodeError(typeName, text, 'not a bit string');
  }
  return text;
}
