/** Quoting for identifiers and literals that come from configuration: never interpolate raw. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL character');
  return '"' + name.replaceAll('"', '""') + '"';
}

export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('literal contains a NUL character');
  // E'' with doubled backslashes behaves the same whatever standard_conforming_strings says.
  const escaped = value.replaceAll('\\', '\\\\').replaceAll("'", "''");
  return value.includes('\\') ? `E'${escaped}'` : `'${escaped}'`;
}

/** schema.table, each part quoted. */
export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
