/**
 * quoteIdent / quoteLiteral / qualifiedName against a small lexer written from PostgreSQL's
 * rules (https://www.postgresql.org/docs/current/sql-syntax-lexical.html): the quoted text must
 * lex as exactly one token whose value is the original string, whatever
 * standard_conforming_strings says.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { quoteIdent, quoteLiteral, qualifiedName } from '../../src/pg/sql.ts';

class LexError extends Error {}

interface Token { value: string; end: number }

/** A delimited identifier "..." starting at `start`: "" stands for ", nothing else is special. */
function lexQuotedIdent(sql: string, start = 0): Token {
  if (sql[start] !== '"') throw new LexError(`expected " at ${start}`);
  let value = '';
  let i = start + 1;
  for (;;) {
    if (i >= sql.length) throw new LexError('unterminated quoted identifier');
    const c = sql[i]!;
    if (c === '"') {
      if (sql[i + 1] === '"') { value += '"'; i += 2; continue; }
      if (value === '') throw new LexError('zero-length delimited identifier');
      return { value, end: i + 1 };
    }
    if (c === '\0') throw new LexError('NUL in identifier');
    value += c;
    i += 1;
  }
}

const OCTAL = /^[0-7]{1,3}/;
const HEX = /^[0-9A-Fa-f]{1,2}/;

/**
 * A string constant starting at `start`: '...' or E'...'. In both, '' stands for '. Backslash
 * escapes apply in E'...' always, and in '...' only when standard_conforming_strings is off.
 */
function lexLiteral(sql: string, standardConformingStrings: boolean, start = 0): Token {
  let i = start;
  let escapes = !standardConformingStrings;
  if (sql[i] === 'E' || sql[i] === 'e') { escapes = true; i += 1; }
  if (sql[i] !== "'") throw new LexError(`expected ' at ${i}`);
  i += 1;
  let value = '';
  for (;;) {
    if (i >= sql.length) throw new LexError('unterminated quoted string');
    const c = sql[i]!;
    if (c === "'") {
      if (sql[i + 1] === "'") { value += "'"; i += 2; continue; }
      return { value, end: i + 1 };
    }
    if (c === '\\' && escapes) {
      const next = sql[i + 1];
      if (next === undefined) throw new LexError('unterminated quoted string');
      const rest = sql.slice(i + 1);
      const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      let m: RegExpExecArray | null;
      if (simple[next] !== undefined) { value += simple[next]; i += 2; }
      else if ((m = OCTAL.exec(rest))) { value += String.fromCharCode(parseInt(m[0], 8) & 0xff); i += 1 + m[0].length; }
      else if (next === 'x' && (m = HEX.exec(rest.slice(1)))) { value += String.fromCharCode(parseInt(m[0], 16)); i += 2 + m[0].length; }
      else if (next === 'u' && /^[0-9A-Fa-f]{4}/.test(rest.slice(1))) { value += String.fromCodePoint(parseInt(rest.slice(1, 5), 16)); i += 6; }
      else if (next === 'U' && /^[0-9A-Fa-f]{8}/.test(rest.slice(1))) { value += String.fromCodePoint(parseInt(rest.slice(1, 9), 16)); i += 10; }
      else { value += next; i += 2; } // any other character, including \ and ', is taken literally
      continue;
    }
    if (c === '\0') throw new LexError('NUL in string constant');
    value += c;
    i += 1;
  }
}

/** Parses the whole text as one identifier token and returns its value. */
function unquoteIdent(sql: string): string {
  const t = lexQuotedIdent(sql);
  assert.equal(t.end, sql.length, `identifier ends at ${t.end}, text continues: ${JSON.stringify(sql.slice(t.end))}`);
  return t.value;
}

/** Parses the whole text as one literal token and returns its value. */
function unquoteLiteral(sql: string, standardConformingStrings: boolean): string {
  const t = lexLiteral(sql, standardConformingStrings);
  assert.equal(t.end, sql.length, `literal ends at ${t.end}, text continues: ${JSON.stringify(sql.slice(t.end))}`);
  return t.value;
}

/** Any UTF-16 code unit except NUL (lone surrogates included: quoting is about code units). */
const unit = fc.integer({ min: 1, max: 0xffff }).map((c) => String.fromCharCode(c));
/** Characters that matter to the SQL lexer, weighted heavily. */
const tricky = fc.constantFrom('"', "'", '\\', 'E', 'e', '.', ';', '-', '/', '*', ' ', '\n', 'x', 'u', 'U', '0', '7', 'a', 'é', '😀');
const sqlString = fc.string({ unit: fc.oneof({ arbitrary: tricky, weight: 3 }, { arbitrary: unit, weight: 1 }), maxLength: 30 });
const withNul = fc.tuple(sqlString, sqlString).map(([a, b]) => `${a}\0${b}`);

describe('the test lexer itself', () => {
  test('follows PostgreSQL on known examples', () => {
    assert.equal(unquoteIdent('"a""b"'), 'a"b');
    assert.throws(() => unquoteIdent('""'), LexError);
    assert.equal(unquoteLiteral("'it''s'", true), "it's");
    assert.equal(unquoteLiteral("'a\\b'", true), 'a\\b');
    assert.equal(unquoteLiteral("'a\\\\b'", false), 'a\\b');
    assert.equal(unquoteLiteral("E'a\\\\b'", true), 'a\\b');
    assert.equal(unquoteLiteral("E'\\x41\\101\\u0041\\n\\''", true), "AAA\n'");
    assert.throws(() => unquoteLiteral("'a'b'", true), /literal ends at 3/);
    assert.throws(() => unquoteLiteral("E'a\\'", true), LexError);
  });
});

describe('quoteIdent', () => {
  test('examples', () => {
    assert.equal(quoteIdent('orders'), '"orders"');
    assert.equal(quoteIdent('Order Items'), '"Order Items"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteIdent('"'), '""""');
    assert.equal(quoteIdent("it's"), '"it\'s"');
    assert.equal(quoteIdent('a\\b'), '"a\\b"');
    assert.equal(quoteIdent('x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"');
  });

  test('property: the quoted text is one identifier token whose value is the input', () => {
    fc.assert(fc.property(sqlString.filter((s) => s !== ''), (name) => {
      const quoted = quoteIdent(name);
      assert.equal(unquoteIdent(quoted), name);
    }), { numRuns: 1000 });
  });

  test('NUL is rejected', () => {
    assert.throws(() => quoteIdent('\0'), /NUL/);
    fc.assert(fc.property(withNul, (name) => {
      assert.throws(() => quoteIdent(name), /NUL/);
    }), { numRuns: 200 });
  });
});

describe('quoteLiteral', () => {
  test('examples', () => {
    assert.equal(quoteLiteral('walcast'), "'walcast'");
    assert.equal(quoteLiteral(''), "''");
    assert.equal(quoteLiteral("it's"), "'it''s'");
    assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
    assert.equal(quoteLiteral("\\'"), "E'\\\\'''");
    assert.equal(quoteLiteral('"pub"'), "'\"pub\"'");
  });

  test('property: one literal token whose value is the input, with standard_conforming_strings on and off', () => {
    fc.assert(fc.property(sqlString, (value) => {
      const quoted = quoteLiteral(value);
      assert.equal(unquoteLiteral(quoted, true), value);
      assert.equal(unquoteLiteral(quoted, false), value);
    }), { numRuns: 1000 });
  });

  test('property: what follows the literal is never part of it (no injection)', () => {
    fc.assert(fc.property(sqlString, (value) => {
      const sql = `SELECT ${quoteLiteral(value)}; SELECT 1`;
      for (const scs of [true, false]) {
        const t = lexLiteral(sql, scs, 'SELECT '.length);
        assert.equal(t.value, value);
        assert.equal(sql.slice(t.end), '; SELECT 1');
      }
    }), { numRuns: 500 });
  });

  test('NUL is rejected', () => {
    assert.throws(() => quoteLiteral('\0'), /NUL/);
    fc.assert(fc.property(withNul, (value) => {
      assert.throws(() => quoteLiteral(value), /NUL/);
    }), { numRuns: 200 });
  });
});

describe('qualifiedName', () => {
  test('examples', () => {
    assert.equal(qualifiedName('public', 'orders'), '"public"."orders"');
    assert.equal(qualifiedName('my.schema', 'Order "Items"'), '"my.schema"."Order ""Items"""');
  });

  test('property: two identifier tokens separated by one dot, holding schema and table', () => {
    const part = sqlString.filter((s) => s !== '');
    fc.assert(fc.property(part, part, (schema, table) => {
      const sql = qualifiedName(schema, table);
      const first = lexQuotedIdent(sql);
      assert.equal(first.value, schema);
      assert.equal(sql[first.end], '.');
      const second = lexQuotedIdent(sql, first.end + 1);
      assert.equal(second.value, table);
      assert.equal(second.end, sql.length);
    }), { numRuns: 1000 });
  });

  test('NUL in either part is rejected', () => {
    fc.assert(fc.property(withNul, sqlString, fc.boolean(), (bad, good, badFirst) => {
      assert.throws(() => (badFirst ? qualifiedName(bad, good) : qualifiedName(good, bad)), /NUL/);
    }), { numRuns: 200 });
  });
});
