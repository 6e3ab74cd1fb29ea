/**
 * Property tests of the column decoders against the real PostgreSQL (issue 4: "drive each decoder
 * with random values rendered by PostgreSQL's own text output"). For every type, fast-check
 * generates the *components* of a value (an int64, the unscaled digits and scale of a numeric,
 * the bits of a double, days and microseconds since the epoch, months/days/micros of an
 * interval, raw bytes...); PostgreSQL builds the value from them and prints it with its own
 * output function, in a session set up as walcast's replication session is (DateStyle=ISO,
 * IntervalStyle=postgres, extra_float_digits=3, and TimeZone varied at random); the codec's
 * fromText must give exactly the value computed here from the components, and that value must
 * survive an Avro round trip through the codec's schema with walcast's logical types.
 *
 * Each property run renders a whole batch of values in one query, so the file stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import avsc from 'avsc';
import pg from 'pg';
import { builtinType, codecFor, type ColumnCodec, type Decimal } from '../../src/decode/codec.ts';
import { ValueUnrepresentableError } from '../../src/decode/errors.ts';
import type { PgType } from '../../src/decode/pg-type.ts';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';

const services = loadServices();
let client: pg.Client;

before(async () => {
  client = new pg.Client({
    connectionString: services.pgUrl,
    // The settings walcast's replication session asks for (src/service.ts).
    options: '-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3',
  });
  await client.connect();
});

after(async () => {
  await client?.end();
});

// ---------------------------------------------------------------------------------------------
// Helpers

const RUNS = 200;

/** Every column as the exact text PostgreSQL's output function printed (no pg-types parsing). */
const rawText = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

/**
 * One query rendering many expressions, each in its own column of a single row, so every value
 * keeps its own type and arrives as its type's output function printed it (as in pgoutput; a
 * cast to text would differ for bool and char(n)).
 */
class Batch {
  readonly params: unknown[] = [];
  readonly exprs: string[] = [];
  /** A placeholder for `value`. Buffers go as binary parameters (the type's recv function). */
  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  add(expr: string): void {
    this.exprs.push(expr);
  }
  async render(): Promise<Array<string | null>> {
    if (this.exprs.length === 0) return [];
    const columns = this.exprs.map((e, i) => `(${e}) AS c${i}`).join(', ');
    const result = await client.query<Array<string | null>>({
      text: `SELECT ${columns}`,
      values: this.params,
      rowMode: 'array',
      types: rawText,
    });
    return result.rows[0]!;
  }
}

async function setSession(name: string, value: string): Promise<void> {
  await client.query('SELECT set_config($1, $2, false)', [name, value]);
}

const noLookup = (): PgType | undefined => undefined;
const builtin = (oid: number, typeMod = -1, options: Parameters<typeof codecFor>[3] = {}): ColumnCodec =>
  codecFor(builtinType(oid)!, typeMod, noLookup, options);

const avroTypes = new WeakMap<ColumnCodec, avsc.Type>();
function avroTypeOf(codec: ColumnCodec): avsc.Type {
  let type = avroTypes.get(codec);
  if (type === undefined) {
    // A widened scalar's values take more than one Avro type: its union.
    const schema = codec.avroBranches.length === 1 ? codec.avroSchema : codec.avroBranches;
    type = avsc.Type.forSchema(schema as unknown as avsc.Schema, avroTypeOptions());
    avroTypes.set(codec, type);
  }
  return type;
}

const show = (v: unknown): string => inspect(v, { depth: 6, breakLength: Infinity });

/**
 * Decodes PostgreSQL's text with the codec, compares with the independently computed value
 * (assert's deep-strict equality is bigint-, Buffer-, NaN- and -0-aware), then writes the value
 * with avsc through the codec's Avro schema and reads it back.
 */
function check(codec: ColumnCodec, text: string | null, expected: unknown, normalize: (v: unknown) => unknown = (v) => v): void {
  assert.notEqual(text, null, `PostgreSQL rendered NULL where ${show(expected)} was expected`);
  const decoded = codec.fromText(text!);
  assert.deepStrictEqual(decoded, expected, `${codec.pgTypeName} ${JSON.stringify(text)}: decoded ${show(decoded)}, expected ${show(expected)}`);
  const type = avroTypeOf(codec);
  const back = type.fromBuffer(type.toBuffer(decoded));
  assert.deepStrictEqual(
    normalize(back),
    normalize(expected),
    `${codec.pgTypeName} ${JSON.stringify(text)}: Avro round trip gave ${show(back)}, expected ${show(expected)}`,
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MICROS_PER_DAY = 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Plain decimal text of unscaled × 10^-scale with max(scale, 0) fraction digits (numeric_out). */
function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  const sign = negative ? '-' : '';
  if (scale <= 0) {
    if (unscaled !== 0n) digits += '0'.repeat(-scale);
    return sign + digits;
  }
  digits = digits.padStart(scale + 1, '0');
  return `${sign}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
}

/** ".ffffff" without trailing zeros, "" for 0. */
function fractionText(micros: bigint): string {
  return micros === 0n ? '' : `.${micros.toString().padStart(6, '0').replace(/0+$/, '')}`;
}

/** The ISO-8601 form io.debezium.time.Interval documents: every field, each with its own sign. */
function isoInterval(months: number, days: number, micros: bigint): string {
  const years = Math.trunc(months / 12);
  const restMonths = months - years * 12;
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const sign = negative ? '-' : '';
  const hours = abs / 3_600_000_000n;
  const minutes = (abs % 3_600_000_000n) / 60_000_000n;
  const seconds = (abs % 60_000_000n) / 1_000_000n;
  const fraction = abs % 1_000_000n;
  const field = (n: bigint): string => (n === 0n ? '0' : `${sign}${n}`);
  const secondsText = seconds === 0n && fraction === 0n ? '0' : `${sign}${seconds}${fractionText(fraction)}`;
  // `${-0}` is "0": a year or month count of zero never carries a sign.
  return `P${years}Y${restMonths}M${days}DT${field(hours)}H${field(minutes)}M${secondsText}S`;
}

const pad2 = (n: bigint): string => n.toString().padStart(2, '0');

/** Strings PostgreSQL can hold (no NUL), any Unicode otherwise. */
const pgText = (maxLength = 30): fc.Arbitrary<string> =>
  fc
    .oneof(
      { arbitrary: fc.string({ unit: 'binary', maxLength }), weight: 3 },
      {
        arbitrary: fc.string({
          unit: fc.constantFrom('a', ' ', '"', '\\', ',', '{', '}', '=', '>', 'NULL', 'null', '\t', '\n', 'é', '😀', "'", '[', ':'),
          maxLength,
        }),
        weight: 2,
      },
    )
    .map((s) => s.replaceAll('\0', ''));

const batchOf = <T>(arb: fc.Arbitrary<T>, maxLength = 25): fc.Arbitrary<T[]> => fc.array(arb, { minLength: 1, maxLength });

/** Time zones with half-hour, 45-minute and LMT (seconds) offsets, DST, and a POSIX offset. */
const timeZone = fc.constantFrom(
  'UTC',
  'Asia/Kathmandu',
  'America/St_Johns',
  '+05:30',
  '-03:15',
  'Europe/London',
  'America/Los_Angeles',
  'Pacific/Chatham',
  'Australia/Lord_Howe',
  'Africa/Monrovia',
  'Pacific/Kiritimati',
  'Asia/Kolkata',
  'Etc/GMT+12',
);

// ---------------------------------------------------------------------------------------------
// Integers and booleans

describe('integers and booleans', () => {
  test('int8: full 64-bit range as bigint', async () => {
    const codec = builtin(20);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.bigInt({ min: INT64_MIN, max: INT64_MAX })), async (values) => {
        const b = new Batch();
        // Built from two 32-bit halves, so PostgreSQL does the 64-bit arithmetic.
        for (const v of values) {
          const hi = v >> 32n;
          const lo = v & 0xffffffffn;
          b.add(`(${b.p(hi.toString())}::int8 * 4294967296 + ${b.p(lo.toString())}::int8)`);
        }
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v));
      }),
      { numRuns: RUNS },
    );
  });

  test('int2 and int4: full range as number', async () => {
    const int2 = builtin(21);
    const int4 = builtin(23);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.tuple(fc.integer({ min: -32768, max: 32767 }), fc.integer())), async (values) => {
        const b = new Batch();
        for (const [s, i] of values) {
          b.add(`${b.p(String(s))}::int2`);
          b.add(`${b.p(String(i))}::int4`);
        }
        const texts = await b.render();
        values.forEach(([s, i], k) => {
          check(int2, texts[2 * k]!, s);
          check(int4, texts[2 * k + 1]!, i);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('bool', async () => {
    const codec = builtin(16);
    const b = new Batch();
    b.add('true');
    b.add('false');
    b.add(`${b.p('yes')}::bool`);
    b.add(`${b.p('0')}::bool`);
    const texts = await b.render();
    [true, false, true, false].forEach((v, i) => check(codec, texts[i]!, v));
  });
});

// ---------------------------------------------------------------------------------------------
// Floating point

describe('floating point', () => {
  test('float8: bit-exact, NaN, ±Infinity and -0 (value sent as binary, printed by float8out)', async () => {
    const codec = builtin(701);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.double()), async (values) => {
        const b = new Batch();
        for (const v of values) {
          const bits = Buffer.alloc(8);
          bits.writeDoubleBE(v);
          b.add(`${b.p(bits)}::float8`);
        }
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v));
      }),
      { numRuns: RUNS },
    );
  });

  test('float8: every bit pattern (random 64-bit words)', async () => {
    const codec = builtin(701);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), async (words) => {
        const b = new Batch();
        const values: number[] = [];
        for (const w of words) {
          const bits = Buffer.alloc(8);
          bits.writeBigUInt64BE(w);
          values.push(bits.readDoubleBE());
          b.add(`${b.p(bits)}::float8`);
        }
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v));
      }),
      { numRuns: RUNS },
    );
  });

  test('float4: exact float32 values, NaN, ±Infinity, -0, subnormals', async () => {
    const codec = builtin(700);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.oneof(fc.float(), fc.integer({ min: 0, max: 0xffffffff }).map((w) => {
        const bits = Buffer.alloc(4);
        bits.writeUInt32BE(w);
        return bits.readFloatBE();
      }))), async (values) => {
        const b = new Batch();
        for (const v of values) {
          const bits = Buffer.alloc(4);
          bits.writeFloatBE(v);
          b.add(`${b.p(bits)}::float4`);
        }
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// numeric and money

/** A value that fits `precision` digits: unscaled with at most `precision` digits. */
const unscaledOf = (precision: number): fc.Arbitrary<bigint> =>
  fc.integer({ min: 0, max: precision }).chain((digits) => {
    const bound = 10n ** BigInt(digits) - 1n;
    return fc.bigInt({ min: -bound, max: bound });
  });

describe('numeric', () => {
  const column = fc
    .record({
      precision: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 40 }), weight: 4 }, { arbitrary: fc.integer({ min: 1, max: 1000 }), weight: 1 }),
      scaleShift: fc.oneof({ arbitrary: fc.integer({ min: -20, max: 20 }), weight: 3 }, { arbitrary: fc.integer({ min: -1000, max: 1000 }), weight: 1 }),
      scaleFrom: fc.constantFrom<'zero' | 'precision'>('zero', 'precision'),
    })
    .map(({ precision, scaleShift, scaleFrom }) => {
      const scale = Math.max(-1000, Math.min(1000, (scaleFrom === 'precision' ? precision : 0) + scaleShift));
      return { precision, scale };
    });

  test('numeric(p,s), including negative scale and scale > precision: exact Decimal; exact text in string mode', async () => {
    await fc.assert(
      fc.asyncProperty(
        column.chain((col) => fc.tuple(fc.constant(col), batchOf(unscaledOf(col.precision), 15))),
        async ([{ precision, scale }, values]) => {
          // The typmod as PostgreSQL itself computes it for numeric(p,s).
          const { rows } = await client.query<{ typmod: number }>('SELECT numerictypmodin(ARRAY[$1, $2]::cstring[]) AS typmod', [
            String(precision),
            String(scale),
          ]);
          const typmod = rows[0]!.typmod;
          const precise = builtin(1700, typmod);
          const asString = builtin(1700, typmod, { decimalHandling: 'string' });
          const b = new Batch();
          // Exponent notation: PostgreSQL does the scaling (value = unscaled × 10^-scale).
          for (const u of values) b.add(`${b.p(`${u}e${-scale}`)}::numeric(${precision}, ${scale})`);
          const texts = await b.render();
          values.forEach((u, i) => {
            const expected: Decimal = scale >= 0 ? { unscaled: u, scale } : { unscaled: u * 10n ** BigInt(-scale), scale: 0 };
            check(precise, texts[i]!, expected);
            check(asString, texts[i]!, decimalText(u, scale));
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('domain over numeric(p,s): decoded with the typmod the domain declares (pg_type.typtypmod)', async () => {
    await fc.assert(
      fc.asyncProperty(
        column.chain((col) => fc.tuple(fc.constant(col), batchOf(unscaledOf(col.precision), 10))),
        async ([{ precision, scale }, values]) => {
          const name = `walcast_prop_dom_${uniqueSuffix()}`;
          await client.query('BEGIN');
          try {
            await client.query(`CREATE DOMAIN ${name} AS numeric(${precision}, ${scale})`);
            const { rows } = await client.query<{ oid: number; typbasetype: number; typtypmod: number }>(
              'SELECT oid, typbasetype, typtypmod FROM pg_type WHERE typname = $1',
              [name],
            );
            const row = rows[0]!;
            const domain: PgType = { oid: row.oid, name, namespace: 'public', kind: 'd', baseOid: row.typbasetype, baseTypeMod: row.typtypmod };
            // Columns of a domain type have atttypmod -1.
            const codec = codecFor(domain, -1, (oid) => (oid === domain.oid ? domain : undefined));
            const b = new Batch();
            for (const u of values) b.add(`${b.p(`${u}e${-scale}`)}::${name}`);
            const texts = await b.render();
            values.forEach((u, i) =>
              check(codec, texts[i]!, scale >= 0 ? { unscaled: u, scale } : { unscaled: u * 10n ** BigInt(-scale), scale: 0 }),
            );
          } finally {
            await client.query('ROLLBACK');
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('numeric(p,s) NaN: refused by the declared decimal, "NaN" in the widened shape and in string mode', async () => {
    const typmod = ((10 << 16) | 2) + 4;
    const b = new Batch();
    b.add(`'NaN'::numeric(10,2)`);
    const [text] = await b.render();
    assert.equal(text, 'NaN');
    assert.throws(() => builtin(1700, typmod).fromText(text!), ValueUnrepresentableError);
    check(builtin(1700, typmod).widened(), text!, 'NaN');
    check(builtin(1700, typmod, { decimalHandling: 'string' }), text!, 'NaN');
  });

  test('numeric(p,s) widened: every finite value exactly as the declared decimal gives it, NaN as "NaN"', async () => {
    await fc.assert(
      fc.asyncProperty(
        column.chain((col) => fc.tuple(fc.constant(col), batchOf(fc.option(unscaledOf(col.precision), { nil: null, freq: 5 }), 15))),
        async ([{ precision, scale }, values]) => {
          const { rows } = await client.query<{ typmod: number }>('SELECT numerictypmodin(ARRAY[$1, $2]::cstring[]) AS typmod', [String(precision), String(scale)]);
          const wide = builtin(1700, rows[0]!.typmod).widened();
          const b = new Batch();
          // null stands for NaN here.
          for (const u of values) b.add(u === null ? `'NaN'::numeric(${precision}, ${scale})` : `${b.p(`${u}e${-scale}`)}::numeric(${precision}, ${scale})`);
          const texts = await b.render();
          values.forEach((u, i) =>
            check(wide, texts[i]!, u === null ? 'NaN' : scale >= 0 ? { unscaled: u, scale } : { unscaled: u * 10n ** BigInt(-scale), scale: 0 }),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  test('unconstrained numeric: exact decimal text (beyond 2^53, tiny, huge, NaN, ±Infinity)', async () => {
    const codec = builtin(1700);
    const finite = fc.record({
      unscaled: fc.oneof(unscaledOf(20), unscaledOf(200)),
      scale: fc.oneof(fc.integer({ min: -30, max: 30 }), fc.integer({ min: -1000, max: 1000 })),
    });
    const value = fc.oneof(
      { arbitrary: finite, weight: 12 },
      { arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity'), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(batchOf(value, 15), async (values) => {
        const b = new Batch();
        for (const v of values) b.add(`${b.p(typeof v === 'string' ? v : `${v.unscaled}e${-v.scale}`)}::numeric`);
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, typeof v === 'string' ? v : decimalText(v.unscaled, v.scale)));
      }),
      { numRuns: RUNS },
    );
  });

  test('numeric[]: elements exact (not floats), NULLs, NaN', async () => {
    const codec = builtin(1231);
    const element = fc.option(
      fc.oneof(
        { arbitrary: fc.record({ unscaled: unscaledOf(30), scale: fc.integer({ min: -5, max: 25 }) }), weight: 8 },
        { arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity'), weight: 1 },
      ),
      { nil: null },
    );
    await fc.assert(
      fc.asyncProperty(batchOf(fc.array(element, { maxLength: 6 }), 10), async (arrays) => {
        const b = new Batch();
        for (const arr of arrays) {
          const items = arr.map((v) =>
            v === null ? 'NULL::numeric' : `${b.p(typeof v === 'string' ? v : `${v.unscaled}e${-v.scale}`)}::numeric`,
          );
          b.add(`ARRAY[${items.join(', ')}]::numeric[]`);
        }
        const texts = await b.render();
        arrays.forEach((arr, i) =>
          check(codec, texts[i]!, arr.map((v) => (v === null ? null : typeof v === 'string' ? v : decimalText(v.unscaled, v.scale)))),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('money (lc_monetary with 2 fraction digits): exact minor units over the int64 range', async (t) => {
    const { rows } = await client.query<{ text: string }>("SELECT 1.5::numeric::money::text AS text");
    if (!/1\D50$/.test(rows[0]!.text.replace(/\s/g, ''))) {
      t.skip(`lc_monetary prints 1.5 as ${rows[0]!.text}: not a 2-digit currency`);
      return;
    }
    const codec = builtin(790);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.bigInt({ min: INT64_MIN, max: INT64_MAX })), async (cents) => {
        const b = new Batch();
        for (const c of cents) b.add(`${b.p(`${c}e-2`)}::numeric::money`);
        const texts = await b.render();
        cents.forEach((c, i) => check(codec, texts[i]!, { unscaled: c, scale: 2 }));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Dates and times

/** PostgreSQL's first instant, 4714-11-24 00:00:00 BC UTC, in epoch microseconds. */
const PG_MIN_MICROS = -210866803200000000n;
/** First instant after PostgreSQL's last timestamp (294277-01-01 00:00:00 UTC), epoch micros. */
const PG_END_MICROS = 9224318016000000000n;
/** walcast's +infinity sentinel (Debezium's); finite values from here on are unrepresentable. */
const POSITIVE_INFINITY = 9223372036825200000n;
const NEGATIVE_INFINITY = -9223372036832400000n;
const AD1_MICROS = -62135596800000000n;

/** Epoch microseconds over PostgreSQL's whole range, biased to interesting neighbourhoods. */
const instant = fc.oneof(
  { arbitrary: fc.bigInt({ min: PG_MIN_MICROS, max: POSITIVE_INFINITY - 1n }), weight: 6 },
  { arbitrary: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), weight: 2 }, // ±31 years of 1970
  { arbitrary: fc.bigInt({ min: AD1_MICROS - 10n ** 12n, max: AD1_MICROS + 10n ** 12n }), weight: 2 }, // 1 BC / AD 1
  { arbitrary: fc.bigInt({ min: PG_MIN_MICROS, max: PG_MIN_MICROS + 10n ** 12n }), weight: 1 },
  { arbitrary: fc.bigInt({ min: POSITIVE_INFINITY - 10n ** 12n, max: POSITIVE_INFINITY - 1n }), weight: 1 },
);

/** A timestamp (without time zone) built from days and microseconds since the epoch. */
function timestampExpr(b: Batch, micros: bigint): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  const rest = micros - days * MICROS_PER_DAY;
  return `('epoch'::timestamp + make_interval(days => ${b.p(days.toString())}::int4) + ${b.p(rest.toString())}::int8 * interval '1 microsecond')`;
}

describe('dates and times', () => {
  test('timestamptz: epoch microseconds across 4713 BC .. 294247 AD in random session time zones', async () => {
    const codec = builtin(1184);
    const value = fc.oneof({ arbitrary: instant, weight: 20 }, { arbitrary: fc.constantFrom('infinity', '-infinity'), weight: 1 });
    try {
      await fc.assert(
        fc.asyncProperty(timeZone, batchOf(value), async (zone, values) => {
          await setSession('TimeZone', zone);
          const b = new Batch();
          for (const v of values) {
            b.add(typeof v === 'string' ? `${b.p(v)}::timestamptz` : `${timestampExpr(b, v)} AT TIME ZONE 'UTC'`);
          }
          const texts = await b.render();
          values.forEach((v, i) => {
            const expected = v === 'infinity' ? POSITIVE_INFINITY : v === '-infinity' ? NEGATIVE_INFINITY : v;
            check(codec, texts[i]!, expected);
          });
        }),
        { numRuns: RUNS },
      );
    } finally {
      await setSession('TimeZone', 'UTC');
    }
  });

  test('timestamptz and timestamp beyond the int64 microsecond range (up to 294276 AD): refused by the declared shape, ISO-8601 UTC text in the widened one', async () => {
    const declared = builtin(1184);
    const wide = declared.widened();
    const local = builtin(1114).widened();
    try {
      await fc.assert(
        fc.asyncProperty(timeZone, batchOf(fc.bigInt({ min: POSITIVE_INFINITY, max: PG_END_MICROS - 1n }), 10), async (zone, values) => {
          await setSession('TimeZone', zone);
          const b = new Batch();
          for (const v of values) {
            b.add(`${timestampExpr(b, v)} AT TIME ZONE 'UTC'`);
            b.add(timestampExpr(b, v));
            // The expected text, by PostgreSQL's own to_char: "+" for the five- and six-digit year,
            // trailing zeros of the fraction dropped.
            b.add(`'+' || regexp_replace(to_char(${timestampExpr(b, v)}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\\.?0+$', '') || 'Z'`);
          }
          const texts = await b.render();
          values.forEach((_, i) => {
            const [withZone, withoutZone, expected] = texts.slice(3 * i, 3 * i + 3);
            assert.throws(() => declared.fromText(withZone!), ValueUnrepresentableError, String(withZone));
            check(wide, withZone!, expected);
            check(local, withoutZone!, expected);
          });
        }),
        { numRuns: 50 },
      );
    } finally {
      await setSession('TimeZone', 'UTC');
    }
  });

  test('timestamp (without time zone): wall-clock reading as UTC epoch microseconds', async () => {
    const codec = builtin(1114);
    const value = fc.oneof({ arbitrary: instant, weight: 20 }, { arbitrary: fc.constantFrom('infinity', '-infinity'), weight: 1 });
    await fc.assert(
      fc.asyncProperty(batchOf(value), async (values) => {
        const b = new Batch();
        for (const v of values) b.add(typeof v === 'string' ? `${b.p(v)}::timestamp` : timestampExpr(b, v));
        const texts = await b.render();
        values.forEach((v, i) => {
          const expected = v === 'infinity' ? POSITIVE_INFINITY : v === '-infinity' ? NEGATIVE_INFINITY : v;
          check(codec, texts[i]!, expected);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('timestamptz[]: quoted elements with zone offsets, NULLs', async () => {
    const codec = builtin(1185);
    try {
      await fc.assert(
        fc.asyncProperty(timeZone, batchOf(fc.array(fc.option(instant, { nil: null }), { maxLength: 5 }), 10), async (zone, arrays) => {
          await setSession('TimeZone', zone);
          const b = new Batch();
          for (const arr of arrays) {
            const items = arr.map((v) => (v === null ? 'NULL::timestamptz' : `${timestampExpr(b, v)} AT TIME ZONE 'UTC'`));
            b.add(`ARRAY[${items.join(', ')}]::timestamptz[]`);
          }
          const texts = await b.render();
          arrays.forEach((arr, i) => check(codec, texts[i]!, arr));
        }),
        { numRuns: RUNS },
      );
    } finally {
      await setSession('TimeZone', 'UTC');
    }
  });

  test('date: days since the epoch over 4713 BC .. 5874897 AD, ±infinity', async () => {
    const codec = builtin(1082);
    const day = fc.oneof(
      { arbitrary: fc.integer({ min: -2440588, max: 2145042905 }), weight: 6 },
      { arbitrary: fc.integer({ min: -800000, max: 100000 }), weight: 3 },
      { arbitrary: fc.constantFrom('infinity', '-infinity'), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(batchOf(day), async (values) => {
        const b = new Batch();
        for (const v of values) b.add(typeof v === 'string' ? `${b.p(v)}::date` : `'1970-01-01'::date + ${b.p(String(v))}::int4`);
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v === 'infinity' ? 2147483647 : v === '-infinity' ? -2147483648 : v));
      }),
      { numRuns: RUNS },
    );
  });

  test('time: microseconds since midnight, 24:00:00', async () => {
    const codec = builtin(1083);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.integer({ min: 0, max: 86_400_000_000 - 1 })), async (values) => {
        const b = new Batch();
        for (const v of values) b.add(`'00:00'::time + ${b.p(String(v))}::int8 * interval '1 microsecond'`);
        b.add(`'24:00:00'::time`);
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, v));
        check(codec, texts[values.length]!, 86_400_000_000);
      }),
      { numRuns: RUNS },
    );
  });

  test('timetz: UTC time of day (ZonedTime) for offsets up to ±15:59:59', async () => {
    const codec = builtin(1266);
    const value = fc.record({
      micros: fc.bigInt({ min: 0n, max: MICROS_PER_DAY - 1n }),
      offset: fc.oneof(fc.integer({ min: -57599, max: 57599 }), fc.integer({ min: -56, max: 56 }).map((q) => q * 900)),
    });
    await fc.assert(
      fc.asyncProperty(batchOf(value), async (values) => {
        const b = new Batch();
        for (const { micros, offset } of values) {
          const abs = Math.abs(offset);
          const zone = `${offset < 0 ? '-' : '+'}${pad2(BigInt(Math.floor(abs / 3600)))}:${pad2(BigInt(Math.floor(abs / 60) % 60))}:${pad2(BigInt(abs % 60))}`;
          b.add(`(('00:00'::time + ${b.p(micros.toString())}::int8 * interval '1 microsecond')::text || ${b.p(zone)})::timetz`);
        }
        const texts = await b.render();
        values.forEach(({ micros, offset }, i) => {
          let utc = (micros - BigInt(offset) * 1_000_000n) % MICROS_PER_DAY;
          if (utc < 0n) utc += MICROS_PER_DAY;
          const seconds = utc / 1_000_000n;
          const expected = `${pad2(seconds / 3600n)}:${pad2((seconds / 60n) % 60n)}:${pad2(seconds % 60n)}${fractionText(utc % 1_000_000n)}Z`;
          check(codec, texts[i]!, expected);
        });
      }),
      { numRuns: RUNS },
    );
  });

  for (const style of ['postgres', 'iso_8601']) {
    test(`interval (IntervalStyle=${style}): months, days, int64 microseconds, each with its own sign, as ISO-8601`, async () => {
      const codec = builtin(1186);
      const value = fc.record({
        months: fc.oneof(fc.integer(), fc.integer({ min: -30, max: 30 })),
        days: fc.oneof(fc.integer(), fc.integer({ min: -40, max: 40 })),
        micros: fc.oneof(
          fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
          fc.bigInt({ min: -(10n ** 11n), max: 10n ** 11n }),
          fc.bigInt({ min: -2_000_000n, max: 2_000_000n }),
        ),
      });
      try {
        await setSession('IntervalStyle', style);
        await fc.assert(
          fc.asyncProperty(batchOf(value), async (values) => {
            const b = new Batch();
            for (const { months, days, micros } of values) {
              // Whole hours (split in two int4 halves) plus a remainder below one hour.
              const hours = micros / 3_600_000_000n;
              const rest = micros - hours * 3_600_000_000n;
              const h1 = hours / 2n;
              const h2 = hours - h1;
              b.add(
                `make_interval(months => ${b.p(String(months))}::int4, days => ${b.p(String(days))}::int4)` +
                  ` + make_interval(hours => ${b.p(h1.toString())}::int4) + make_interval(hours => ${b.p(h2.toString())}::int4)` +
                  ` + ${b.p(rest.toString())}::int8 * interval '1 microsecond'`,
              );
            }
            const texts = await b.render();
            values.forEach(({ months, days, micros }, i) => check(codec, texts[i]!, isoInterval(months, days, micros)));
          }),
          { numRuns: RUNS },
        );
      } finally {
        await setSession('IntervalStyle', 'postgres');
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Strings, bytes, uuid

describe('strings, bytes and uuid', () => {
  test('bytea in hex output: exact bytes', async () => {
    const codec = builtin(17);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.uint8Array({ maxLength: 64 })), async (values) => {
        const b = new Batch();
        for (const v of values) b.add(`decode(${b.p(Buffer.from(v).toString('hex'))}, 'hex')`);
        const texts = await b.render();
        values.forEach((v, i) => check(codec, texts[i]!, Buffer.from(v)));
      }),
      { numRuns: RUNS },
    );
  });

  test('bytea in escape output (bytea_output=escape): exact bytes', async () => {
    const codec = builtin(17);
    try {
      await setSession('bytea_output', 'escape');
      await fc.assert(
        fc.asyncProperty(batchOf(fc.uint8Array({ maxLength: 64 })), async (values) => {
          const b = new Batch();
          for (const v of values) b.add(`decode(${b.p(Buffer.from(v).toString('hex'))}, 'hex')`);
          const texts = await b.render();
          values.forEach((v, i) => check(codec, texts[i]!, Buffer.from(v)));
        }),
        { numRuns: RUNS },
      );
    } finally {
      await setSession('bytea_output', 'hex');
    }
  });

  test('text, varchar: any Unicode (no NUL) unchanged', async () => {
    const text = builtin(25);
    const varchar = builtin(1043, 100 + 4);
    await fc.assert(
      fc.asyncProperty(batchOf(pgText(60)), async (values) => {
        const b = new Batch();
        for (const v of values) {
          const p = b.p(v);
          b.add(`${p}::text`);
          b.add(`${p}::varchar(100)`);
        }
        const texts = await b.render();
        values.forEach((v, i) => {
          check(text, texts[2 * i]!, v);
          check(varchar, texts[2 * i + 1]!, v);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('char(n): padded with spaces to n characters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }).chain((n) =>
          fc.tuple(fc.constant(n), batchOf(pgText(n).filter((s) => [...s].length <= n), 10)),
        ),
        async ([n, values]) => {
          const { rows } = await client.query<{ typmod: number }>('SELECT bpchartypmodin(ARRAY[$1]::cstring[]) AS typmod', [String(n)]);
          const codec = builtin(1042, rows[0]!.typmod);
          const b = new Batch();
          for (const v of values) b.add(`${b.p(v)}::char(${n})`);
          const texts = await b.render();
          values.forEach((v, i) => check(codec, texts[i]!, v + ' '.repeat(n - [...v].length)));
        },
      ),
      { numRuns: 100 },
    );
  });

  test('uuid: canonical lower-case form from any accepted input', async () => {
    const codec = builtin(2950);
    const value = fc.record({ bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }), style: fc.constantFrom('upper', 'braces', 'plain') });
    await fc.assert(
      fc.asyncProperty(batchOf(value), async (values) => {
        const b = new Batch();
        for (const { bytes, style } of values) {
          const hex = Buffer.from(bytes).toString('hex');
          const input = style === 'upper' ? hex.toUpperCase() : style === 'braces' ? `{${hex}}` : hex;
          b.add(`${b.p(input)}::uuid`);
        }
        const texts = await b.render();
        values.forEach(({ bytes }, i) => {
          const hex = Buffer.from(bytes).toString('hex');
          check(codec, texts[i]!, `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
        });
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Arrays

describe('arrays', () => {
  /** PostgreSQL's "[lb:ub]..." decoration for a value of these lengths, or "" for default bounds. */
  const decoration = (lowers: number[], lengths: number[]): string =>
    lowers.every((l) => l === 1) ? '' : `${lowers.map((l, i) => `[${l}:${l + lengths[i]! - 1}]`).join('')}=`;

  test('int4[]: NULLs, empty, and non-default lower bounds', async () => {
    const codec = builtin(1007);
    const value = fc.record({
      items: fc.array(fc.option(fc.integer(), { nil: null, freq: 4 }), { maxLength: 8 }),
      lower: fc.oneof({ arbitrary: fc.constant(1), weight: 2 }, { arbitrary: fc.integer({ min: -100, max: 100 }), weight: 1 }),
    });
    await fc.assert(
      fc.asyncProperty(batchOf(value, 15), async (values) => {
        const b = new Batch();
        for (const { items, lower } of values) {
          const deco = items.length === 0 ? '' : decoration([lower], [items.length]);
          b.add(`(${b.p(deco)} || ${b.p(items)}::int4[]::text)::int4[]`);
        }
        const texts = await b.render();
        values.forEach(({ items }, i) => check(codec, texts[i]!, items));
      }),
      { numRuns: RUNS },
    );
  });

  test('int4[][]: two dimensions, NULLs, lower bounds', async () => {
    const codec = builtin(1007, -1, { arrayDimensions: 2 });
    const value = fc
      .record({ rows: fc.integer({ min: 1, max: 4 }), cols: fc.integer({ min: 1, max: 4 }), lowers: fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 2, maxLength: 2 }) })
      .chain(({ rows, cols, lowers }) =>
        fc.record({
          matrix: fc.array(fc.array(fc.option(fc.integer(), { nil: null }), { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }),
          lowers: fc.constant(lowers),
        }),
      );
    await fc.assert(
      fc.asyncProperty(batchOf(value, 15), async (values) => {
        const b = new Batch();
        for (const { matrix, lowers } of values) {
          const deco = decoration(lowers, [matrix.length, matrix[0]!.length]);
          b.add(`(${b.p(deco)} || ${b.p(matrix)}::int4[]::text)::int4[]`);
        }
        const texts = await b.render();
        values.forEach(({ matrix }, i) => check(codec, texts[i]!, matrix));
      }),
      { numRuns: RUNS },
    );
  });

  /** An ARRAY[...] expression nesting `value` (nested JS arrays, leaves rendered by `leaf`). */
  const arrayExpr = (value: unknown, leaf: (v: unknown) => string): string =>
    Array.isArray(value) ? `ARRAY[${value.map((v) => arrayExpr(v, leaf)).join(', ')}]` : leaf(value);

  /** A rectangular value of `dims` dimensions (1-3 long each) over `element`. */
  const rectangular = <T>(element: fc.Arbitrary<T>) =>
    fc.integer({ min: 1, max: 6 }).chain((dims) =>
      fc.array(fc.integer({ min: 1, max: dims > 3 ? 2 : 3 }), { minLength: dims, maxLength: dims }).chain((lengths) => {
        const level = (d: number): fc.Arbitrary<unknown> =>
          d === lengths.length ? element : fc.array(level(d + 1), { minLength: lengths[d]!, maxLength: lengths[d]! });
        return fc.tuple(fc.constant(dims), level(0) as fc.Arbitrary<unknown[]>);
      }),
    );

  test('arrays of any dimension count (PostgreSQL does not enforce the declared one): the declared shape refuses the others, the widened shape holds 1..6 exactly', async () => {
    const ints = builtin(1007);
    const intsWide = ints.widened();
    const texts2d = builtin(1009, -1, { arrayDimensions: 2 });
    const textsWide = texts2d.widened();
    const numerics = builtin(1231, ((12 << 16) | 3) + 4).widened();
    const numeric = fc.option(fc.oneof({ arbitrary: unscaledOf(12), weight: 6 }, { arbitrary: fc.constant('NaN' as const), weight: 1 }), { nil: null });
    await fc.assert(
      fc.asyncProperty(
        batchOf(fc.tuple(rectangular(fc.option(fc.integer(), { nil: null })), rectangular(fc.option(pgText(6), { nil: null })), rectangular(numeric)), 8),
        async (values) => {
          const b = new Batch();
          for (const [[, i], [, t], [, n]] of values) {
            b.add(`${arrayExpr(i, (v) => (v === null ? 'NULL' : `${b.p(String(v))}::int4`))}::int4[]`);
            b.add(`${arrayExpr(t, (v) => (v === null ? 'NULL' : `${b.p(v)}::text`))}::text[]`);
            b.add(`${arrayExpr(n, (v) => (v === null ? 'NULL' : v === 'NaN' ? `'NaN'::numeric` : `${b.p(`${v as bigint}e-3`)}::numeric`))}::numeric(12,3)[]`);
          }
          const texts = await b.render();
          values.forEach(([[intDims, i], [textDims, t], [, n]], k) => {
            const [intText, textText, numericText] = texts.slice(3 * k, 3 * k + 3);
            if (intDims === 1) check(ints, intText!, i);
            else assert.throws(() => ints.fromText(intText!), ValueUnrepresentableError, intText!);
            check(intsWide, intText!, i);
            if (textDims === 2) check(texts2d, textText!, t);
            else assert.throws(() => texts2d.fromText(textText!), ValueUnrepresentableError, textText!);
            check(textsWide, textText!, t);
            const decimal = (v: unknown): unknown => (Array.isArray(v) ? v.map(decimal) : v === null || v === 'NaN' ? v : { unscaled: v as bigint, scale: 3 });
            check(numerics, numericText!, decimal(n));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  test('text[]: quoting of NULL, "NULL", empty, spaces, quotes, backslashes, braces, unicode', async () => {
    const codec = builtin(1009);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.array(fc.option(pgText(12), { nil: null, freq: 5 }), { maxLength: 8 }), 15), async (values) => {
        const b = new Batch();
        for (const arr of values) b.add(`${b.p(arr)}::text[]`);
        const texts = await b.render();
        values.forEach((arr, i) => check(codec, texts[i]!, arr));
      }),
      { numRuns: RUNS },
    );
  });

  test('text[][]: two dimensions with quoting', async () => {
    const codec = builtin(1009, -1, { arrayDimensions: 2 });
    const value = fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
      .chain(([rows, cols]) =>
        fc.array(fc.array(fc.option(pgText(8), { nil: null }), { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }),
      );
    await fc.assert(
      fc.asyncProperty(batchOf(value, 10), async (values) => {
        const b = new Batch();
        for (const m of values) b.add(`${b.p(m)}::text[]`);
        const texts = await b.render();
        values.forEach((m, i) => check(codec, texts[i]!, m));
      }),
      { numRuns: RUNS },
    );
  });

  test('bytea[]: escaped hex elements', async () => {
    const codec = builtin(1001);
    await fc.assert(
      fc.asyncProperty(batchOf(fc.array(fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }), { maxLength: 5 }), 10), async (values) => {
        const b = new Batch();
        for (const arr of values) {
          const items = arr.map((v) => (v === null ? 'NULL::bytea' : `decode(${b.p(Buffer.from(v).toString('hex'))}, 'hex')`));
          b.add(`ARRAY[${items.join(', ')}]::bytea[]`);
        }
        const texts = await b.render();
        values.forEach((arr, i) => check(codec, texts[i]!, arr.map((v) => (v === null ? null : Buffer.from(v)))));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Extension and user-defined types

describe('hstore and enums', () => {
  /** A map with no prototype, as the hstore codec returns, so `__proto__` is an ordinary key. */
  const bareMap = (entries: Array<[string, string | null]>): Record<string, string | null> => {
    const map = Object.create(null) as Record<string, string | null>;
    for (const [k, v] of entries) map[k] = v;
    return map;
  };
  /**
   * Own entries in key order: compares a bare map with avsc's plain object. The key `__proto__`
   * is left out: walcast writes it (checked below), but avsc 5.7.9's map reader assigns
   * `obj[key] = value` on a plain object, so on decode that entry sets the object's prototype
   * instead of becoming a key (a reader-side limitation, not a walcast one).
   */
  const entries = (v: unknown): Array<[string, unknown]> =>
    Object.keys(v as object)
      .filter((k) => k !== '__proto__')
      .sort()
      .map((k) => [k, (v as Record<string, unknown>)[k]]);

  test('hstore: keys and values with quotes, backslashes, "NULL", unicode; NULL values', async (t) => {
    const available = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'hstore'");
    if (available.rowCount === 0) {
      t.skip('the hstore extension is not available on this server');
      return;
    }
    await client.query('CREATE EXTENSION IF NOT EXISTS hstore');
    const { rows } = await client.query<{ oid: number; nspname: string }>(
      "SELECT t.oid, n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = 'hstore'",
    );
    const hstore: PgType = { oid: rows[0]!.oid, name: 'hstore', namespace: rows[0]!.nspname, kind: 'b' };
    const codec = codecFor(hstore, -1, (oid) => (oid === hstore.oid ? hstore : undefined));
    const map = fc.uniqueArray(fc.tuple(pgText(10), fc.option(pgText(10), { nil: null })), { selector: ([k]) => k, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(batchOf(map, 15), async (maps) => {
        const b = new Batch();
        for (const m of maps) b.add(`hstore(${b.p(m.map(([k]) => k))}::text[], ${b.p(m.map(([, v]) => v))}::text[])`);
        const texts = await b.render();
        maps.forEach((m, i) => {
          check(codec, texts[i]!, bareMap(m), entries);
          // Every entry is in the Avro bytes (a map block: count, then key/value pairs), including __proto__.
          const bytes = avroTypeOf(codec).toBuffer(codec.fromText(texts[i]!));
          for (const [k] of m) assert.ok(bytes.includes(Buffer.from(k)), `key ${JSON.stringify(k)} missing from the Avro bytes`);
        });
      }),
      { numRuns: RUNS },
    );
  });

  test('enum and enum[]: labels with arbitrary characters, via a created type', async () => {
    const label = pgText(12).filter((s) => s.length > 0 && Buffer.byteLength(s) <= 63);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(label, { minLength: 1, maxLength: 8 }), async (labels) => {
        const name = `walcast_prop_enum_${uniqueSuffix()}`;
        await client.query('BEGIN');
        try {
          await client.query(`CREATE TYPE ${name} AS ENUM (${labels.map((l) => client.escapeLiteral(l)).join(', ')})`);
          const { rows } = await client.query<{ oid: number; typarray: number }>('SELECT oid, typarray FROM pg_type WHERE typname = $1', [name]);
          const enumType: PgType = { oid: rows[0]!.oid, name, namespace: 'public', kind: 'e', enumLabels: labels };
          const arrayType: PgType = { oid: rows[0]!.typarray, name: `_${name}`, namespace: 'public', kind: 'b', elementOid: enumType.oid, delimiter: ',' };
          const lookup = (oid: number): PgType | undefined => (oid === enumType.oid ? enumType : oid === arrayType.oid ? arrayType : undefined);
          const codec = codecFor(enumType, -1, lookup);
          const arrayCodec = codecFor(arrayType, -1, lookup);
          const b = new Batch();
          for (const l of labels) b.add(`${b.p(l)}::${name}`);
          b.add(`enum_range(NULL::${name})`);
          b.add(`ARRAY[NULL, ${b.p(labels[0]!)}::${name}]`);
          const texts = await b.render();
          labels.forEach((l, i) => check(codec, texts[i]!, l));
          check(arrayCodec, texts[labels.length]!, labels);
          check(arrayCodec, texts[labels.length + 1]!, [null, labels[0]!]);
        } finally {
          await client.query('ROLLBACK');
        }
      }),
      { numRuns: 100 },
    );
  });
});
