import { ValueDecodeError } from './errors.ts';

/**
 * A parsed array literal: nested JS arrays, one level per dimension, elements already converted.
 * `dimensions` is 0 for the empty array `{}` (PostgreSQL's empty arrays have no dimensions).
 */
export interface ParsedArray<T> {
  dimensions: number;
  value: NestedArray<T>;
}

export type NestedArray<T> = Array<T | null | NestedArray<T>>;

const QUOTE = 34; // "
const BACKSLASH = 92;
const OPEN = 123; // {
const CLOSE = 125; // }

/** array_isspace(): the whitespace array_in skips around elements. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Parser for array_out's text (and everything array_in accepts that array_out could emit):
 * optional dimension decoration `[2:3][1:2]=`, nested braces, the element delimiter (`,` for all
 * built-in types but box, whose is `;`), double-quoted elements with backslash escapes, unquoted
 * elements with backslash escapes, and unquoted NULL (any case) as SQL NULL while "NULL" quoted
 * is the four-letter string. Each element's text goes through `element` as soon as it is read.
 *
 * Lower bounds in a decoration are checked for consistency and then dropped: an Avro array has no
 * place for them (Debezium drops them too); the elements and their order are exact.
 */
class ArrayLiteralParser<T> {
  private pos = 0;
  private readonly text: string;
  private readonly typeName: string;
  private readonly delimiter: number;
  private readonly element: (text: string) => T;
  /** Length seen at each depth; PostgreSQL arrays are rectangular. */
  private readonly lengths: number[] = [];
  private leafDepth = -1;

  constructor(typeName: string, text: string, delimiter: string, element: (text: string) => T) {
    this.typeName = typeName;
    this.text = text;
    this.delimiter = delimiter.charCodeAt(0);
    this.element = element;
  }

  private fail(reason: string): never {
    throw new ValueDecodeError(this.typeName, this.text, `malformed array literal: ${reason}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  parse(): ParsedArray<T> {
    const declared = this.text.charCodeAt(0) === 91 /* [ */ ? this.decoration() : undefined;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) !== OPEN) this.fail('expected "{"');
    const value = this.level(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('junk after closing "}"');
    const dimensions = this.leafDepth + 1;
    if (declared !== undefined) {
      if (declared.length !== dimensions || declared.some((n, i) => n !== this.lengths[i])) {
        this.fail('dimensions do not match the decoration');
      }
    }
    return { dimensions, value };
  }

  /** "[lb:ub]" per dimension then "=", as lengths. */
  private decoration(): number[] {
    const lengths: number[] = [];
    while (this.text.charCodeAt(this.pos) === 91 /* [ */) {
      this.pos++;
      const lower = this.integer();
      if (this.text.charCodeAt(this.pos) !== 58 /* : */) this.fail('bad dimension decoration');
      this.pos++;
      const upper = this.integer();
      if (this.text.charCodeAt(this.pos) !== 93 /* ] */ || upper < lower) this.fail('bad dimension decoration');
      this.pos++;
      lengths.push(upper - lower + 1);
    }
    if (this.text.charCodeAt(this.pos) !== 61 /* = */) this.fail('expected "=" after dimensions');
    this.pos++;
    return lengths;
  }

  private integer(): number {
    const start = this.pos;
    if (this.text.charCodeAt(this.pos) === 45 /* - */ || this.text.charCodeAt(this.pos) === 43) this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c < 48 || c > 57) break;
      this.pos++;
    }
    const n = Number(this.text.slice(start, this.pos));
    if (this.pos === start || !Number.isSafeInteger(n)) this.fail('bad dimension decoration');
    return n;
  }

  /** One brace level starting at "{"; returns its items. */
  private level(depth: number): NestedArray<T> {
    this.pos++; // "{"
    const items: NestedArray<T> = [];
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === CLOSE) {
      this.pos++;
      // Only the whole value may be empty: "{{},{}}" is not something PostgreSQL prints.
      if (depth !== 0) this.fail('empty sub-array');
      return items;
    }
    let nested: boolean | undefined;
    for (;;) {
      this.skipSpace();
      const isSub = this.text.charCodeAt(this.pos) === OPEN;
      if (nested === undefined) nested = isSub;
      else if (nested !== isSub) this.fail('elements and sub-arrays mixed at one level');
      items.push(isSub ? this.level(depth + 1) : this.item());
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === this.delimiter) continue;
      if (c === CLOSE) break;
      this.fail(this.pos > this.text.length ? 'unterminated' : `unexpected "${this.text[this.pos - 1]}"`);
    }
    if (!nested) {
      if (this.leafDepth === -1) this.leafDepth = depth;
      else if (this.leafDepth !== depth) this.fail('sub-arrays of different depths');
    }
    const seen = this.lengths[depth];
    if (seen === undefined) this.lengths[depth] = items.length;
    else if (seen !== items.length) this.fail('sub-arrays of different lengths');
    return items;
  }

  private item(): T | null {
    return this.text.charCodeAt(this.pos) === QUOTE ? this.element(this.quoted()) : this.unquoted();
  }

  private quoted(): string {
    const text = this.text;
    let out = '';
    let start = ++this.pos;
    for (;;) {
      if (this.pos >= text.length) this.fail('unterminated quoted element');
      const c = text.charCodeAt(this.pos);
      if (c === QUOTE) {
        out += text.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c === BACKSLASH) {
        out += text.slice(start, this.pos);
        this.pos++;
        if (this.pos >= text.length) this.fail('unterminated quoted element');
        start = this.pos; // the escaped character starts the next chunk
      }
      this.pos++;
    }
  }

  /** Unquoted: up to the delimiter or "}", trailing whitespace trimmed unless escaped. */
  private unquoted(): T | null {
    const text = this.text;
    let out = '';
    let start = this.pos;
    let escaped = false;
    for (;;) {
      if (this.pos >= text.length) this.fail('unterminated');
      const c = text.charCodeAt(this.pos);
      if (c === this.delimiter || c === CLOSE) break;
      if (c === QUOTE || c === OPEN) this.fail(`unexpected "${text[this.pos]}" in unquoted element`);
      if (c === BACKSLASH) {
        escaped = true;
        out += text.slice(start, this.pos);
        this.pos++;
        if (this.pos >= text.length) this.fail('unterminated');
        out += text[this.pos];
        start = ++this.pos;
        continue;
      }
      this.pos++;
    }
    // Only the raw tail can be trimmed: escaped characters are already in `out`.
    let end = this.pos;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    out += text.slice(start, end);
    if (out.length === 0 && !escaped) this.fail('empty unquoted element');
    if (!escaped && out.length === 4 && out.toUpperCase() === 'NULL') return null;
    return this.element(out);
  }
}

/** Parses one array value; see ArrayLiteralParser for the accepted syntax. */
export function parseArrayLiteral<T>(
  typeName: string,
  text: string,
  delimiter: string,
  element: (text: string) => T,
): ParsedArray<T> {
  return new ArrayLiteralParser(typeName, text, delimiter, element).parse();
}
