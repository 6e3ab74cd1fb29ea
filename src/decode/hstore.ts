import { ValueDecodeError } from './errors.ts';

/**
 * hstore_out's text, `"a"=>"1", "b"=>NULL`, as a map. hstore_out always quotes keys and values
 * (escaping `"` and `\` with a backslash) and writes NULL unquoted; hstore_in's looser forms
 * (unquoted words, extra whitespace) are accepted too. The object has no prototype so that a key
 * such as `__proto__` is an ordinary entry.
 */
export function parseHstore(typeName: string, text: string): Record<string, string | null> {
  const map: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  const len = text.length;
  let pos = 0;

  const fail = (reason: string): never => {
    throw new ValueDecodeError(typeName, text, `malformed hstore: ${reason}`);
  };
  const skipSpace = (): void => {
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c !== 32 && (c < 9 || c > 13)) break;
      pos++;
    }
  };
  /** A quoted or bare token; `quoted` tells NULL from "NULL". */
  const token = (stopAtArrow: boolean): { value: string; quoted: boolean } => {
    if (text.charCodeAt(pos) === 34 /* " */) {
      let out = '';
      let start = ++pos;
      for (;;) {
        if (pos >= len) fail('unterminated quoted string');
        const c = text.charCodeAt(pos);
        if (c === 34) {
          out += text.slice(start, pos++);
          return { value: out, quoted: true };
        }
        if (c === 92 /* \ */) {
          out += text.slice(start, pos++);
          if (pos >= len) fail('unterminated quoted string');
          start = pos;
        }
        pos++;
      }
    }
    let out = '';
    let start = pos;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c === 44 /* , */ || c === 32 || (c >= 9 && c <= 13)) break;
      if (stopAtArrow && c === 61 /* = */ && text.charCodeAt(pos + 1) === 62 /* > */) break;
      if (c === 92) {
        out += text.slice(start, pos++);
        if (pos >= len) fail('dangling backslash');
        start = pos;
      }
      pos++;
    }
    out += text.slice(start, pos);
    if (out.length === 0) fail('empty key or value');
    return { value: out, quoted: false };
  };

  skipSpace();
  while (pos < len) {
    const key = token(true);
    skipSpace();
    if (text.charCodeAt(pos) !== 61 || text.charCodeAt(pos + 1) !== 62) fail('expected "=>"');
    pos += 2;
    skipSpace();
    const value = token(false);
    map[key.value] = !value.quoted && value.value.toUpperCase() === 'NULL' ? null : value.value;
    skipSpace();
    if (pos < len) {
      if (text.charCodeAt(pos) !== 44) fail('expected ","');
      pos++;
      skipSpace();
      if (pos >= len) fail('trailing ","');
    }
  }
  return map;
}
