// Issue 4's type matrix, end to end against the real services: one column per PostgreSQL type,
// rows with NULLs, extremes, unicode, NaN, infinities, empty and nested arrays. walcast streams
// them; an independent Avro reader (Python: confluent-kafka + fastavro, test/helpers/avro_reader.py)
// reads them back; and every column of every row is compared with a value PostgreSQL itself
// computes for that row (to_char, extract, encode, array_to_json, hstore_to_json...), already in
// the shape the reader renders. No walcast code computes an expected value.
//
// Rendered shapes (avro_reader.py's render()): timestamp/timestamptz (timestamp-micros) ->
// "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"; date -> "YYYY-MM-DD"; time (time-micros) -> Python's
// time.isoformat(); Avro decimal -> str(Decimal) (compared here as an exact decimal: value and
// scale); bytes -> {"$bytes": base64}; uuid -> string; float NaN/±Infinity -> {"$float": "nan" |
// "inf" | "-inf"}; map -> object; long -> integer (parsed here as BigInt beyond 2^53).
//
// fastavro turns timestamp-micros, date and time-micros into Python datetime/date/time, which
// cannot hold years outside 1..9999, PostgreSQL's ±infinity sentinels or 24:00:00: decoding such
// a record raises (OverflowError/ValueError) and would lose the whole record. The reader is
// therefore run through a small wrapper (READER_WRAPPER below) that makes those three logical
// readers total: a value Python cannot represent comes back as {"$raw": <the Avro int/long>},
// which this test checks against PostgreSQL's own epoch arithmetic (or, for ±infinity, against
// the sentinels walcast documents, which are Debezium's).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { readerPython, type ReadRecord } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('types', {
  setup: async (db) => {
    // hstore is a contrib extension; created in the default schema if missing and left there
    // (other objects in the database may come to depend on it).
    await db.query('create extension if not exists hstore');
    await db.query(`set search_path = ${schema}, public`);
    await db.query(`create type ${schema}.mood as enum ('sad', 'ok', 'happy', 'très "heureux"')`);
    await db.query(`create domain ${schema}.price as numeric(10,2)`);
    await db.query(`create domain ${schema}.label as text`);
    await db.query(`create domain ${schema}.small_price as ${schema}.price check (value < 1000)`);
    await db.query(`create domain ${schema}.ts_domain as timestamptz`);
    await db.query(`create type ${schema}.pair as (a int, b text)`);
    await db.query(`create table ${schema}.types (id int primary key, ${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
    for (const table of ['toast_full', 'toast_default']) {
      await db.query(`create table ${schema}.${table} (id int primary key, big text, big_bytes bytea, big_arr text[], big_ints int8[], n int)`);
    }
    await db.query(`alter table ${schema}.toast_full replica identity full`);
  },
});
const { schema } = it;
const PLACEHOLDER = '__debezium_unavailable_value';

// ---------------------------------------------------------------------------------------------
// The reader, made total for values Python's datetime cannot hold (see the header comment).

const READER_WRAPPER = `
import runpy, sys
import fastavro._logical_readers as logical

def total(name):
    inner = logical.LOGICAL_READERS[name]
    def read(data, *args, **kwargs):
        try:
            return inner(data, *args, **kwargs)
        except (OverflowError, ValueError):
            return {"$raw": data}
    logical.LOGICAL_READERS[name] = read

for name in ("long-timestamp-micros", "int-date", "long-time-micros"):
    total(name)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
`;

/** JSON.parse that keeps integers beyond 2^53 exact (as BigInt) instead of rounding them. */
function parseExact(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? '')
      ? BigInt(context!.source!)
      : value,
  );
}

async function readAll(topics: string[], count: number): Promise<ReadRecord[]> {
  const py = await readerPython();
  const reader = join(import.meta.dirname, '..', 'helpers', 'avro_reader.py');
  const args = [
    '-c', READER_WRAPPER, reader,
    '--brokers', services.kafkaBrokers.join(','),
    '--registry', services.schemaRegistryUrl,
    '--count', String(count),
    '--timeout-ms', '90000',
    ...topics,
  ];
  const { stdout } = await promisify(execFile)(py, args, { maxBuffer: 1 << 30 });
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => parseExact(l) as ReadRecord);
}

// ---------------------------------------------------------------------------------------------
// Expected values, computed by PostgreSQL. Each builder maps a column reference to a SQL
// expression of type json that is the value as the reader renders it.

type Expr = (c: string) => string;

/** PostgreSQL's own text output (the type's output function, as pgoutput sends it). */
const outputText: Expr = (c) => `to_json(format('%s', ${c}))`;
const native: Expr = (c) => `to_json(${c})`;
/** Avro decimal; NaN (legal in numeric(p,s)) widens the column to a union with string: "NaN". */
const decimal: Expr = (c) => `case when ${c}::numeric = 'NaN' then to_json('NaN'::text) else json_build_object('$decimal', ${c}::numeric::text) end`;
const float: Expr = (c) =>
  `case when ${c} = 'NaN' then '{"$float":"nan"}'::json when ${c} = 'Infinity' then '{"$float":"inf"}'::json ` +
  `when ${c} = '-Infinity' then '{"$float":"-inf"}'::json else to_json(${c}::float8) end`;
const bytes: Expr = (c) => `json_build_object('$bytes', translate(encode(${c}, 'base64'), E'\\n', ''))`;
const bitFlag: Expr = (c) => `to_json(${c} = B'1')`;
/**
 * date: Avro days since the epoch. Within Python's years 1..9999 the reader gives the ISO date;
 * outside them the raw day count, which PostgreSQL computes as date - '1970-01-01'. ±infinity
 * cannot be subtracted: walcast documents int32 max/min as their sentinels (outside PostgreSQL's
 * finite range of -2440588 .. 2145042905 days, so never ambiguous).
 */
const date: Expr = (c) =>
  `case when ${c} = 'infinity' then '{"$raw":2147483647}'::json when ${c} = '-infinity' then '{"$raw":-2147483648}'::json ` +
  `when ${c} between '0001-01-01' and '9999-12-31' then to_json(to_char(${c}, 'YYYY-MM-DD')) ` +
  `else json_build_object('$raw', ${c} - date '1970-01-01') end`;
/** time: time-micros; Python's isoformat omits a zero fraction; 24:00:00 has no Python time. */
const time: Expr = (c) =>
  `case when ${c} = '24:00:00' then json_build_object('$raw', (extract(epoch from ${c}) * 1000000)::bigint) ` +
  `when extract(microseconds from ${c})::bigint % 1000000 = 0 then to_json(to_char(${c}::interval, 'HH24:MI:SS')) ` +
  `else to_json(to_char(${c}::interval, 'HH24:MI:SS.US')) end`;
/** timetz: io.debezium.time.ZonedTime, the same instant in UTC ("08:15:30.5Z"); PostgreSQL
 * prints the UTC time with trailing fraction zeros dropped, as the codec documents. */
const timetz: Expr = (c) => `to_json(regexp_replace((${c} at time zone 'UTC')::text, '\\+00$', 'Z'))`;
/**
 * timestamp(tz): timestamp-micros. In Python's range the reader's ISO string (UTC; a timestamp
 * without time zone is its wall clock taken as UTC); outside it, the raw epoch microseconds,
 * from extract(epoch). ±infinity: Debezium's sentinels, which walcast documents
 * (9223372036825200000 / -9223372036832400000); PostgreSQL's extract gives ±Infinity there.
 */
function timestamp(withZone: boolean): Expr {
  const type = withZone ? 'timestamptz' : 'timestamp';
  const utc = (c: string): string => (withZone ? `(${c} at time zone 'UTC')` : c);
  const zone = withZone ? '+00' : '';
  return (c) =>
    `case when ${c} = 'infinity' then '{"$raw":9223372036825200000}'::json ` +
    `when ${c} = '-infinity' then '{"$raw":-9223372036832400000}'::json ` +
    `when ${c} >= '0001-01-01 00:00:00${zone}'::${type} and ${c} < '10000-01-01 00:00:00${zone}'::${type} ` +
    `then to_json(to_char(${utc(c)}, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')) ` +
    // Past int64 microseconds (legal up to 294276 AD): the widened column's ISO-8601 text.
    `when ${c} >= '294247-01-10 04:00:25.2${zone}'::${type} ` +
    `then to_json('+' || regexp_replace(to_char(${utc(c)}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\\.?0+$', '') || 'Z') ` +
    `else json_build_object('$raw', (extract(epoch from ${c}) * 1000000)::bigint) end`;
}
/**
 * interval: io.debezium.time.Interval, "P{y}Y{m}M{d}DT{h}H{min}M{s}S" with every field present
 * and each carrying its own sign (the codec's documented format). PostgreSQL's extract gives
 * exactly these fields: years and months from the month count, days, and hours, minutes and
 * seconds (with microseconds) of the time part, each truncated toward zero.
 */
const interval: Expr = (c) =>
  `to_json(format('P%sY%sM%sDT%sH%sM%sS', extract(year from ${c}), extract(month from ${c}), extract(day from ${c}), ` +
  `extract(hour from ${c}), extract(minute from ${c}), trim_scale(extract(second from ${c}))))`;
const hstore: Expr = (c) => `hstore_to_json(${c})`;
/**
 * An array whose elements each go through `element` (NULL elements stay null), nested as deep as
 * the value's own dimensions (1 or 2 here: PostgreSQL does not hold a column to its declared ones).
 */
function arrayOf(element: Expr): Expr {
  const item = (e: string): string => `case when ${e} is null then 'null'::json else (${element(e)}) end`;
  return (c) =>
    `case when array_ndims(${c}) = 2 then (select json_agg((select json_agg(${item(`${c}[i][j]`)} order by j) ` +
    `from generate_subscripts(${c}, 2) j) order by i) from generate_subscripts(${c}, 1) i) ` +
    `else (select coalesce(json_agg(${item('e')} order by n), '[]'::json) from unnest(${c}) with ordinality as u(e, n)) end`;
}
/** Any-dimensional array of a type whose cast to text is its output function. */
const textArray: Expr = (c) => `array_to_json(${c}::text[])`;

interface Column {
  name: string;
  type: string;
  group: string;
  expected: Expr;
}

const columns: Column[] = [
  { name: 'c_bool', type: 'boolean', group: 'bool and integers', expected: native },
  { name: 'c_int2', type: 'int2', group: 'bool and integers', expected: native },
  { name: 'c_int4', type: 'int4', group: 'bool and integers', expected: native },
  { name: 'c_int8', type: 'int8', group: 'bool and integers', expected: native },
  { name: 'c_oid', type: 'oid', group: 'bool and integers', expected: (c) => `to_json(${c}::int8)` },
  { name: 'c_float4', type: 'float4', group: 'floats', expected: float },
  { name: 'c_float8', type: 'float8', group: 'floats', expected: float },
  { name: 'c_numeric', type: 'numeric(38,10)', group: 'numeric and money', expected: decimal },
  { name: 'c_numeric_neg_scale', type: 'numeric(5,-2)', group: 'numeric and money', expected: decimal },
  { name: 'c_numeric_free', type: 'numeric', group: 'numeric and money', expected: outputText },
  { name: 'c_money', type: 'money', group: 'numeric and money', expected: decimal },
  { name: 'c_price', type: 'price', group: 'numeric and money', expected: decimal },
  { name: 'c_text', type: 'text', group: 'strings, enum, domain', expected: outputText },
  { name: 'c_varchar', type: 'varchar(20)', group: 'strings, enum, domain', expected: outputText },
  { name: 'c_char', type: 'char(5)', group: 'strings, enum, domain', expected: outputText },
  { name: 'c_mood', type: 'mood', group: 'strings, enum, domain', expected: outputText },
  { name: 'c_label', type: 'label', group: 'strings, enum, domain', expected: outputText },
  { name: 'c_small_price', type: 'small_price', group: 'strings, enum, domain', expected: decimal },
  { name: 'c_ts_domain', type: 'ts_domain', group: 'strings, enum, domain', expected: timestamp(true) },
  { name: 'c_bytea', type: 'bytea', group: 'bytea and uuid', expected: bytes },
  { name: 'c_uuid', type: 'uuid', group: 'bytea and uuid', expected: outputText },
  { name: 'c_json', type: 'json', group: 'json and xml', expected: outputText },
  { name: 'c_jsonb', type: 'jsonb', group: 'json and xml', expected: outputText },
  { name: 'c_xml', type: 'xml', group: 'json and xml', expected: outputText },
  { name: 'c_date', type: 'date', group: 'date and time', expected: date },
  { name: 'c_time', type: 'time', group: 'date and time', expected: time },
  { name: 'c_timetz', type: 'timetz', group: 'date and time', expected: timetz },
  { name: 'c_timestamp', type: 'timestamp', group: 'timestamps', expected: timestamp(false) },
  { name: 'c_timestamptz', type: 'timestamptz', group: 'timestamps', expected: timestamp(true) },
  { name: 'c_interval', type: 'interval', group: 'interval', expected: interval },
  { name: 'c_inet', type: 'inet', group: 'network', expected: outputText },
  { name: 'c_cidr', type: 'cidr', group: 'network', expected: outputText },
  { name: 'c_macaddr', type: 'macaddr', group: 'network', expected: outputText },
  { name: 'c_bit', type: 'bit(8)', group: 'bit strings', expected: outputText },
  { name: 'c_bit1', type: 'bit(1)', group: 'bit strings', expected: bitFlag },
  { name: 'c_varbit', type: 'varbit', group: 'bit strings', expected: outputText },
  { name: 'c_int4_arr', type: 'int4[]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_text_arr', type: 'text[]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_int4_2d', type: 'int4[][]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_text_2d', type: 'text[][]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_numeric_arr', type: 'numeric[]', group: 'arrays', expected: textArray },
  { name: 'c_numeric_p_arr', type: 'numeric(20,5)[]', group: 'arrays', expected: arrayOf(decimal) },
  { name: 'c_tstz_arr', type: 'timestamptz[]', group: 'arrays', expected: arrayOf(timestamp(true)) },
  { name: 'c_mood_arr', type: 'mood[]', group: 'arrays', expected: textArray },
  { name: 'c_uuid_arr', type: 'uuid[]', group: 'arrays', expected: textArray },
  { name: 'c_box_arr', type: 'box[]', group: 'arrays', expected: textArray },
  { name: 'c_price_arr', type: 'price[]', group: 'arrays', expected: arrayOf(decimal) },
  { name: 'c_int8_arr', type: 'int8[]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_bool_arr', type: 'bool[]', group: 'arrays', expected: (c) => `array_to_json(${c})` },
  { name: 'c_float8_arr', type: 'float8[]', group: 'arrays', expected: arrayOf(float) },
  { name: 'c_money_arr', type: 'money[]', group: 'arrays', expected: arrayOf(decimal) },
  { name: 'c_char_arr', type: 'char(3)[]', group: 'arrays', expected: arrayOf(outputText) },
  { name: 'c_bytea_arr', type: 'bytea[]', group: 'arrays', expected: arrayOf(bytes) },
  { name: 'c_jsonb_arr', type: 'jsonb[]', group: 'arrays', expected: textArray },
  { name: 'c_date_arr', type: 'date[]', group: 'arrays', expected: arrayOf(date) },
  { name: 'c_interval_arr', type: 'interval[]', group: 'arrays', expected: arrayOf(interval) },
  { name: 'c_hstore', type: 'hstore', group: 'hstore', expected: hstore },
  { name: 'c_hstore_arr', type: 'hstore[]', group: 'hstore', expected: arrayOf(hstore) },
  { name: 'c_int4range', type: 'int4range', group: 'ranges and other types', expected: outputText },
  { name: 'c_tstzrange', type: 'tstzrange', group: 'ranges and other types', expected: outputText },
  { name: 'c_point', type: 'point', group: 'ranges and other types', expected: outputText },
  { name: 'c_tsvector', type: 'tsvector', group: 'ranges and other types', expected: outputText },
  { name: 'c_multirange', type: 'int4multirange', group: 'ranges and other types', expected: outputText },
  { name: 'c_pair', type: 'pair', group: 'ranges and other types', expected: outputText },
  { name: 'c_pair_arr', type: 'pair[]', group: 'ranges and other types', expected: textArray },
  { name: 'c_qchar', type: '"char"', group: 'ranges and other types', expected: outputText },
];

// ---------------------------------------------------------------------------------------------
// Rows: SQL expressions per column (absent: NULL). Row 1 is all NULLs.

const allBytes = `(select decode(string_agg(lpad(to_hex(i), 2, '0'), '' order by i), 'hex') from generate_series(0, 255) i)`;
const minInterval = `'-178000000 years -11 mons -2147483648 days'::interval - '2562047788:00:54.775807'::interval - '1 microsecond'::interval`;
const unicode = `E'emoji 😀👨‍👩‍👧👍🏽 日本語 Ελληνικά עברית e\\u0301\\ttab\\nnewline \\\\ backslash "quote" \\'apos\\' \\u0001'`;

const rows: Array<Record<string, string>> = [
  // 1: every column NULL
  {},
  // 2: ordinary values, arrays with NULL and quoted elements
  {
    c_bool: 'true', c_int2: '12345', c_int4: '-123456789', c_int8: '1234567890123',
    c_float4: `'0.1'`, c_float8: `'3.141592653589793'`,
    c_numeric: `'12345.6789'`, c_numeric_neg_scale: `'12345'`, c_numeric_free: `'-1.50'`, c_money: `'1234.56'`, c_price: `'1234.5'`,
    c_text: `'hello, world'`, c_varchar: `'café'`, c_char: `'ab'`, c_mood: `'happy'`, c_label: `'a label'`,
    c_bytea: `'\\xdeadbeef'`, c_uuid: `'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'`,
    c_json: `'{"b": 1,  "a": [1, 2.50, null], "b": 2}'`, c_jsonb: `'{"b": 1,  "a": [1, 2.50, null], "b": 2}'`,
    c_xml: `'<a x="1">é &amp; b</a>'`,
    c_date: `'2024-02-29'`, c_time: `'12:34:56.789'`, c_timetz: `'10:15:30.5+02'`,
    c_timestamp: `'2024-02-29 12:34:56.123456'`, c_timestamptz: `'2024-02-29 12:34:56.123456+05:30'`,
    c_interval: `'1 year 2 mons 3 days 04:05:06.789'`,
    c_inet: `'192.168.0.1'`, c_cidr: `'10.0.0.0/8'`, c_macaddr: `'08:00:2b:01:02:03'`,
    c_bit: `B'10101010'`, c_bit1: `B'1'`, c_varbit: `B'101'`,
    c_int4_arr: `'{1,2,3}'`,
    c_text_arr: `'{"a,b","NULL",NULL,"\\"q\\"","back\\\\slash","{}"," sp ",null}'`,
    c_int4_2d: `'{{1,2},{3,NULL}}'`,
    c_text_2d: `'{{"a,b",NULL},{"NULL","\\"q\\""}}'`,
    c_numeric_arr: `'{1.5,NaN,NULL,-0.001,12345678901234567890.123456789}'`,
    c_numeric_p_arr: `'{1.5,NULL,-999999999999999.99999}'`,
    c_tstz_arr: `'{"2024-01-01 00:00:00+00",NULL,"1999-12-31 23:59:59.999999-08"}'`,
    c_mood_arr: `'{sad,happy,NULL,"très \\"heureux\\""}'`,
    c_uuid_arr: `'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'`,
    c_box_arr: `'{(1,1),(0,0);(2,2),(1,1)}'`,
    c_hstore: `'"a"=>"1", "b"=>NULL'`,
    c_price_arr: `'{1.5,NULL,-0.01}'`, c_int8_arr: `'{9223372036854775807,-9223372036854775808,NULL,0}'`,
    c_bool_arr: `'{t,f,NULL}'`, c_float8_arr: `'{NaN,Infinity,-Infinity,-0,1.5,NULL,0.1}'`,
    c_money_arr: `'{1.25,-92233720368547758.08,NULL}'`, c_char_arr: `'{a,NULL,"b c","  "}'`,
    c_bytea_arr: `'{"\\\\x00ff",NULL,"\\\\x"}'`, c_jsonb_arr: `ARRAY['{"a": [1, "x,y"]}'::jsonb, NULL, '"s"', 'null']`,
    c_date_arr: `'{2024-02-29,infinity,NULL,"0044-03-15 BC"}'`,
    c_interval_arr: `'{"1 year -2 days 00:00:01.5",NULL,"-00:00:00.000001"}'`,
    c_hstore_arr: `ARRAY['"a"=>"1", "b"=>NULL'::hstore, NULL, '']`,
    c_small_price: `'999.99'`, c_ts_domain: `'2024-02-29 12:34:56.654321-07'`,
    c_multirange: `'{[1,3), [5,7)}'`, c_pair: `ROW(1, 'x,"y"')`, c_pair_arr: `ARRAY[ROW(1, 'a b')::pair, NULL, ROW(NULL, '')::pair]`,
    c_qchar: `'a'`, c_oid: '4294967295',
    c_int4range: `'[1,10)'`, c_tstzrange: `'["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")'`,
    c_point: `'(1.5,-2.25)'`, c_tsvector: `'a fat cat sat on a mat'`,
  },
  // 3: maxima, +infinity, NaN, unicode
  {
    c_bool: 'false', c_int2: '32767', c_int4: '2147483647', c_int8: '9223372036854775807',
    c_float4: `'Infinity'`, c_float8: `'NaN'`,
    c_numeric: `'9999999999999999999999999999.9999999999'`, c_numeric_neg_scale: `'9999900'`, c_numeric_free: `'NaN'`,
    c_money: `'92233720368547758.07'`, c_price: `'99999999.99'`,
    c_text: unicode, c_varchar: `repeat('😀', 20)`, c_char: `'日本😀'`, c_mood: `'très "heureux"'`, c_label: `''`,
    c_bytea: allBytes, c_uuid: `'ffffffff-ffff-ffff-ffff-ffffffffffff'`,
    c_json: `'{"emoji":"😀","esc":"\\u00e9\\n","big":123456789012345678901234567890}'`,
    c_jsonb: `'{"emoji":"😀","esc":"\\u00e9\\n","big":123456789012345678901234567890}'`,
    c_xml: `'<r a="&quot;">😀</r>'`,
    c_date: `'infinity'`, c_time: `'24:00:00'`, c_timetz: `'00:30:00+01'`,
    c_timestamp: `'infinity'`, c_timestamptz: `'infinity'`,
    c_interval: `'178000000 years 11 mons 2147483647 days 2562047788:00:54.775807'`,
    c_inet: `'2001:db8::1/64'`, c_cidr: `'2001:db8::/32'`, c_macaddr: `'ff:ff:ff:ff:ff:ff'`,
    c_bit: `B'11111111'`, c_bit1: `B'0'`, c_varbit: `repeat('1', 200)::varbit`,
    c_int4_arr: `'{2147483647,-2147483648}'`, c_text_arr: `'{}'`, c_int4_2d: `'{}'`,
    c_text_2d: `'{{"😀","é"},{"\\\\","\\"\\""}}'`,
    c_numeric_arr: `'{}'`, c_numeric_p_arr: `'{999999999999999.99999}'`,
    c_tstz_arr: `'{infinity,-infinity}'`, c_mood_arr: `'{}'`, c_uuid_arr: `'{}'`, c_box_arr: `'{}'`,
    c_hstore: `''`, c_int4range: `'empty'`, c_tstzrange: `'(,infinity]'`,
    c_point: `'(1e+300,-1e-300)'`, c_tsvector: `''`,
  },
  // 4: minima, -infinity, -0, empty values
  {
    c_int2: '-32768', c_int4: '-2147483648', c_int8: '-9223372036854775808',
    c_float4: `'-Infinity'`, c_float8: `'-0'`,
    c_numeric: `'-9999999999999999999999999999.9999999999'`, c_numeric_neg_scale: `'-9999900'`, c_numeric_free: `'Infinity'`,
    c_money: `'-92233720368547758.08'`, c_price: `'-99999999.99'`,
    c_text: `''`, c_varchar: `''`, c_char: `''`, c_mood: `'sad'`, c_label: `'😀'`,
    c_bytea: `'\\x'`, c_uuid: `'00000000-0000-0000-0000-000000000000'`,
    c_json: `'""'`, c_jsonb: `'[]'`, c_xml: `'<e/>'`,
    c_date: `'-infinity'`, c_time: `'00:00:00'`, c_timetz: `'23:59:59.999999-12'`,
    c_timestamp: `'-infinity'`, c_timestamptz: `'-infinity'`,
    c_interval: minInterval,
    c_inet: `'0.0.0.0/0'`, c_cidr: `'0.0.0.0/0'`, c_macaddr: `'00:00:00:00:00:00'`,
    c_bit: `B'00000000'`, c_varbit: `B''`,
    c_int4_arr: `'{NULL}'`, c_text_arr: `'{""}'`, c_int4_2d: `'{{NULL,NULL},{NULL,NULL}}'`, c_text_2d: `'{{""}}'`,
    c_numeric_arr: `'{NaN,Infinity,-Infinity}'`, c_numeric_p_arr: `'{NULL}'`, c_tstz_arr: `'{}'`,
    c_mood_arr: `'{NULL}'`, c_uuid_arr: `'{NULL}'`, c_box_arr: `'{NULL}'`,
    c_hstore: `'"😀"=>"é", ""=>"", "k,=>\\"q\\""=>"v\\\\w", "null"=>NULL, "NULL"=>"NULL"'`,
    c_int4range: `'(,)'`, c_tstzrange: `'empty'`,
    c_point: `'(0,0)'`, c_tsvector: `$$'quoted''s' 'é':1A 'x':2,3$$`,
  },
  // 5: microseconds, tiny and long numbers, BC values (outside Python's datetime range)
  {
    c_int8: '9007199254740993', c_float4: `'1.4e-45'`, c_float8: `'5e-324'`,
    c_numeric: `'0.0000000001'`, c_numeric_neg_scale: `'0'`,
    c_numeric_free: `('0.' || repeat('0', 100) || '1')::numeric`, c_money: `'0.01'`, c_price: `'0.00'`,
    c_text: `repeat('ab€😀', 1000)`, c_char: `'é'`,
    c_date: `'0044-03-15 BC'`, c_time: `'00:00:00.000001'`, c_timetz: `'12:00:00+05:30:15'`,
    c_timestamp: `'0044-03-15 12:00:00.000001 BC'`, c_timestamptz: `'1970-01-01 00:00:00.000001+00'`,
    c_interval: `'-00:00:00.000001'`,
    c_tstz_arr: `'{"1970-01-01 00:00:00.000001+00","0044-03-15 12:00:00 BC"}'`,
    c_numeric_arr: `ARRAY[('1' || repeat('0', 60) || '.5')::numeric]`,
    // Non-default lower bounds: PostgreSQL prints "[5:6]={7,8}"; Avro (and array_to_json) keep the elements.
    c_int4_arr: `'[5:6]={7,8}'`, c_int4_2d: `'[0:1][-2:-1]={{1,2},{3,4}}'`,
    c_small_price: `'-99999999.99'`, c_ts_domain: `'infinity'`,
    c_multirange: `'{}'`, c_pair: `ROW(NULL, NULL)`, c_pair_arr: `'{}'`, c_qchar: `chr(200)::"char"`, c_oid: '0',
  },
  // 6: the edges of Python's datetime range, and -Infinity in unconstrained numeric
  {
    c_float8: `'1.7976931348623157e308'`, c_numeric_free: `'-Infinity'`,
    c_numeric: `'1234567890123456789012345678.0123456789'`,
    c_date: `'0001-01-01'`, c_time: `'23:59:59.999999'`, c_timetz: `'24:00:00+00'`,
    c_timestamp: `'0001-01-01 00:00:00'`, c_timestamptz: `'9999-12-31 23:59:59.999999+00'`,
    c_interval: `'-1 years -2 mons +3 days -04:05:06.789'`,
  },
  // 7: far beyond Python's range but finite in PostgreSQL
  {
    c_float8: `'-4.9e-324'`, c_numeric_free: `'-12345678901234567890123456789.123456789012345678901234567890'`,
    c_date: `'5874897-12-31'`, c_timetz: `'00:00:00+14'`,
    c_timestamp: `'200000-06-15 12:00:00.5'`, c_timestamptz: `'4713-01-01 00:00:00+00 BC'`,
    c_interval: `'0 seconds'`,
  },
  // 8: the other edges
  {
    c_date: `'4714-11-24 BC'`, c_timestamp: `'9999-12-31 23:59:59.999999'`, c_timestamptz: `'0001-01-01 00:00:00+00'`,
    c_interval: `'3 weeks 1.5 seconds'`,
  },
  // 9: legal values beyond the declared type (issue 14): each column widens (docs/types.md) and
  // keeps that shape for the rows after it.
  {
    c_int4_arr: `'{{1,2},{3,NULL}}'`, c_numeric: `'NaN'`, c_price: `'NaN'`,
    c_int4_2d: `'{1,2,3}'`, c_text_arr: `'{{"a,b",NULL},{"NULL",""}}'`, c_numeric_p_arr: `'{{1.5,NaN},{NULL,-2}}'`,
    c_timestamptz: `'294250-06-15 12:00:00.5+00'`, c_timestamp: `'294276-12-31 23:59:59.999999'`,
    c_tstz_arr: `'{"294250-01-01 00:00:00+00",NULL}'`, c_date_arr: `'{{2024-02-29,infinity},{NULL,"0044-03-15 BC"}}'`,
    c_ts_domain: `'294247-01-10 04:00:25.2+00'`, c_bool_arr: `'{{{t}},{{f}}}'`,
  },
  // 10: more of them, and declared-shape values in the now widened columns
  {
    c_int4_arr: `'{{{{{{7}}}}}}'`, c_numeric: `'-12.5'`, c_price: `'3.25'`, c_int4_2d: `'{{1,2},{3,4}}'`,
    c_numeric_p_arr: `'{1.5,NULL}'`, c_timestamptz: `'2024-02-29 12:00:00+00'`, c_tstz_arr: `'{"2024-01-01 00:00:00+00"}'`,
    c_text_arr: `'{solo}'`, c_money_arr: `'{{1.25},{-2.50}}'`, c_uuid_arr: `'{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}'`,
  },
];

const httpPort = 20000 + Math.floor(Math.random() * 20000);
const walcastEnv = (): Record<string, string> => it.env({ WALCAST_HTTP_PORT: String(httpPort), WALCAST_HTTP_HOST: '127.0.0.1' });

const { db } = it;
const topic = it.topic;

/** An exact decimal "digits × 10^-scale" from "-12.50", "1.00E-8" or "0E-10" (Python's str(Decimal)). */
function exactDecimal(text: string): string | undefined {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:E([+-]?\d+))?$/i.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const fraction = m[3] ?? '';
  const unscaled = BigInt(`${m[1]}${m[2]}${fraction}`);
  const scale = fraction.length - Number(m[4] ?? 0);
  return `${unscaled}e${-scale}`;
}

/** Compares a rendered value with the expected one; `{"$decimal": text}` means an exact decimal. */
function sameRendered(actual: unknown, expected: unknown): boolean {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected) && '$decimal' in expected) {
    const want = (expected as { $decimal: string }).$decimal;
    return typeof actual === 'string' && exactDecimal(actual) !== undefined && exactDecimal(actual) === exactDecimal(want);
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => sameRendered(actual[i], e));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = Object.keys(e);
    return keys.length === Object.keys(a).length && keys.every((k) => Object.hasOwn(a, k) && sameRendered(a[k], e[k]));
  }
  return Object.is(actual, expected);
}

function show(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

describe('type matrix', () => {
  let walcast: WalcastProcess;
  /** Rendered `after` image per row id, as the independent reader saw it. */
  const actual = new Map<number, Record<string, unknown>>();
  /** Expected rendered value per row id and column, computed by PostgreSQL. */
  const expected = new Map<number, Record<string, unknown>>();
  let toastRecords: ReadRecord[] = [];
  const toastValues = new Map<string, { big: string; big_bytes: unknown; big_arr: unknown; big_ints: unknown }>();
  let started = 0;

  test('walcast streams one row per case, read back by the independent reader', async () => {
    started = Date.now();
    walcast = new WalcastProcess(walcastEnv());
    await walcast.waitForStreaming();

    for (const [i, row] of rows.entries()) {
      const names = Object.keys(row);
      const sql = `insert into ${schema}.types (id${names.map((n) => `, ${n}`).join('')}) values (${i + 1}${names.map((n) => `, ${row[n]}`).join('')})`;
      await db.query(sql);
    }
    // TOAST: large, poorly compressible values stored out of line, then an update of another column.
    const md5s = `(select array_agg(md5(i::text) order by i) from generate_series(1, 2000) i)`;
    const ints = `(select array_agg(('x' || substr(md5(i::text), 1, 15))::bit(60)::int8 order by i) from generate_series(1, 2000) i)`;
    for (const table of ['toast_full', 'toast_default']) {
      await db.query(
        `insert into ${schema}.${table} values (1, array_to_string(${md5s}, ''), decode(array_to_string(${md5s}, ''), 'hex'), ${md5s}, ${ints}, 1)`,
      );
      await db.query(`update ${schema}.${table} set n = 2 where id = 1`);
      const r = await db.query(
        `select big, ${bytes('big_bytes')}::text as big_bytes, array_to_json(big_arr)::text as big_arr, array_to_json(big_ints)::text as big_ints, ` +
          `pg_column_size(big) as stored, pg_column_size(big_ints) as stored_ints from ${schema}.${table} where id = 1`,
      );
      assert.ok(r.rows[0].stored > 8000 && r.rows[0].stored_ints > 8000, `big and big_ints are stored in ${r.rows[0].stored} and ${r.rows[0].stored_ints} bytes: too small to be TOASTed`);
      toastValues.set(table, { big: r.rows[0].big, big_bytes: JSON.parse(r.rows[0].big_bytes), big_arr: JSON.parse(r.rows[0].big_arr), big_ints: parseExact(r.rows[0].big_ints) });
    }

    // num_nulls, not IS NULL: a composite whose fields are all NULL "IS NULL" but is a value, "(,)".
    const selects = columns.map((c) => `(case when num_nulls(${c.name}) = 1 then 'null'::json else (${c.expected(c.name)}) end)::text as ${c.name}`);
    const { rows: pgRows } = await db.query(`select id, ${selects.join(', ')} from ${schema}.types order by id`);
    for (const r of pgRows) {
      const values: Record<string, unknown> = {};
      for (const c of columns) values[c.name] = parseExact(r[c.name] as string);
      expected.set(r.id as number, values);
    }

    const records = await readAll([topic('types'), topic('toast_full'), topic('toast_default')], rows.length + 4);
    for (const r of records.filter((x) => x.topic === topic('types'))) {
      assert.equal(r.value?.op, 'c');
      assert.equal(r.value?.before, null);
      assert.deepEqual(r.key, { id: (r.value!.after as { id: number }).id });
      actual.set((r.value!.after as { id: number }).id, r.value!.after as Record<string, unknown>);
    }
    toastRecords = records.filter((x) => x.topic !== topic('types'));
    assert.deepEqual([...actual.keys()].sort((a, b) => a - b), rows.map((_, i) => i + 1), walcast.output.slice(-4000));
  });

  for (const group of [...new Set(columns.map((c) => c.group))]) {
    test(`every row's ${group} equal what PostgreSQL holds`, () => {
      assert.ok(actual.size > 0, 'no records were read');
      const mismatches: string[] = [];
      for (const [rowId, want] of expected) {
        const got = actual.get(rowId);
        for (const column of columns.filter((c) => c.group === group)) {
          if (got === undefined || !Object.hasOwn(got, column.name)) {
            mismatches.push(`row ${rowId} ${column.name}: missing from the event`);
          } else if (!sameRendered(got[column.name], want[column.name])) {
            mismatches.push(`row ${rowId} ${column.name} (${column.type}): expected ${show(want[column.name])}, got ${show(got[column.name])}`);
          }
        }
      }
      assert.deepEqual(mismatches, []);
    });
  }

  test('done when: a 2-D array in an int[] column and NaN in a numeric(p,s) column arrive intact (default settings)', async () => {
    const row = actual.get(9);
    assert.ok(row, 'row 9 was read');
    assert.deepEqual(row.c_int4_arr, [[1, 2], [3, null]]);
    assert.equal(row.c_numeric, 'NaN');
    // Both columns kept their shape for later rows, and declared-shape values in them stay exact.
    assert.deepEqual(actual.get(10)!.c_int4_arr, [[[[[[7]]]]]]);
    assert.equal(actual.get(10)!.c_numeric, '-12.5000000000');
    // The registry holds the widened version, accepted under its default BACKWARD rule.
    const response = await fetch(`${services.schemaRegistryUrl}/subjects/${topic('types')}-value/versions`);
    const versions = (await response.json()) as number[];
    assert.ok(versions.length >= 2, `versions ${JSON.stringify(versions)}`);
    const latest = JSON.parse(((await (await fetch(`${services.schemaRegistryUrl}/subjects/${topic('types')}-value/versions/latest`)).json()) as { schema: string }).schema) as {
      fields: Array<{ name: string; type: unknown }>;
    };
    const value = (latest.fields.find((f) => f.name === 'before')!.type as unknown[]).find((t) => t !== 'null') as { fields: Array<{ name: string; type: unknown[] }> };
    const numeric = value.fields.find((f) => f.name === 'c_numeric')!.type;
    assert.deepEqual(numeric.filter((t) => t === 'string' || (t as { type?: string }).type === 'string').length, 1, JSON.stringify(numeric));
    const ints = value.fields.find((f) => f.name === 'c_int4_arr')!.type.find((t) => t !== 'null') as { items: unknown[] };
    assert.ok(ints.items.some((t) => (t as { type?: string }).type === 'array'), JSON.stringify(ints));
  });

  test('no column is missing or extra in the after image', () => {
    for (const [rowId, got] of actual) {
      assert.deepEqual(Object.keys(got).sort(), ['id', ...columns.map((c) => c.name)].sort(), `row ${rowId}`);
    }
  });

  test('types without a specific mapping are strings named in the registered schema', async () => {
    const response = await fetch(`${services.schemaRegistryUrl}/subjects/${topic('types')}-value/versions/latest`);
    assert.equal(response.status, 200);
    const envelope = JSON.parse(((await response.json()) as { schema: string }).schema) as {
      fields: Array<{ name: string; type: unknown }>;
    };
    const value = (envelope.fields.find((f) => f.name === 'before')!.type as unknown[]).find((t) => t !== 'null') as {
      fields: Array<{ name: string; type: unknown[] }>;
    };
    for (const [name, pgName] of [['c_point', 'POINT'], ['c_int4range', 'INT4RANGE'], ['c_tstzrange', 'TSTZRANGE'], ['c_box_arr', '_BOX']] as const) {
      const field = value.fields.find((f) => f.name === name)!;
      const schemaObject = field.type.find((t) => t !== 'null') as { type: string; items?: unknown; 'connect.parameters'?: Record<string, string> };
      assert.equal(schemaObject.type, name === 'c_box_arr' ? 'array' : 'string', name);
      assert.equal(schemaObject['connect.parameters']?.['__debezium.source.column.type'], pgName, name);
    }
  });

  test('unchanged TOAST values: the real values under REPLICA IDENTITY FULL', () => {
    const events = toastRecords.filter((r) => r.topic === topic('toast_full'));
    assert.deepEqual(events.map((r) => r.value?.op), ['c', 'u']);
    const want = toastValues.get('toast_full')!;
    const update = events[1]!.value!;
    for (const image of ['before', 'after'] as const) {
      const row = update[image] as Record<string, unknown>;
      assert.ok(row.big === want.big, `${image}.big: expected the ${want.big.length}-char value, got ${show(row.big)}`);
      assert.ok(sameRendered(row.big_bytes, want.big_bytes), `${image}.big_bytes: got ${show(row.big_bytes)}`);
      assert.ok(sameRendered(row.big_arr, want.big_arr), `${image}.big_arr: got ${show(row.big_arr)}`);
      assert.ok(sameRendered(row.big_ints, want.big_ints), `${image}.big_ints: got ${show(row.big_ints)}`);
      assert.equal(row.n, image === 'before' ? 1 : 2);
    }
  });

  test('unchanged TOAST values: Debezium\'s placeholder under REPLICA IDENTITY DEFAULT', () => {
    const events = toastRecords.filter((r) => r.topic === topic('toast_default'));
    assert.deepEqual(events.map((r) => r.value?.op), ['c', 'u']);
    const want = toastValues.get('toast_default')!;
    const inserted = events[0]!.value!.after as Record<string, unknown>;
    assert.ok(inserted.big === want.big && sameRendered(inserted.big_bytes, want.big_bytes) && sameRendered(inserted.big_arr, want.big_arr) && sameRendered(inserted.big_ints, want.big_ints),
      'the insert carries the real values');
    const update = events[1]!.value!;
    assert.equal(update.before, null);
    // Debezium's convention per column type: the placeholder string, its UTF-8 bytes for bytea,
    // a one-element list for an array of strings, the bytes as numbers for an int8[].
    assert.deepEqual(update.after, {
      id: 1,
      big: PLACEHOLDER,
      big_bytes: { $bytes: Buffer.from(PLACEHOLDER).toString('base64') },
      big_arr: [PLACEHOLDER],
      // Debezium's bigint[] placeholder: the placeholder's bytes as numbers
      big_ints: [...Buffer.from(PLACEHOLDER)],
      n: 2,
    });
  });

  test('a snapshot of the same rows (COPY\'s text, escapes and all) publishes what the stream published, as op r', async () => {
    assert.ok(actual.size > 0, 'no records were read');
    const tables = ['types', 'toast_full', 'toast_default'];
    const done = walcast.waitForLog((l) => l.msg === 'snapshot complete', 120_000, 'snapshot complete');
    const response = await fetch(`http://127.0.0.1:${httpPort}/connectors/${it.prefix}/snapshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'data-collections': tables.map((t) => `${schema}.${t}`) }),
    });
    assert.equal(response.status, 202, await response.text());
    await done;
    const streamed = rows.length + toastRecords.length;
    const records = await readAll(tables.map(topic), streamed + rows.length + 2);
    const reads = records.filter((r) => r.value?.op === 'r');
    const mismatches: string[] = [];
    for (const r of reads.filter((x) => x.topic === topic('types'))) {
      const after = r.value!.after as Record<string, unknown>;
      const id = after.id as number;
      const want = actual.get(id);
      for (const [name, value] of Object.entries(after)) {
        if (!want || !sameRendered(value, want[name])) mismatches.push(`row ${id} ${name}: streamed ${show(want?.[name])}, snapshot ${show(value)}`);
      }
    }
    assert.deepEqual(mismatches, []);
    assert.equal(reads.filter((x) => x.topic === topic('types')).length, rows.length, 'one read per row');
    for (const table of ['toast_full', 'toast_default']) {
      const [read] = reads.filter((x) => x.topic === topic(table));
      const after = read!.value!.after as Record<string, unknown>;
      const want = toastValues.get(table)!;
      assert.ok(after.big === want.big && sameRendered(after.big_bytes, want.big_bytes) && sameRendered(after.big_arr, want.big_arr) && sameRendered(after.big_ints, want.big_ints), `${table}: the snapshot reads the real values`);
    }
  });

  test('stops cleanly', async () => {
    const result = await walcast.stop('SIGTERM');
    assert.equal(result.code, 0, walcast.output.slice(-2000));
    console.log(`# type matrix: ${rows.length} rows × ${columns.length} columns + TOAST in ${Date.now() - started} ms`);
  });
});
