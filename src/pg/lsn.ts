/** A PostgreSQL log sequence number. BigInt because LSNs are 64-bit and arrive in two paddings. */
export type Lsn = bigint;

/** Value of one hexadecimal digit's char code, or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** One half of an LSN: 1-8 hex digits between `from` and `to`, or -1. */
function hexHalf(text: string, from: number, to: number): number {
  if (to - from < 1 || to - from > 8) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = hexDigit(text.charCodeAt(i));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Parsed for every replication message: no regular expression and one BigInt where the LSN fits
// in a double (below 2^53, i.e. 8 PiB of WAL).
export function parseLsn(text: string): Lsn {
  const slash = text.indexOf('/');
  const high = slash < 0 ? -1 : hexHalf(text, 0, slash);
  const low = high < 0 ? -1 : hexHalf(text, slash + 1, text.length);
  if (low < 0) throw new RangeError(`not an LSN: ${JSON.stringify(text)}`);
  return high < 0x200000 ? BigInt(high * 4294967296 + low) : (BigInt(high) << 32n) | BigInt(low);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
