/**
 * Avro names for PostgreSQL identifiers, adjusted the way Debezium's
 * `schema.name.adjustment.mode=avro` does: every character outside [A-Za-z0-9_] becomes `_`,
 * and a leading digit gets a `_` prefix. Topic names keep the real identifiers.
 */
export function avroName(identifier: string): string {
  let out = '';
  for (let i = 0; i < identifier.length; i++) {
    const c = identifier.charCodeAt(i);
    const valid = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (i > 0 && c >= 48 && c <= 57);
    if (valid) out += identifier[i];
    else if (i === 0 && c >= 48 && c <= 57) out += '_' + identifier[i];
    else out += '_';
  }
  return out === '' ? '_' : out;
}

/** Full name `a.b.c` with each part adjusted (dots are namespace separators). */
export function avroFullName(...parts: string[]): string {
  return parts.map(avroName).join('.');
}

/**
 * Field names for a list of columns: adjusted, and made unique when two columns adjust to the
 * same name (e.g. `a b` and `a_b`) by suffixing `_2`, `_3`... in column order.
 */
export function uniqueFieldNames(columns: string[]): string[] {
  const used = new Set<string>();
  return columns.map((column) => {
    const base = avroName(column);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return name;
  });
}
