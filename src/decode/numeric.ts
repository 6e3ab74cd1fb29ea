import { ValueDecodeError, ValueUnrepresentableError } from './errors.ts';

/**
 * An exact decimal: `unscaled × 10^-scale`. This is the JS value of every Avro `decimal` walcast
 * writes (the `decimal` logical type in src/encode/avro-logical-types.ts turns it into the
 * two's-complement bytes the Avro spec prescribes), so no value passes through a float.
 */
export interface Decimal {
  readonly unscaled: bigint;
  readonly scale: number;
}

/** Precision and scale declared by a numeric typmod; undefined for plain `numeric`. */
export interface NumericTypmod {
  precision: number;
  scale: number;
}

/** PostgreSQL's VARHDRSZ: typmods of variable-length types are offset by the length header. */
const VARHDRSZ = 4;

/**
 * numeric(p,s) is stored as ((p << 16) | (s & 0x7ff)) + 4. Since PostgreSQL 15 the scale is an
 * 11-bit signed field (numeric(3,-2), numeric(2,5) are legal), so it is sign-extended here.
 */
export function numericTypmod(typeMod: number): NumericTypmod | undefined {
  if (typeMod < VARHDRSZ) return undefined;
  const raw = typeMod - VARHDRSZ;
  return { precision: (raw >> 16) & 0xffff, scale: ((raw & 0x7ff) ^ 1024) - 1024 };
}

const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= 40; i++, p *= 10n) POW10.push(p);

/** 10^n as a bigint (cached for the small exponents every numeric column uses). */
export function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/**
 * Parses numeric_out's text ("-123.4500", "0.00000000000000000001", "100000000000000000000")
 * into an exact Decimal whose scale is the number of digits after the point.
 * Returns undefined for the special values NaN, Infinity and -Infinity; the caller decides how to
 * represent them. Exponent notation never appears in numeric_out, so it is rejected.
 */
export function parseNumeric(typeName: string, text: string): Decimal | undefined {
  const len = text.length;
  let i = 0;
  let negative = false;
  if (len > 0) {
    const first = text.charCodeAt(0);
    if (first === 45 /* - */) {
      negative = true;
      i = 1;
    } else if (first === 43 /* + */) {
      i = 1;
    } else if (first === 78 /* N */ || first === 73 /* I */) {
      if (text === 'NaN' || text === 'Infinity') return undefined;
    }
    if (negative && text === '-Infinity') return undefined;
  }
  let point = -1;
  let digits = 0;
  // Up to 15 digits fit a double exactly: accumulate there and make one BigInt at the end.
  let small = 0;
  for (let j = i; j < len; j++) {
    const c = text.charCodeAt(j);
    if (c >= 48 && c <= 57) {
      digits++;
      if (digits <= 15) small = small * 10 + (c - 48);
    } else if (c === 46 /* . */ && point < 0) {
      point = j;
    } else {
      throw new ValueDecodeError(typeName, text, 'not a decimal number');
    }
  }
  if (digits === 0) throw new ValueDecodeError(typeName, text, 'not a decimal number');
  const scale = point < 0 ? 0 : len - point - 1;
  let unscaled: bigint;
  if (digits <= 15) {
    unscaled = BigInt(small);
  } else {
    const body = point < 0 ? text.slice(i) : text.slice(i, point) + text.slice(point + 1);
    unscaled = BigInt(body);
  }
  return { unscaled: negative ? -unscaled : unscaled, scale };
}

/**
 * Brings a Decimal to exactly `scale` fractional digits. Widening multiplies; narrowing is only
 * allowed when the dropped digits are zeros, because anything else would change the value.
 */
export function rescale(typeName: string, text: string, value: Decimal, scale: number): Decimal {
  if (value.scale === scale) return value;
  if (value.scale < scale) {
    return { unscaled: value.unscaled * pow10(scale - value.scale), scale };
  }
  const divisor = pow10(value.scale - scale);
  if (value.unscaled % divisor !== 0n) {
    throw new ValueDecodeError(typeName, text, `has more than ${scale} fractional digits`);
  }
  return { unscaled: value.unscaled / divisor, scale };
}

/** Number of decimal digits of |n| (0 has one digit). */
export function digitCount(n: bigint): number {
  const abs = n < 0n ? -n : n;
  if (abs < 1000000000000000n) return abs === 0n ? 1 : String(Number(abs)).length;
  return abs.toString().length;
}

/** Plain (never exponent) decimal text with exactly `scale` fractional digits: "-0.50". */
export function formatDecimal(value: Decimal): string {
  const { unscaled, scale } = value;
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale <= 0) {
    if (scale < 0 && unscaled !== 0n) digits += '0'.repeat(-scale);
    return negative ? `-${digits}` : digits;
  }
  if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
  const cut = digits.length - scale;
  const body = `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${body}` : body;
}

/**
 * cash_out's text depends on lc_monetary ("$1,234.56", "-$1.00", "1.234,56 €", "($1.00)"), but
 * the value is always an int64 count of the currency's minor unit printed with all
 * `fractionDigits` digits. So the digits alone, in order, are the unscaled value, whatever the
 * currency symbol, grouping or decimal separator; a minus sign or an opening parenthesis (the
 * locale's negative format) makes it negative.
 */
export function parseMoney(typeName: string, text: string, fractionDigits: number): Decimal {
  let negative = false;
  let digits = 0;
  let small = 0;
  let body = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      if (digits <= 15) small = small * 10 + (c - 48);
      body += text[i];
    } else if (c === 45 /* - */ || c === 40 /* ( */) {
      negative = true;
    }
  }
  if (digits === 0) throw new ValueDecodeError(typeName, text, 'no digits in money value');
  if (digits > 19) throw new ValueDecodeError(typeName, text, 'more digits than money can hold');
  const unscaled = digits <= 15 ? BigInt(small) : BigInt(body);
  return { unscaled: negative ? -unscaled : unscaled, scale: fractionDigits };
}

/**
 * Decoder for numeric(p,s) into an Avro decimal with the given scale. NaN is legal in a
 * numeric(p,s) column but has no decimal representation: it is refused here, never turned into
 * null or a made-up number, and the column then takes its widened shape (codec.ts), a union of the
 * decimal and the string "NaN".
 */
export function fixedScaleNumeric(typeName: string, avroScale: number, avroPrecision: number): (text: string) => Decimal {
  return (text: string): Decimal => {
    const parsed = parseNumeric(typeName, text);
    if (parsed === undefined) {
      throw new ValueUnrepresentableError(
        typeName,
        text,
        'an Avro decimal cannot hold NaN or Infinity (the column needs its widened schema, a union with string)',
      );
    }
    const value = rescale(typeName, text, parsed, avroScale);
    if (digitCount(value.unscaled) > avroPrecision) {
      throw new ValueDecodeError(typeName, text, `has more than ${avroPrecision} digits`);
    }
    return value;
  };
}
