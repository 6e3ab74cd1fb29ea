// The PostgreSQL type -> Avro schema -> JS value mapping as a whole: exact examples (text as
// PostgreSQL 15 prints it), the schema annotations, domains/enums/extension types, memoisation,
// and that every built-in type yields a schema avsc accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinType, codecFor, type AvroSchemaObject, type ColumnCodec, type JsonValue } from '../../src/decode/codec.ts';
import { ValueDecodeError } from '../../src/decode/errors.ts';
import type { PgType } from '../../src/decode/pg-type.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';

const noLookup = (): PgType | undefined => undefined;
const builtin = (oid: number, typeMod = -1): ColumnCodec => codecFor(builtinType(oid)!, typeMod, noLookup);

function throughAvro(c: ColumnCodec, value: unknown): unknown {
  const type = avroType(['null', c.avroSchema] as never);
  return type.fromBuffer(type.toBuffer(value));
}

/** [type oid, typmod, PostgreSQL text, JS value, JSON, Avro type, connect.name] */
type Example = [number, number, string, unknown, JsonValue, string, string | undefined];

const EXAMPLES: Example[] = [
  [16, -1, 't', true, true, 'boolean', undefined],
  [16, -1, 'f', false, false, 'boolean', undefined],
  [21, -1, '-32768', -32768, -32768, 'int', undefined],
  [23, -1, '2147483647', 2147483647, 2147483647, 'int', undefined],
  [20, -1, '9223372036854775807', 9223372036854775807n, '9223372036854775807', 'long', undefined],
  [20, -1, '-42', -42n, -42, 'long', undefined],
  [26, -1, '4294967295', 4294967295n, 4294967295, 'long', undefined],
  [700, -1, '3.4028235e+38', 3.4028234663852886e38, 3.4028235e38, 'float', undefined],
  [700, -1, '0.1', Math.fround(0.1), 0.1, 'float', undefined],
  [700, -1, '-Infinity', -Infinity, '-Infinity', 'float', undefined],
  [701, -1, '-0', -0, -0, 'double', undefined],
  [701, -1, '5e-324', 5e-324, 5e-324, 'double', undefined],
  [701, -1, 'NaN', NaN, 'NaN', 'double', undefined],
  [701, -1, '-Infinity', -Infinity, '-Infinity', 'double', undefined],
  [1700, ((40 << 16) | 5) + 4, '123456789012345678901234567890.12345', { unscaled: 12345678901234567890123456789012345n, scale: 5 }, '123456789012345678901234567890.12345', 'bytes', 'org.apache.kafka.connect.data.Decimal'],
  [1700, ((5 << 16) | 2) + 4, '-0.50', { unscaled: -50n, scale: 2 }, '-0.50', 'bytes', 'org.apache.kafka.connect.data.Decimal'],
  [1700, -1, '1.50', '1.50', '1.50', 'string', undefined],
  [1700, -1, 'Infinity', 'Infinity', 'Infinity', 'string', undefined],
  [790, -1, '$92,233,720,368,547,758.07', { unscaled: 9223372036854775807n, scale: 2 }, '92233720368547758.07', 'bytes', 'org.apache.kafka.connect.data.Decimal'],
  [25, -1, 'héllo\n"', 'héllo\n"', 'héllo\n"', 'string', undefined],
  [1042, (4 + 4), 'ab  ', 'ab  ', 'ab  ', 'string', undefined],
  [18, -1, 'x', 'x', 'x', 'string', undefined],
  [19, -1, 'pg_class', 'pg_class', 'pg_class', 'string', undefined],
  [17, -1, '\\x00ff10', Buffer.from([0, 255, 16]), 'AP8Q', 'bytes', undefined],
  [17, -1, '\\000\\377\\020\\\\"AZ\\177\\200', Buffer.from('00ff105c22415a7f80', 'hex'), 'AP8QXCJBWn+A', 'bytes', undefined],
  [2950, -1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'string', 'io.debezium.data.Uuid'],
  [114, -1, '{"a": 1}', '{"a": 1}', '{"a": 1}', 'string', 'io.debezium.data.Json'],
  [3802, -1, '{"a": 1, "b": [1, 2]}', '{"a": 1, "b": [1, 2]}', '{"a": 1, "b": [1, 2]}', 'string', 'io.debezium.data.Json'],
  [142, -1, '<a>x</a>', '<a>x</a>', '<a>x</a>', 'string', 'io.debezium.data.Xml'],
  [1082, -1, '2000-02-29', 11016, 11016, 'int', 'org.apache.kafka.connect.data.Date'],
  [1082, -1, '4714-11-24 BC', -2440588, -2440588, 'int', 'org.apache.kafka.connect.data.Date'],
  [1083, -1, '23:59:59.999999', 86399999999, 86399999999, 'long', 'io.debezium.time.MicroTime'],
  [1266, -1, '10:00:00+05:30:12', '04:29:48Z', '04:29:48Z', 'string', 'io.debezium.time.ZonedTime'],
  [1114, -1, '2024-01-01 10:00:00.123456', 1704103200123456n, 1704103200123456, 'long', 'io.debezium.time.MicroTimestamp'],
  [1184, -1, '2024-01-01 15:30:00.123456+05:30', 1704103200123456n, 1704103200123456, 'long', 'io.debezium.time.MicroTimestamp'],
  [1186, -1, '178000000 years', 'P178000000Y0M0DT0H0M0S', 'P178000000Y0M0DT0H0M0S', 'string', 'io.debezium.time.Interval'],
  [1186, -1, '2147483647 days 2562047788:00:54.775807', 'P0Y0M2147483647DT2562047788H0M54.775807S', 'P0Y0M2147483647DT2562047788H0M54.775807S', 'string', 'io.debezium.time.Interval'],
  [869, -1, '192.168.0.1/24', '192.168.0.1/24', '192.168.0.1/24', 'string', undefined],
  [650, -1, '10.0.0.0/8', '10.0.0.0/8', '10.0.0.0/8', 'string', undefined],
  [829, -1, '08:00:2b:01:02:03', '08:00:2b:01:02:03', '08:00:2b:01:02:03', 'string', undefined],
  [774, -1, '08:00:2b:01:02:03:04:05', '08:00:2b:01:02:03:04:05', '08:00:2b:01:02:03:04:05', 'string', undefined],
  [1560, 1, '1', true, true, 'boolean', undefined],
  [1560, 4, '1010', '1010', '1010', 'string', undefined],
  [1562, -1, '', '', '', 'string', undefined],
  [3904, -1, '[1,10)', '[1,10)', '[1,10)', 'string', undefined],
  [3910, -1, '["2024-01-01 00:00:00+00",infinity)', '["2024-01-01 00:00:00+00",infinity)', '["2024-01-01 00:00:00+00",infinity)', 'string', undefined],
  [4451, -1, '{[1,3),[5,7)}', '{[1,3),[5,7)}', '{[1,3),[5,7)}', 'string', undefined],
  [600, -1, '(1,2)', '(1,2)', '(1,2)', 'string', undefined],
  [3614, -1, "'a' 'b':2", "'a' 'b':2", "'a' 'b':2", 'string', 'io.debezium.data.Tsvector'],
  [3220, -1, '16/B374D848', '16/B374D848', '16/B374D848', 'string', undefined],
  [22, -1, '1 2 3', '1 2 3', '1 2 3', 'string', undefined],
];

test('exact examples: PostgreSQL text -> JS value -> Avro -> JSON, with Debezium connect.name', () => {
  for (const [oid, typeMod, text, value, json, avroType_, connectName] of EXAMPLES) {
    const c = builtin(oid, typeMod);
    const label = `${c.pgTypeName} ${JSON.stringify(text)}`;
    const decoded = c.fromText(text);
    assert.deepEqual(decoded, value, label);
    assert.deepEqual(throughAvro(c, decoded), value, label);
    assert.deepEqual(c.toJson(decoded), json, label);
    const schema = c.avroSchema as AvroSchemaObject;
    assert.equal(schema.type, avroType_, label);
    assert.equal(schema['connect.name'], connectName, label);
    assert.equal(
      (schema['connect.parameters'] as Record<string, string>)['__debezium.source.column.type'],
      c.pgTypeName.toUpperCase(),
      label,
    );
  }
});

test('standard logical types sit only where Connect AvroData accepts them beside connect.name', () => {
  const logical = (oid: number, typeMod = -1): unknown => (builtin(oid, typeMod).avroSchema as AvroSchemaObject).logicalType;
  assert.equal(logical(1082), 'date');
  assert.equal(logical(1083), 'time-micros');
  assert.equal(logical(1114), 'timestamp-micros');
  assert.equal(logical(1184), 'timestamp-micros');
  assert.equal(logical(2950), 'uuid');
  assert.equal(logical(1700, ((10 << 16) | 2) + 4), 'decimal');
  assert.equal(logical(790), 'decimal');
  // AvroData maps int+date to Connect's Date and bytes+decimal to Connect's Decimal, and throws
  // "Mismatched names" for any other connect.name on them.
  assert.equal((builtin(1082).avroSchema as AvroSchemaObject)['connect.name'], 'org.apache.kafka.connect.data.Date');
  assert.equal(
    (builtin(1700, ((10 << 16) | 2) + 4).avroSchema as AvroSchemaObject)['connect.name'],
    'org.apache.kafka.connect.data.Decimal',
  );
  assert.deepEqual(builtin(21).avroSchema, {
    type: 'int',
    'connect.type': 'int16',
    'connect.parameters': { '__debezium.source.column.type': 'INT2' },
  });
  assert.deepEqual((builtin(1043, 255 + 4).avroSchema as AvroSchemaObject)['connect.parameters'], {
    '__debezium.source.column.type': 'VARCHAR',
    '__debezium.source.column.length': '255',
  });
});

test('int8: every 64-bit integer is exact through Avro; JSON is a number only while exact', () => {
  const c = builtin(20);
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
      const value = c.fromText(n.toString());
      assert.equal(value, n);
      assert.equal(throughAvro(c, value), n);
      const json = c.toJson(value);
      if (n >= -(2n ** 53n - 1n) && n <= 2n ** 53n - 1n) assert.equal(json, Number(n));
      else assert.equal(json, n.toString());
    }),
    { numRuns: 2000 },
  );
  for (const text of ['9223372036854775808', '-9223372036854775809', '', '-', '1.0', '0x10', ' 1', '1 ', '+1', '١٢']) {
    assert.throws(() => c.fromText(text), ValueDecodeError, JSON.stringify(text));
  }
});

test('int2/int4: range-checked, decimal digits only', () => {
  const int2 = builtin(21);
  const int4 = builtin(23);
  fc.assert(
    fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (n) => {
      assert.equal(int4.fromText(String(n)), n);
      if (n >= -32768 && n <= 32767) assert.equal(int2.fromText(String(n)), n);
      else assert.throws(() => int2.fromText(String(n)), ValueDecodeError);
    }),
  );
  for (const text of ['2147483648', '-2147483649', '99999999999', '', '1e3', '1.5', 'NaN']) {
    assert.throws(() => int4.fromText(text), ValueDecodeError, text);
  }
});

test('bytea hex: random bytes survive; bad hex is an error', () => {
  const c = builtin(17);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const value = c.fromText(`\\x${buf.toString('hex')}`) as Buffer;
      assert.ok(value.equals(buf));
      assert.ok((throughAvro(c, value) as Buffer).equals(buf));
      assert.equal(c.toJson(value), buf.toString('base64'));
    }),
  );
  for (const text of ['\\x0', '\\xzz', '\\x0g', '\\q', '\\1', '\\400']) assert.throws(() => c.fromText(text), ValueDecodeError, text);
});

test('malformed scalar text throws ValueDecodeError with the type and a truncated copy of the text', () => {
  const bad: Array<[number, number, string]> = [
    [16, -1, 'true'],
    [16, -1, 'T'],
    [700, -1, '1e39'],
    [701, -1, ''],
    [701, -1, 'nan'],
    [701, -1, '1,5'],
    [2950, -1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A1'],
    [2950, -1, 'a0eebc999c0b4ef8bb6d6bb9bd380a11'],
    [1560, 1, 't'],
    [1560, 4, '10a0'],
    [26, -1, '-1'],
    [26, -1, '4294967296'],
  ];
  for (const [oid, typeMod, text] of bad) {
    const c = builtin(oid, typeMod);
    assert.throws(
      () => c.fromText(text),
      (e: unknown) => e instanceof ValueDecodeError && e.code === 'WALCAST_VALUE_DECODE' && e.typeName === c.pgTypeName && e.text === text,
      `${c.pgTypeName} ${JSON.stringify(text)}`,
    );
  }
  const long = 'x'.repeat(1000);
  try {
    builtin(16).fromText(long);
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof ValueDecodeError);
    assert.equal(e.text.length, 64);
    assert.ok(e.message.length < 200, e.message);
    assert.match(e.message, /cannot decode PostgreSQL bool value "x{64}"… \(1000 chars\)/);
  }
});

test('enums: Avro string with Debezium Enum annotation listing the labels; new labels still flow', () => {
  const mood: PgType = { oid: 16400, name: 'mood', namespace: 'public', kind: 'e', enumLabels: ['sad', 'ok', 'happy'] };
  const c = codecFor(mood, -1, noLookup);
  assert.deepEqual(c.avroSchema, {
    type: 'string',
    'connect.version': 1,
    'connect.name': 'io.debezium.data.Enum',
    'connect.parameters': { allowed: 'sad,ok,happy', '__debezium.source.column.type': 'MOOD' },
  });
  assert.equal(c.fromText('ok'), 'ok');
  assert.equal(c.fromText('ecstatic'), 'ecstatic');
  const moods: PgType = { oid: 16401, name: '_mood', namespace: 'public', kind: 'b', elementOid: 16400, delimiter: ',' };
  const array = codecFor(moods, -1, (oid) => (oid === 16400 ? mood : undefined));
  assert.deepEqual(array.fromText('{sad,NULL,happy}'), ['sad', null, 'happy']);
  assert.equal(((array.avroSchema as AvroSchemaObject).items as AvroSchemaObject[])[1]!['connect.name'], 'io.debezium.data.Enum');
});

test('domains publish as their base type, with the typmod the domain declares', () => {
  const price: PgType = { oid: 16410, name: 'price', namespace: 'public', kind: 'd', baseOid: 1700, baseTypeMod: ((10 << 16) | 2) + 4 };
  const email: PgType = { oid: 16411, name: 'email', namespace: 'public', kind: 'd', baseOid: 25 };
  const positive: PgType = { oid: 16412, name: 'positive_price', namespace: 'public', kind: 'd', baseOid: 16410 };
  const prices: PgType = { oid: 16413, name: '_price', namespace: 'public', kind: 'b', elementOid: 16410, delimiter: ',' };
  const types = new Map([price, email, positive, prices].map((t) => [t.oid, t]));
  const lookup = (oid: number): PgType | undefined => types.get(oid);

  const p = codecFor(price, -1, lookup);
  assert.deepEqual(p.fromText('12.50'), { unscaled: 1250n, scale: 2 });
  const schema = p.avroSchema as AvroSchemaObject;
  assert.equal(schema.logicalType, 'decimal');
  assert.equal((schema['connect.parameters'] as Record<string, string>)['__debezium.source.column.type'], 'PRICE');
  assert.equal(p.pgTypeName, 'price');
  assert.equal(codecFor(email, -1, lookup).fromText('a@b'), 'a@b');
  assert.deepEqual(codecFor(positive, -1, lookup).fromText('1.00'), { unscaled: 100n, scale: 2 }); // domain over domain
  assert.deepEqual(codecFor(prices, -1, lookup).fromText('{1.00,NULL}'), [{ unscaled: 100n, scale: 2 }, null]);
});

test('hstore: map of nullable strings; unknown and extension types: their exact text', () => {
  const hstore: PgType = { oid: 16500, name: 'hstore', namespace: 'public', kind: 'b' };
  const c = codecFor(hstore, -1, noLookup);
  assert.deepEqual(c.avroSchema, {
    type: 'map',
    values: ['null', 'string'],
    'connect.parameters': { '__debezium.source.column.type': 'HSTORE' },
  });
  const value = c.fromText('""=>"", "a"=>"1", "b"=>NULL, "c d"=>"x\\"y\\\\z", "NULL"=>"NULL", "__proto__"=>"p"') as Record<string, string | null>;
  assert.deepEqual(Object.entries(value), [
    ['', ''],
    ['a', '1'],
    ['b', null],
    ['c d', 'x"y\\z'],
    ['NULL', 'NULL'],
    ['__proto__', 'p'],
  ]);
  assert.deepEqual(Object.entries(c.fromText('') as object), []);
  assert.deepEqual(Object.entries(c.fromText('a=>1,b=>NULL') as object), [['a', '1'], ['b', null]]);
  for (const text of ['"a"=>', '"a"', '"a"=>"b",', '"a"=>"b" "c"=>"d"', '"a=>"b"']) assert.throws(() => c.fromText(text), ValueDecodeError, text);

  const citext: PgType = { oid: 16600, name: 'citext', namespace: 'public', kind: 'b' };
  const composite: PgType = { oid: 16601, name: 'address', namespace: 'public', kind: 'c' };
  const range: PgType = { oid: 16602, name: 'floatrange', namespace: 'public', kind: 'r' };
  for (const t of [citext, composite, range]) {
    const u = codecFor(t, -1, noLookup);
    assert.equal(u.fromText('(1,"a b")'), '(1,"a b")');
    assert.deepEqual(u.avroSchema, { type: 'string', 'connect.parameters': { '__debezium.source.column.type': t.name.toUpperCase() } });
  }
  // An array whose element type nobody knows: still parsed, elements kept as text.
  const orphan: PgType = { oid: 16700, name: '_gone', namespace: 'public', kind: 'b', elementOid: 16699 };
  assert.deepEqual(codecFor(orphan, -1, noLookup).fromText('{a,NULL}'), ['a', null]);
});

test('every built-in type and array type gets a schema avsc accepts with assertLogicalTypes', () => {
  let count = 0;
  for (let oid = 0; oid < 7000; oid++) {
    const type = builtinType(oid);
    if (!type) continue;
    count++;
    const c = codecFor(type, -1, noLookup);
    assert.equal(c.pgTypeName, type.name);
    avroType(['null', c.avroSchema] as never);
    assert.ok(Object.isFrozen(c.avroSchema), type.name);
  }
  assert.equal(count, 158);
  // int2vector and oidvector are category 'A' but not array literals: walcast's table wins even
  // when the caller describes them as arrays.
  const claimedArray: PgType = { oid: 22, name: 'int2vector', namespace: 'pg_catalog', kind: 'b', elementOid: 21 };
  assert.equal(codecFor(claimedArray, -1, noLookup).fromText('1 2'), '1 2');
});

test('codecs are memoised per type, typmod and options, and rebuilt when the lookup answers differently', () => {
  assert.equal(builtin(1700, ((10 << 16) | 2) + 4), builtin(1700, ((10 << 16) | 2) + 4));
  assert.notEqual(builtin(1700, ((10 << 16) | 2) + 4), builtin(1700, ((10 << 16) | 3) + 4));
  const type = builtinType(1700)!;
  assert.notEqual(codecFor(type, -1, noLookup), codecFor(type, -1, noLookup, { decimalHandling: 'string' }));
  assert.equal(codecFor(type, -1, noLookup, {}), codecFor(type, -1, noLookup, { decimalHandling: 'precise', arrayDimensions: 0 }));

  const v1: PgType = { oid: 16400, name: 'mood', namespace: 'public', kind: 'e', enumLabels: ['a'] };
  const v2: PgType = { ...v1, enumLabels: ['a', 'b'] };
  const array: PgType = { oid: 16401, name: '_mood', namespace: 'public', kind: 'b', elementOid: 16400 };
  let current = v1;
  const lookup = (oid: number): PgType | undefined => (oid === 16400 ? current : undefined);
  const first = codecFor(array, -1, lookup);
  assert.equal(codecFor(array, -1, lookup), first);
  current = v2;
  const second = codecFor(array, -1, lookup);
  assert.notEqual(second, first);
  const items = (second.avroSchema as AvroSchemaObject).items as AvroSchemaObject[];
  assert.equal((items[1]!['connect.parameters'] as Record<string, string>).allowed, 'a,b');
});
