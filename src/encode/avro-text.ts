/**
 * pgoutput's text straight to Avro bytes, for the forms most columns have (ColumnCodec.textForm):
 * integers, booleans, plain text, ISO timestamps and numeric(p,s) decimals. No string, BigInt or
 * Decimal object is made for such a value: on the catch-up workloads they were most of what the
 * Avro row writer (avro-rows.ts) still allocated per row.
 *
 * Each reader accepts a narrow, canonical spelling (what PostgreSQL prints) and gives exactly the
 * number the codec's fromText() would give for it; anything else (NaN, infinity, BC dates,
 * five-digit years, non-ASCII text, values past 2^52...) is left to fromText(), whose value and
 * errors are then the event path's. test/unit/avro-rows.test.ts compares both over the type matrix.
 */
import type { TextForm } from '../decode/codec.ts';
import { daysFromCivil } from '../decode/temporal.ts';
import { writeLong, type AvroOut } from './avro-writer.ts';

/** The reader could not read the text: use fromText(). */
export const NOT_READ = Number.NaN;

/** Below this magnitude a long is written exactly from a double (zig-zag 2|n| + 1 stays exact). */
const FAST_LONG = 2 ** 52;
/** Decimals up to 6 bytes of two's complement (Buffer.writeIntBE's limit). */
const FAST_DECIMAL = 0x800000000000;
/** parseTimestamp()'s own limit for double arithmetic. */
const SAFE_SECONDS = 9_000_000_000;

function digitsAt(buf: Buffer, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** "-123": an optional minus and 1..15 digits, within [min, max]. */
function readInteger(buf: Buffer, start: number, length: number, min: number, max: number): number {
  const negative = length > 0 && buf[start] === 45;
  const digits = negative ? length - 1 : length;
  if (digits < 1 || digits > 15) return NOT_READ;
  const n = digitsAt(buf, negative ? start + 1 : start, digits);
  if (n < 0) return NOT_READ;
  const value = negative ? -n : n;
  return value < min || value > max ? NOT_READ : value;
}

/**
 * "YYYY-MM-DD HH:MM:SS[.ffffff]" and, with a zone, "+HH[:MM[:SS]]": epoch microseconds, as
 * parseTimestamp() computes them, for 4-digit AD years and hours below 24.
 */
function readTimestamp(buf: Buffer, start: number, length: number, zone: boolean): number {
  if (length < 19 || buf[start + 4] !== 45 || buf[start + 7] !== 45 || buf[start + 10] !== 32 || buf[start + 13] !== 58 || buf[start + 16] !== 58) return NOT_READ;
  const year = digitsAt(buf, start, 4);
  const month = digitsAt(buf, start + 5, 2);
  const day = digitsAt(buf, start + 8, 2);
  const hour = digitsAt(buf, start + 11, 2);
  const minute = digitsAt(buf, start + 14, 2);
  const second = digitsAt(buf, start + 17, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NOT_READ;
  const end = start + length;
  let at = start + 19;
  let micros = 0;
  if (at < end && buf[at] === 46) {
    at++;
    let width = 0;
    for (; at < end; at++) {
      const d = buf[at]! - 48;
      if (d < 0 || d > 9) break;
      micros = micros * 10 + d;
      width++;
    }
    if (width === 0 || width > 6) return NOT_READ;
    for (; width < 6; width++) micros *= 10;
  }
  let offset = 0;
  if (zone) {
    const sign = buf[at];
    if ((sign !== 43 && sign !== 45) || at + 3 > end) return NOT_READ;
    const hours = digitsAt(buf, at + 1, 2);
    if (hours < 0) return NOT_READ;
    offset = hours * 3600;
    at += 3;
    if (at < end && buf[at] === 58) {
      const minutes = at + 3 <= end ? digitsAt(buf, at + 1, 2) : -1;
      if (minutes < 0) return NOT_READ;
      offset += minutes * 60;
      at += 3;
      if (at < end && buf[at] === 58) {
        const seconds = at + 3 <= end ? digitsAt(buf, at + 1, 2) : -1;
        if (seconds < 0) return NOT_READ;
        offset += seconds;
        at += 3;
      }
    }
    if (sign === 45) offset = -offset;
  }
  if (at !== end) return NOT_READ;
  const seconds = daysFromCivil(year, month, day) * 86_400 + (hour * 60 + minute) * 60 + second - offset;
  if (!(seconds < SAFE_SECONDS && seconds > -SAFE_SECONDS)) return NOT_READ;
  const value = seconds * 1_000_000 + micros;
  return value > -FAST_LONG && value < FAST_LONG ? value : NOT_READ;
}

/**
 * "-123.45" with exactly `scale` fraction digits (as PostgreSQL prints a numeric(p,s)): the
 * unscaled integer, when it has at most `precision` digits and fits 6 bytes.
 */
function readDecimal(buf: Buffer, start: number, length: number, scale: number, precision: number): number {
  const end = start + length;
  let at = start;
  const negative = at < end && buf[at] === 45;
  if (negative) at++;
  const intDigits = (scale > 0 ? end - scale - 1 : end) - at;
  if (intDigits < 1 || intDigits + scale > 15) return NOT_READ;
  let n = digitsAt(buf, at, intDigits);
  if (n < 0) return NOT_READ;
  if (scale > 0) {
    if (buf[at + intDigits] !== 46) return NOT_READ;
    const fraction = digitsAt(buf, at + intDigits + 1, scale);
    if (fraction < 0) return NOT_READ;
    n = n * 10 ** scale + fraction;
  }
  if (n >= 10 ** precision || n >= FAST_DECIMAL) return NOT_READ;
  return negative ? -n : n;
}

/** Plain ASCII (the common case; other text goes through a string, as UTF-8 is checked there). */
function isAscii(buf: Buffer, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (buf[i]! > 0x7f) return false;
  return true;
}

/**
 * Reads the text at buf[start, start + length) in `form`: a number for writeText() (for text: its
 * length), or NOT_READ when fromText() must decode it.
 */
export function readText(form: TextForm, buf: Buffer, start: number, length: number): number {
  switch (form.kind) {
    case 'integer':
      return readInteger(buf, start, length, form.min, form.max);
    case 'boolean':
      return length === 1 && buf[start] === 116 ? 1 : length === 1 && buf[start] === 102 ? 0 : NOT_READ;
    case 'text':
      return isAscii(buf, start, length) ? length : NOT_READ;
    case 'timestamp':
      return readTimestamp(buf, start, length, form.zone);
    case 'decimal':
      return readDecimal(buf, start, length, form.scale, form.precision);
  }
}

/**
 * Writes what readText() read as the Avro value of the form's declared type (long, int,
 * boolean, string, timestamp-micros long, decimal bytes): the bytes avsc writes for the value
 * fromText() gives.
 */
export function writeText(out: AvroOut, form: TextForm, value: number, buf: Buffer, start: number): void {
  switch (form.kind) {
    case 'integer':
    case 'timestamp':
      writeLong(out, value);
      return;
    case 'boolean':
      out.ensure(1);
      out.buf[out.pos++] = value;
      return;
    case 'text':
      writeLong(out, value);
      out.ensure(value);
      buf.copy(out.buf, out.pos, start, start + value);
      out.pos += value;
      return;
    case 'decimal': {
      // minimal big-endian two's complement, as avro-logical-types.ts' toTwosComplement
      let bytes = 1;
      for (let bound = 0x80; value >= bound || value < -bound; bound *= 0x100) bytes++;
      writeLong(out, bytes);
      out.ensure(bytes);
      out.buf.writeIntBE(value, out.pos, bytes);
      out.pos += bytes;
      return;
    }
  }
}
