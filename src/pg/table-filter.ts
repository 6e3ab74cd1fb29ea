/**
 * WALCAST_TABLES patterns: `schema.table` with `*` and `?` wildcards. A pattern without a dot
 * matches the table name in any schema. Matching is exact (case-sensitive) like PostgreSQL's
 * quoted identifiers, because the names come from the catalog as stored.
 */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'su');
}

const cache = new Map<string, { schema: RegExp | null; table: RegExp }>();

export function matchesTablePattern(pattern: string, schema: string, table: string): boolean {
  let compiled = cache.get(pattern);
  if (!compiled) {
    const dot = pattern.indexOf('.');
    compiled = dot < 0
      ? { schema: null, table: globToRegExp(pattern) }
      : { schema: globToRegExp(pattern.slice(0, dot)), table: globToRegExp(pattern.slice(dot + 1)) };
    cache.set(pattern, compiled);
  }
  return (compiled.schema === null || compiled.schema.test(schema)) && compiled.table.test(table);
}

export function selectsTable(patterns: string[], schema: string, table: string): boolean {
  return patterns.length === 0 || patterns.some((p) => matchesTablePattern(p, schema, table));
}
