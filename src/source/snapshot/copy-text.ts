/**
 * Rows of `COPY ... TO STDOUT` (text format) as RawTuples: each value's bytes where they lie, so
 * the Avro row writer encodes snapshot rows as it encodes the stream's (src/encode/avro-rows.ts),
 * without a string per value. COPY's text is the output functions' text (what pgoutput sends)
 * with backslash escapes; the escapes are undone in place (a value only gets shorter).
 *
 * Why COPY instead of a SELECT: node-postgres makes a string of every value of every row, and
 * those strings, the row arrays and the events built from them were most of what a snapshot
 * allocated per row (bench, --cpu-prof).
 */
import { RAW_NULL, RawTuple } from '../cdc/pgoutput.ts';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;

/** What COPY's output escapes stand for (CopyAttributeOutText); `\X` otherwise is X, as COPY FROM reads it. */
const UNESCAPED = new Uint8Array(256).map((_, byte) => byte);
UNESCAPED[0x62] = 0x08; // \b
UNESCAPED[0x66] = 0x0c; // \f
UNESCAPED[0x6e] = 0x0a; // \n
UNESCAPED[0x72] = 0x0d; // \r
UNESCAPED[0x74] = 0x09; // \t
UNESCAPED[0x76] = 0x0b; // \v

export class CopyTextError extends Error {
  override name = 'CopyTextError';
}

/**
 * Splits `buf` (whole rows, each ending in a newline) into rows of `columns` values. `buf` is
 * changed in place where values hold escapes; the tuples point into it.
 */
export function parseCopyText(buf: Buffer, columns: number): RawTuple[] {
  const rows: RawTuple[] = [];
  const end = buf.length;
  let at = 0;
  while (at < end) {
    const spans = new Int32Array(columns * 2);
    let column = 0;
    for (;;) {
      if (column >= columns) throw new CopyTextError(`COPY row ${rows.length + 1} has more than ${columns} values`);
      if (buf[at] === BACKSLASH && buf[at + 1] === N && (buf[at + 2] === TAB || buf[at + 2] === NEWLINE)) {
        spans[2 * column + 1] = RAW_NULL;
        at += 2;
      } else {
        const start = at;
        // `write` trails `at` once an escape was undone
        let write = at;
        for (; at < end; at++) {
          const byte = buf[at]!;
          if (byte === TAB || byte === NEWLINE) break;
          if (byte === BACKSLASH && at + 1 < end) buf[write++] = UNESCAPED[buf[++at]!]!;
          else if (write !== at) buf[write++] = byte;
          else write++;
        }
        spans[2 * column] = start;
        spans[2 * column + 1] = write - start;
      }
      column++;
      if (at >= end) throw new CopyTextError(`COPY output ends inside row ${rows.length + 1}`);
      if (buf[at++] === NEWLINE) break;
    }
    if (column !== columns) throw new CopyTextError(`COPY row ${rows.length + 1} has ${column} values, expected ${columns}`);
    rows.push(new RawTuple(buf, spans));
  }
  return rows;
}
