import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchesTablePattern, selectsTable } from '../../src/pg/table-filter.ts';

/** Characters seen in identifiers, plus regex metacharacters, case pairs, non-BMP and newline. */
const nameUnit = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'A', 'b', 'B', '_', '1', ' ', '.', '+', '(', ')', '[', ']', '{', '}', '|', '^', '$', '\\', '-', '/', 'é', 'É', 'ß', '日', '😀', '\n'), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)), weight: 1 },
);

/** Reference glob matcher over code points: `*` any run (also empty), `?` exactly one, rest literal. */
function globMatches(glob: string, text: string): boolean {
  const g = Array.from(glob);
  const t = Array.from(text);
  // memo[i][j]: does g[i..] match t[j..]?
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (t.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let result: boolean;
    if (i === g.length) result = j === t.length;
    else if (g[i] === '*') result = go(i + 1, j) || (j < t.length && go(i, j + 1));
    else if (j < t.length && (g[i] === '?' || g[i] === t[j])) result = go(i + 1, j + 1);
    else result = false;
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

/** The documented semantics: split at the first dot; no dot means "this table in any schema". */
function reference(pattern: string, schema: string, table: string): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return globMatches(pattern, table);
  return globMatches(pattern.slice(0, dot), schema) && globMatches(pattern.slice(dot + 1), table);
}

describe('matchesTablePattern', () => {
  test('schema.table, exact and case-sensitive', () => {
    assert.ok(matchesTablePattern('public.orders', 'public', 'orders'));
    assert.ok(!matchesTablePattern('public.orders', 'public', 'orders2'));
    assert.ok(!matchesTablePattern('public.orders', 'public', 'order'));
    assert.ok(!matchesTablePattern('public.orders', 'sales', 'orders'));
    assert.ok(!matchesTablePattern('public.orders', 'public', 'Orders'));
    assert.ok(!matchesTablePattern('Public.Orders', 'public', 'orders'));
    assert.ok(matchesTablePattern('Public.Orders', 'Public', 'Orders'));
  });

  test('* matches any run of characters, including none', () => {
    assert.ok(matchesTablePattern('public.*', 'public', 'orders'));
    assert.ok(matchesTablePattern('public.*', 'public', ''));
    assert.ok(!matchesTablePattern('public.*', 'sales', 'orders'));
    assert.ok(matchesTablePattern('*.orders', 'sales', 'orders'));
    assert.ok(matchesTablePattern('*.*', 'any', 'thing'));
    assert.ok(matchesTablePattern('public.order*', 'public', 'order'));
    assert.ok(matchesTablePattern('public.order*', 'public', 'order_items'));
    assert.ok(!matchesTablePattern('public.order*', 'public', 'my_order'));
    assert.ok(matchesTablePattern('public.*_log', 'public', 'audit_log'));
    assert.ok(!matchesTablePattern('public.*_log', 'public', 'audit_logs'));
    assert.ok(matchesTablePattern('public.*', 'public', 'line\nbreak'), '* also spans newlines');
  });

  test('? matches exactly one character (one code point)', () => {
    assert.ok(matchesTablePattern('public.order?', 'public', 'orders'));
    assert.ok(matchesTablePattern('public.order?', 'public', 'order1'));
    assert.ok(!matchesTablePattern('public.order?', 'public', 'order'));
    assert.ok(!matchesTablePattern('public.order?', 'public', 'orders1'));
    assert.ok(matchesTablePattern('public.t?', 'public', 't😀'));
    assert.ok(matchesTablePattern('public.t?', 'public', 'té'));
    assert.ok(matchesTablePattern('public.t?', 'public', 't\n'));
  });

  test('a pattern without a dot matches the table in any schema', () => {
    assert.ok(matchesTablePattern('orders', 'public', 'orders'));
    assert.ok(matchesTablePattern('orders', 'sales', 'orders'));
    assert.ok(!matchesTablePattern('orders', 'orders', 'other'));
    assert.ok(matchesTablePattern('*', 'anything', 'at all'));
    assert.ok(matchesTablePattern('ord?rs', 'x', 'orders'));
  });

  test('the first dot separates schema and table; later dots are literal', () => {
    assert.ok(matchesTablePattern('public.my.table', 'public', 'my.table'));
    assert.ok(!matchesTablePattern('public.my.table', 'public', 'myXtable'));
    assert.ok(!matchesTablePattern('public.my.table', 'public.my', 'table'));
    assert.ok(!matchesTablePattern('a.b', 'a', 'bb'));
    assert.ok(matchesTablePattern('.t', '', 't'));
  });

  test('regular-expression metacharacters in names are literal', () => {
    const names = ['a+b', 'f(x)', 'a|b', '[ab]', 'a{2}', '^x$', 'a\\d', 'a.b', 'x)', '(', '$', '\\', 'a-b', 'a/b', '{', '}', ']', '.*'];
    for (const n of names) {
      assert.ok(matchesTablePattern(`public.${n}`, 'public', n), n);
      if (!n.includes('.')) assert.ok(matchesTablePattern(n, 's', n), n);
    }
    assert.ok(!matchesTablePattern('public.a+b', 'public', 'aab'));
    assert.ok(!matchesTablePattern('public.f(x)', 'public', 'fx'));
    assert.ok(!matchesTablePattern('public.a|b', 'public', 'a'));
    assert.ok(!matchesTablePattern('public.[ab]', 'public', 'a'));
    assert.ok(!matchesTablePattern('public.a{2}', 'public', 'aa'));
    assert.ok(!matchesTablePattern('public.a\\d', 'public', 'a1'));
    assert.ok(!matchesTablePattern('p+.t', 'ppp', 't'));
  });

  test('unicode names', () => {
    assert.ok(matchesTablePattern('données.café', 'données', 'café'));
    assert.ok(!matchesTablePattern('données.café', 'données', 'cafe'));
    assert.ok(matchesTablePattern('*.日本語', 'スキーマ', '日本語'));
    assert.ok(matchesTablePattern('emoji.😀*', 'emoji', '😀😀'));
    // NFC and NFD forms are different identifiers to PostgreSQL
    assert.ok(!matchesTablePattern('s.caf\u00e9', 's', 'cafe\u0301'));
  });

  test('property: a literal schema.table pattern matches exactly that pair', () => {
    const noGlob = (s: string) => !s.includes('*') && !s.includes('?');
    const schema = fc.string({ unit: nameUnit, maxLength: 12 }).filter((s) => noGlob(s) && !s.includes('.'));
    const table = fc.string({ unit: nameUnit, maxLength: 12 }).filter(noGlob);
    fc.assert(fc.property(schema, table, schema, table, (s, t, s2, t2) => {
      const pattern = `${s}.${t}`;
      assert.ok(matchesTablePattern(pattern, s, t));
      assert.equal(matchesTablePattern(pattern, s2, t2), s2 === s && t2 === t);
      assert.equal(matchesTablePattern(pattern, s, t2), t2 === t);
      assert.equal(matchesTablePattern(pattern, s2, t), s2 === s);
      // near misses: other case, one more character, one fewer
      if (t.toUpperCase() !== t) assert.ok(!matchesTablePattern(pattern, s, t.toUpperCase()));
      assert.ok(!matchesTablePattern(pattern, s, t + 'x'));
      assert.ok(!matchesTablePattern(pattern, s + 'x', t));
      if (t !== '') assert.ok(!matchesTablePattern(pattern, s, Array.from(t).slice(1).join('')));
    }), { numRuns: 500 });
  });

  test('property: agrees with a reference glob matcher on random patterns and names', () => {
    const pattern = fc.string({ unit: fc.oneof({ arbitrary: fc.constantFrom('*', '?', '.'), weight: 1 }, { arbitrary: nameUnit, weight: 3 }), maxLength: 10 });
    const ident = fc.string({ unit: nameUnit, maxLength: 8 });
    fc.assert(fc.property(pattern, ident, ident, (p, s, t) => {
      assert.equal(matchesTablePattern(p, s, t), reference(p, s, t), JSON.stringify([p, s, t]));
    }), { numRuns: 1000 });
  });

  test('property: a pattern built from a name with some characters replaced by ? or * matches it', () => {
    const ident = fc.string({ unit: nameUnit, minLength: 1, maxLength: 10 }).filter((s) => !/[*?]/.test(s));
    fc.assert(fc.property(ident.filter((s) => !s.includes('.')), ident, fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), (s, t, mask) => {
      const chars = Array.from(t);
      const globbed = chars.map((c, i) => (mask[i] ? (i % 2 === 0 ? '?' : '*') : c)).join('');
      assert.ok(matchesTablePattern(`${s}.${globbed}`, s, t), `${s}.${globbed} vs ${t}`);
    }), { numRuns: 500 });
  });
});

describe('selectsTable', () => {
  test('an empty list selects every table', () => {
    assert.ok(selectsTable([], 'public', 'anything'));
  });

  test('a table is selected when any pattern matches', () => {
    const patterns = ['public.orders', 'sales.*', 'audit_?'];
    assert.ok(selectsTable(patterns, 'public', 'orders'));
    assert.ok(selectsTable(patterns, 'sales', 'q1'));
    assert.ok(selectsTable(patterns, 'anywhere', 'audit_x'));
    assert.ok(!selectsTable(patterns, 'public', 'customers'));
    assert.ok(!selectsTable(patterns, 'Sales', 'q1'));
  });

  test('property: selectsTable is the disjunction of matchesTablePattern', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '?', '+'), maxLength: 6 });
    const ident = fc.string({ unit: fc.constantFrom('a', 'b', '.', '+'), maxLength: 4 });
    fc.assert(fc.property(fc.array(pattern, { minLength: 1, maxLength: 4 }), ident, ident, (ps, s, t) => {
      assert.equal(selectsTable(ps, s, t), ps.some((p) => reference(p, s, t)));
    }), { numRuns: 500 });
  });
});
