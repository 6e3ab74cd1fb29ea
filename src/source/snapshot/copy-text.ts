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
 * A chunk's rows: the COPY output and where each value lies in it, in one array for all rows.
 * No object per row until one is published (tuple()): a chunk waits for its high watermark while
 * others are read, and per-row objects that old were promoted and then collected at a cost (a
 * fifth of the snapshot's CPU went to the collector).
 */
export class CopyRows {
  readonly buf: Buffer;
  /** Values per row in the output; `width`: the first ones, which tuple() gives (the rest are extras such as xmin). */
  readonly columns: number;
  readonly width: number;
  readonly count: number;
  /** Per row r and column i: [(r * columns + i) * 2] the text's offset, [... + 1] its length or RAW_NULL. */
  private readonly spans: Int32Array;

  constructor(buf: Buffer, columns: number, width: number, count: number, spans: Int32Array) {
    this.buf = buf;
    this.columns = columns;
    this.width = width;
    this.count = count;
    this.spans = spans;
  }

  /** Row `row`'s first `width` values as a RawTuple. */
  tuple(row: number): RawTuple {
    const at = row * this.columns * 2;
    return new RawTuple(this.buf, this.spans.subarray(at, at + this.width * 2));
  }

  /** Column `column` of row `row` as text (null for NULL). */
  text(row: number, column: number): string | null {
    const at = (row * this.columns + column) * 2;
    const length = this.spans[at + 1]!;
    return length === RAW_NULL ? null : this.buf.toString('utf8', this.spans[at]!, this.spans[at]! + length);
  }
}

/**
 * Splits `buf` (whole rows, each ending in a newline) into rows of `columns` values. `buf` is
 * changed in place where values hold escapes; the rows point into it.
 */
export function parseCopyText(buf: Buffer, columns: number, width = columns): CopyRows {
  // A newline inside a value is escaped (\n): every newline byte ends a row.
  let count = 0;
  for (let at = buf.indexOf(NEWLINE); at >= 0; at = buf.indexOf(NEWLINE, at + 1)) count++;
  const spans = new Int32Array(count * columns * 2);
  const end = buf.length;
  let at = 0;
  let row = 0;
  while (at < end) {
    if (row >= count) throw new CopyTextError(`COPY output ends inside row ${row + 1}`);
    const base = row * columns * 2;
    let column = 0;
    for (;;) {
      if (column >= columns) throw new CopyTextError(`COPY row ${row + 1} has more than ${columns} values`);
      if (buf[at] === BACKSLASH && buf[at + 1] === N && (buf[at + 2] === TAB || buf[at + 2] === NEWLINE)) {
        spans[base + 2 * column + 1] = RAW_NULL;
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
        spans[base + 2 * column] = start;
        spans[base + 2 * column + 1] = write - start;
      }
      column++;
      if (at >= end) throw new CopyTextError(`COPY output ends inside row ${row + 1}`);
      if (buf[at++] === NEWLINE) break;
    }
    if (column !== columns) throw new CopyTextError(`COPY row ${row + 1} has ${column} values, expected ${columns}`);
    row++;
  }
  return new CopyRows(buf, columns, width, count, spans);
}
