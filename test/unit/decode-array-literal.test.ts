// Array literals: a renderer that follows PostgreSQL's array_out quoting rules (checked against
// real server output below), random nested arrays through it, and the parser must give back
// exactly what went in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseArrayLiteral, type NestedArray } from '../../src/decode/array-literal.ts';
import { builtinType, codecFor, type ColumnCodec } from '../../src/decode/codec.ts';
import { ValueDecodeError, ValueUnrepresentableError } from '../../src/decode/errors.ts';
import type { PgType } from '../../src/decode/pg-type.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';

const noLookup = (): PgType | undefined => undefined;

/** array_out's element quoting: empty, NULL-alike, or containing a special character or space. */
function renderElement(value: string | null, delimiter: string): string {
  if (value === null) return 'NULL';
  const needsQuotes =
    value === '' ||
    value.toUpperCase() === 'NULL' ||
    /["\\{}]/.test(value) ||
    value.includes(delimiter) ||
    /[ \t\n\r\v\f]/.test(value);
  if (!needsQuotes) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

type Nested = Array<string | null | Nested>;

function render(value: Nested, delimiter = ','): string {
  return `{${value.map((item) => (Array.isArray(item) ? render(item, delimiter) : renderElement(item, delimiter))).join(delimiter)}}`;
}

function renderWithBounds(value: Nested, lowerBounds: number[]): string {
  const lengths: number[] = [];
  for (let level: Nested | string | null = value; Array.isArray(level); level = level[0] ?? null) lengths.push(level.length);
  return `${lengths.map((n, i) => `[${lowerBounds[i]}:${lowerBounds[i]! + n - 1}]`).join('')}=${render(value)}`;
}

/** Strings that exercise every quoting rule. */
const nasty = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', 'NULL', 'null', 'Null', ' ', 'a b', '"', '\\', '{', '}', ',', ';', '\t', 'é', '😀', '\\"', 'x\\', '{}', 'NULL '),
  fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '{', '}', ',', ';', '\n', 'N', 'U', 'L'), maxLength: 6 }),
);
const element = fc.option(nasty, { freq: 6 });

/** Rectangular arrays of 1..3 dimensions (PostgreSQL arrays are never ragged). */
const rectangular = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 })
  .chain((lengths) => {
    const total = lengths.reduce((a, b) => a * b, 1);
    return fc.array(element, { minLength: total, maxLength: total }).map((flat) => {
      let i = 0;
      const build = (depth: number): Nested =>
        Array.from({ length: lengths[depth]! }, () => (depth === lengths.length - 1 ? flat[i++]! : build(depth + 1)));
      return { dimensions: lengths.length, value: build(0) };
    });
  });

const identity = (text: string): string => text;

test('the renderer matches PostgreSQL 15 array_out', () => {
  // From `select array[...]::text[]` on a real server.
  assert.equal(
    render(['a b', '', 'NULL', 'null', 'x"y', 'b\\c', '{}', ',', '\t', 'é', null]),
    '{"a b","","NULL","null","x\\"y","b\\\\c","{}",",","\t",é,NULL}',
  );
  assert.equal(render([['x']]), '{{x}}');
  // From `select array(select jsonb_array_elements_text($1))::text` with random strings.
  const captured: Array<[string, Array<string | null>]> = [
    ['{NULL,"","],\\"",""}', [null, '', '],"', '']],
    ['{[,"]\\"\\"null:",NULL,NULL}', ['[', ']""null:', null, null]],
    ['{"","0,[\',\n","Z=\t"}', ['', "0,[',\n", 'Z=\t']],
    ['{[,]:=,NULL,","}', ['[', ']:=', null, ',']],
    ['{".\n😀,:,",NULL,],:;}', ['.\n😀,:,', null, ']', ':;']],
    ['{"=\t","","NULL0 "," bZ}é😀",:b,""}', ['=\t', '', 'NULL0 ', ' bZ}é😀', ':b', '']],
    ['{"a,a\\"","\\\\[;0\\\\",NULL}', ['a,a"', '\\[;0\\', null]],
  ];
  for (const [text, elements] of captured) assert.equal(render(elements), text);
  assert.equal(render(['(3,4),(1,2)', '(1,1),(0,0)'], ';'), '{(3,4),(1,2);(1,1),(0,0)}');
});

test('random nested arrays survive render -> parse exactly, NULL vs "NULL" included', () => {
  fc.assert(
    fc.property(rectangular, fc.constantFrom(',', ';'), ({ dimensions, value }, delimiter) => {
      const text = render(value, delimiter);
      const parsed = parseArrayLiteral('_text', text, delimiter, identity);
      assert.deepEqual(parsed, { dimensions, value }, text);
    }),
    { numRuns: 2000 },
  );
});

test('explicit lower bounds are accepted and dropped; the elements are exact', () => {
  fc.assert(
    fc.property(rectangular, fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }), ({ dimensions, value }, bounds) => {
      const text = renderWithBounds(value, bounds);
      assert.deepEqual(parseArrayLiteral('_text', text, ',', identity), { dimensions, value }, text);
    }),
  );
  assert.deepEqual(parseArrayLiteral('_int4', '[2:3]={1,2}', ',', Number), { dimensions: 1, value: [1, 2] });
  assert.deepEqual(parseArrayLiteral('_int4', '[0:1][2:3]={{1,2},{3,4}}', ',', Number), {
    dimensions: 2,
    value: [
      [1, 2],
      [3, 4],
    ],
  });
});

test('array_in input forms: whitespace around elements, escapes in unquoted elements', () => {
  const parse = (text: string): NestedArray<string> => parseArrayLiteral('_text', text, ',', identity).value;
  assert.deepEqual(parse('{}'), []);
  assert.deepEqual(parse(' { a , "b" , NULL } '), ['a', 'b', null]);
  assert.deepEqual(parse('{a\\,b,c\\ ,\\NULL,nUlL}'), ['a,b', 'c ', 'NULL', null]);
  assert.deepEqual(parse('{"{}"}'), ['{}']);
  assert.deepEqual(parse('{{a,b},{c,d}}'), [
    ['a', 'b'],
    ['c', 'd'],
  ]);
});

test('malformed literals throw ValueDecodeError', () => {
  for (const text of [
    '',
    '1,2',
    '{1,2',
    '{1,,2}',
    '{1,2}}',
    '{{1},2}',
    '{1,{2}}',
    '{{1,2},{3}}',
    '{{1},{{2}}}',
    '{{},{}}',
    '{"a}',
    '{a"b}',
    '{a{b}',
    '{"a"b}',
    '{a\\}',
    '[1:2]={1}',
    '[1:2]{1,2}',
    '[2:1]={}',
    '[1:1][1:2]={1,2}',
  ]) {
    assert.throws(
      () => parseArrayLiteral('_int4', text, ',', identity),
      (e: unknown) => e instanceof ValueDecodeError && e.code === 'WALCAST_VALUE_DECODE' && e.typeName === '_int4',
      JSON.stringify(text),
    );
  }
});

function throughAvro(c: ColumnCodec, value: unknown): unknown {
  const type = avroType(['null', c.avroSchema] as never);
  return type.fromBuffer(type.toBuffer(value));
}

test('text[] codecs of 1..3 dimensions: nested Avro arrays of nullable strings, exact through Avro', () => {
  fc.assert(
    fc.property(rectangular, ({ dimensions, value }) => {
      const c = codecFor(builtinType(1009)!, -1, noLookup, { arrayDimensions: dimensions });
      const decoded = c.fromText(render(value));
      assert.deepEqual(decoded, value);
      assert.deepEqual(throughAvro(c, decoded), value);
      assert.deepEqual(c.toJson(decoded), value);
    }),
    { numRuns: 500 },
  );
});

test('elements go through the element type codec: int8[], numeric(10,2)[], bool[], bytea[], timestamptz[]', () => {
  const int8s = codecFor(builtinType(1016)!, -1, noLookup);
  assert.deepEqual(int8s.fromText('{1,NULL,-9223372036854775808}'), [1n, null, -9223372036854775808n]);
  assert.deepEqual(int8s.toJson([1n, null, -9223372036854775808n]), [1, null, '-9223372036854775808']);

  const numerics = codecFor(builtinType(1231)!, ((10 << 16) | 2) + 4, noLookup);
  const decimals = numerics.fromText('{1.50,NULL,-0.01}');
  assert.deepEqual(decimals, [{ unscaled: 150n, scale: 2 }, null, { unscaled: -1n, scale: 2 }]);
  assert.deepEqual(throughAvro(numerics, decimals), decimals);
  assert.deepEqual(numerics.toJson(decimals), ['1.50', null, '-0.01']);

  assert.deepEqual(codecFor(builtinType(1000)!, -1, noLookup).fromText('{t,f,NULL}'), [true, false, null]);
  const bytea = codecFor(builtinType(1001)!, -1, noLookup);
  const buffers = bytea.fromText('{"\\\\x01ff","\\\\x"}') as Buffer[];
  assert.deepEqual(buffers.map((b) => b.toString('hex')), ['01ff', '']);
  assert.deepEqual(bytea.toJson(buffers), ['Af8=', '']);
  assert.deepEqual(codecFor(builtinType(1185)!, -1, noLookup).fromText('{"2024-01-01 00:00:00+00",infinity}'), [
    1704067200000000n,
    9223372036825200000n,
  ]);
});

test('a value with other dimensions than the schema is refused, with the cause in the error', () => {
  const oneDim = codecFor(builtinType(1007)!, -1, noLookup);
  const twoDim = codecFor(builtinType(1007)!, -1, noLookup, { arrayDimensions: 2 });
  assert.deepEqual(oneDim.fromText('{}'), []);
  assert.deepEqual(twoDim.fromText('{}'), []);
  assert.throws(() => oneDim.fromText('{{1,2},{3,4}}'), ValueUnrepresentableError);
  assert.throws(() => twoDim.fromText('{1,2}'), ValueUnrepresentableError);
  assert.throws(() => oneDim.fromText('{1,x}'), ValueDecodeError);
  assert.deepEqual(oneDim.avroSchema, {
    type: 'array',
    items: ['null', { type: 'int', 'connect.parameters': { '__debezium.source.column.type': 'INT4' } }],
    'connect.parameters': { '__debezium.source.column.type': '_INT4' },
  });
  assert.deepEqual(twoDim.avroSchema.items, {
    type: 'array',
    items: ['null', { type: 'int', 'connect.parameters': { '__debezium.source.column.type': 'INT4' } }],
  });
});
