/** A PostgreSQL log sequence number. BigInt because LSNs are 64-bit and arrive in two paddings. */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1 || !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(text)) {
    throw new RangeError(`not an LSN: ${JSON.stringify(text)}`);
  }
  return (BigInt('0x' + text.slice(0, slash)) << 32n) | BigInt('0x' + text.slice(slash + 1));
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
