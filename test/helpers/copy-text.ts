/** COPY TO STDOUT's text format, written as PostgreSQL writes it (for tests of copy-text.ts). */

/** A value as COPY TO writes it in text format (CopyAttributeOutText): these escapes, \N for NULL. */
function escape(value: string): string {
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => ({ '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' })[c]!);
}

/** Rows as COPY TO STDOUT writes them. */
export function copyText(rows: Array<Array<string | null>>): string {
  return rows.map((row) => `${row.map((v) => (v === null ? '\\N' : escape(v))).join('\t')}\n`).join('');
}
