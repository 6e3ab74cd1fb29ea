// Property tests for date/time decoding. The oracle is independent of src/decode/temporal.ts:
// JS Date does the calendar arithmetic (proleptic Gregorian, exact to the millisecond over
// ±275,000 years) and the renderers below follow PostgreSQL's own output code (EncodeDateTime,
// EncodeInterval in datetime.c), checked against real server output in decode-pg-vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinType, codecFor, type ColumnCodec } from '../../src/decode/codec.ts';
import { ValueDecodeError, ValueUnrepresentableError } from '../../src/decode/errors.ts';
import type { PgType } from '../../src/decode/pg-type.ts';
import {
  DATE_NEGATIVE_INFINITY,
  DATE_POSITIVE_INFINITY,
  TIMESTAMP_NEGATIVE_INFINITY,
  TIMESTAMP_POSITIVE_INFINITY,
} from '../../src/decode/temporal.ts';
import { avroType } from '../../src/encode/avro-logical-types.ts';

const noLookup = (): PgType | undefined => undefined;
const codec = (oid: number): ColumnCodec => codecFor(builtinType(oid)!, -1, noLookup);
const DATE = codec(1082);
const TIME = codec(1083);
const TIMETZ = codec(1266);
const TIMESTAMP = codec(1114);
const TIMESTAMPTZ = codec(1184);
const INTERVAL = codec(1186);

/** 4714-11-24 00:00:00 BC, PostgreSQL's first timestamp (Julian day 0). */
const PG_MIN_MICROS = -210866803200000000n;
/** The end of JS Date's range (year 275760), the test oracle's limit. */
const ORACLE_MAX_MICROS = 8_640_000_000_000_000_000n;
const PG_MIN_DAY = -2440588;
const ORACLE_MAX_DAY = 100_000_000;

const pad = (n: number | bigint, width = 2): string => String(n).padStart(width, '0');
const fraction = (micros: number): string => (micros === 0 ? '' : `.${pad(micros, 6).replace(/0+$/, '')}`);

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** "YYYY-MM-DD" with PostgreSQL's BC convention, from a Date's UTC fields. */
function pgDateOf(date: Date): { text: string; bc: boolean } {
  const year = date.getUTCFullYear();
  const bc = year <= 0;
  return { text: `${pad(bc ? 1 - year : year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`, bc };
}

/** timestamp_out / timestamptz_out in DateStyle ISO. `offset` in seconds east of UTC. */
function renderTimestamp(micros: bigint, offset?: number): string {
  const local = micros + BigInt(offset ?? 0) * 1_000_000n;
  const millis = floorDiv(local, 1000n);
  const date = new Date(Number(millis));
  const sub = Number(local - millis * 1000n) + date.getUTCMilliseconds() * 1000;
  const { text, bc } = pgDateOf(date);
  let out = `${text} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}${fraction(sub)}`;
  if (offset !== undefined) out += renderOffset(offset);
  return bc ? `${out} BC` : out;
}

/** EncodeTimezone: +HH, +HH:MM or +HH:MM:SS. */
function renderOffset(offset: number): string {
  const abs = Math.abs(offset);
  const h = Math.floor(abs / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  let out = `${offset < 0 ? '-' : '+'}${pad(h)}`;
  if (m !== 0 || s !== 0) out += `:${pad(m)}`;
  if (s !== 0) out += `:${pad(s)}`;
  return out;
}

function renderDate(days: number): string {
  const { text, bc } = pgDateOf(new Date(days * 86_400_000));
  return bc ? `${text} BC` : text;
}

function renderTime(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}${fraction(micros % 1_000_000)}`;
}

interface Interval {
  months: number;
  days: number;
  micros: bigint;
}

/** The tm fields interval2tm derives: everything truncated toward zero, one sign per field. */
function intervalFields(i: Interval): { year: number; mon: number; hour: bigint; min: number; sec: number; fsec: number } {
  const year = Math.trunc(i.months / 12);
  const mon = i.months - year * 12;
  const hour = i.micros / 3_600_000_000n;
  let rest = i.micros - hour * 3_600_000_000n;
  const min = Number(rest / 60_000_000n);
  rest -= BigInt(min) * 60_000_000n;
  const sec = Number(rest / 1_000_000n);
  const fsec = Number(rest - BigInt(sec) * 1_000_000n);
  return { year, mon, hour, min, sec, fsec };
}

/** EncodeInterval, IntervalStyle postgres. */
function renderIntervalPostgres(i: Interval): string {
  const { year, mon, hour, min, sec, fsec } = intervalFields(i);
  let out = '';
  let isZero = true;
  let isBefore = false;
  const part = (value: number, unit: string): void => {
    if (value === 0) return;
    out += `${isZero ? '' : ' '}${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value !== 1 ? 's' : ''}`;
    isBefore = value < 0;
    isZero = false;
  };
  part(year, 'year');
  part(mon, 'mon');
  part(i.days, 'day');
  if (isZero || hour !== 0n || min !== 0 || sec !== 0 || fsec !== 0) {
    const minus = hour < 0n || min < 0 || sec < 0 || fsec < 0;
    const absHour = hour < 0n ? -hour : hour;
    out += `${isZero ? '' : ' '}${minus ? '-' : isBefore ? '+' : ''}${pad(absHour)}:${pad(Math.abs(min))}:${pad(Math.abs(sec))}${fraction(Math.abs(fsec))}`;
  }
  return out;
}

/** EncodeInterval, IntervalStyle iso_8601. */
function renderIntervalIso(i: Interval): string {
  const { year, mon, hour, min, sec, fsec } = intervalFields(i);
  if (year === 0 && mon === 0 && i.days === 0 && hour === 0n && min === 0 && sec === 0 && fsec === 0) return 'PT0S';
  let out = 'P';
  if (year !== 0) out += `${year}Y`;
  if (mon !== 0) out += `${mon}M`;
  if (i.days !== 0) out += `${i.days}D`;
  if (hour !== 0n || min !== 0 || sec !== 0 || fsec !== 0) out += 'T';
  if (hour !== 0n) out += `${hour}H`;
  if (min !== 0) out += `${min}M`;
  if (sec !== 0 || fsec !== 0) out += `${sec < 0 || fsec < 0 ? '-' : ''}${Math.abs(sec)}${fraction(Math.abs(fsec))}S`;
  return out;
}

function intervalParts(iso: string): Interval {
  const match = /^P(-?\d+)Y(-?\d+)M(-?\d+)DT(-?\d+)H(-?\d+)M(-?)(\d+)(?:\.(\d{1,6}))?S$/.exec(iso);
  assert.ok(match, `Debezium interval form: ${iso}`);
  const [, y, mo, d, h, mi, sign, s, f] = match as unknown as string[];
  const seconds = BigInt(s!) * 1_000_000n + BigInt((f ?? '').padEnd(6, '0'));
  return {
    months: Number(y) * 12 + Number(mo),
    days: Number(d),
    micros: BigInt(h!) * 3_600_000_000n + BigInt(mi!) * 60_000_000n + (sign === '-' ? -seconds : seconds),
  };
}

function throughAvro(c: ColumnCodec, value: unknown): unknown {
  const type = avroType(['null', c.avroSchema] as never);
  return type.fromBuffer(type.toBuffer(value));
}

/** Mostly recent instants, with the whole representable range (BC, year 100,000+) in the mix. */
const micros = fc.oneof(
  fc.bigInt({ min: -5_000_000_000_000_000n, max: 5_000_000_000_000_000n }),
  fc.bigInt({ min: PG_MIN_MICROS, max: ORACLE_MAX_MICROS }),
  fc.bigInt({ min: PG_MIN_MICROS, max: -62135596800000000n }), // BC only
);
/** PostgreSQL accepts UTC offsets up to ±15:59:59. */
const offset = fc.oneof(
  fc.constantFrom(0, 19800, -12600, 20008, 1172, -36000, 45900),
  fc.integer({ min: -(15 * 3600 + 59 * 60 + 59), max: 15 * 3600 + 59 * 60 + 59 }),
);

test('timestamp: rendered as PostgreSQL prints it, decoded to the same microseconds, BC and AD', () => {
  fc.assert(
    fc.property(micros, (value) => {
      const text = renderTimestamp(value);
      assert.equal(TIMESTAMP.fromText(text), value, text);
      assert.equal(throughAvro(TIMESTAMP, value), value);
    }),
    { numRuns: 2000 },
  );
});

test('timestamptz: any session offset gives back the same instant', () => {
  // The oracle renders local time, which must stay inside JS Date's range too.
  const instant = micros.filter((m) => m < ORACLE_MAX_MICROS - 86_400_000_000n && m > PG_MIN_MICROS + 86_400_000_000n);
  fc.assert(
    fc.property(instant, offset, (value, seconds) => {
      const text = renderTimestamp(value, seconds);
      assert.equal(TIMESTAMPTZ.fromText(text), value, text);
    }),
    { numRuns: 2000 },
  );
});

test('timestamp: exact examples', () => {
  const cases: Array<[ColumnCodec, string, bigint]> = [
    [TIMESTAMP, '1970-01-01 00:00:00', 0n],
    [TIMESTAMP, '2024-01-01 10:00:00.123456', 1704103200123456n],
    [TIMESTAMP, '1969-12-31 23:59:59.999999', -1n],
    [TIMESTAMP, '0001-01-01 00:00:00 BC', -62167219200000000n],
    [TIMESTAMP, '4714-11-24 00:00:00 BC', PG_MIN_MICROS],
    [TIMESTAMP, '10000-01-01 00:00:00', 253402300800000000n],
    [TIMESTAMPTZ, '2024-01-01 10:00:00.123456+05:30', 1704083400123456n],
    [TIMESTAMPTZ, '2023-12-31 20:30:00-03:30', 1704067200000000n],
    [TIMESTAMPTZ, '1900-01-01 00:19:32+00:19:32', -2208988800000000n],
    [TIMESTAMPTZ, '0044-03-15 17:53:28+05:53:28 BC', -63517780800000000n],
    [TIMESTAMP, 'infinity', TIMESTAMP_POSITIVE_INFINITY],
    [TIMESTAMPTZ, '-infinity', TIMESTAMP_NEGATIVE_INFINITY],
  ];
  for (const [c, text, expected] of cases) {
    assert.equal(c.fromText(text), expected, text);
    assert.equal(throughAvro(c, expected), expected);
  }
  // The sentinels are Debezium's (PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY).
  assert.equal(TIMESTAMP_POSITIVE_INFINITY, 9223372036825200000n);
  assert.equal(TIMESTAMP_NEGATIVE_INFINITY, -9223372036832400000n);
  assert.equal(TIMESTAMP.toJson(1704103200123456n), 1704103200123456);
  assert.equal(TIMESTAMP.toJson(TIMESTAMP_POSITIVE_INFINITY), '9223372036825200000');
});

test('timestamp: values past int64 microseconds (year 294247+) are refused, not wrapped or confused with infinity', () => {
  for (const text of ['294276-12-31 23:59:59.999999', '294247-01-10 04:00:25.2', '294247-01-10 04:00:54.775807']) {
    assert.throws(() => TIMESTAMP.fromText(text), (e: unknown) => e instanceof ValueUnrepresentableError && e.code === 'WALCAST_VALUE_UNREPRESENTABLE');
  }
  assert.equal(TIMESTAMP.fromText('294247-01-10 04:00:25.199999'), TIMESTAMP_POSITIVE_INFINITY - 1n);
});

test('date: rendered as PostgreSQL prints it, decoded to the same day number', () => {
  fc.assert(
    fc.property(fc.integer({ min: PG_MIN_DAY, max: ORACLE_MAX_DAY }), (days) => {
      const text = renderDate(days);
      assert.equal(DATE.fromText(text), days, text);
      assert.equal(throughAvro(DATE, days), days);
    }),
    { numRuns: 2000 },
  );
  assert.equal(DATE.fromText('infinity'), DATE_POSITIVE_INFINITY);
  assert.equal(DATE.fromText('-infinity'), DATE_NEGATIVE_INFINITY);
  assert.equal(DATE.fromText('5874897-12-31'), 2145042905);
  assert.equal(DATE.fromText('0001-02-29 BC'), -719469); // 1 BC is a leap year (astronomical 0)
  assert.equal(throughAvro(DATE, DATE_NEGATIVE_INFINITY), DATE_NEGATIVE_INFINITY);
});

test('time: every microsecond of the day, 24:00:00 included', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 86_400_000_000 }), (value) => {
      const text = renderTime(value);
      assert.equal(TIME.fromText(text), value, text);
      assert.equal(throughAvro(TIME, value), value);
    }),
    { numRuns: 1000 },
  );
});

test('timetz: the UTC time of day, ISO formatted like Debezium ZonedTime', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 86_399_999_999 }), offset, (local, seconds) => {
      let utc = (local - seconds * 1_000_000) % 86_400_000_000;
      if (utc < 0) utc += 86_400_000_000;
      assert.equal(TIMETZ.fromText(`${renderTime(local)}${renderOffset(seconds)}`), `${renderTime(utc)}Z`);
    }),
    { numRuns: 1000 },
  );
  assert.equal(TIMETZ.fromText('10:15:30.5+02'), '08:15:30.5Z');
  assert.equal(TIMETZ.fromText('00:30:00+01'), '23:30:00Z');
  assert.equal(TIMETZ.fromText('24:00:00-01'), '01:00:00Z');
});

const interval = fc.record({
  months: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.integer({ min: -2147483648, max: 2147483647 })),
  days: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.integer({ min: -2147483648, max: 2147483647 })),
  micros: fc.oneof(
    fc.bigInt({ min: -100_000_000_000n, max: 100_000_000_000n }),
    fc.bigInt({ min: -9223372036854775807n, max: 9223372036854775807n }),
  ),
});

test('interval: both IntervalStyles decode to one exact Debezium ISO string', () => {
  fc.assert(
    fc.property(interval, (value) => {
      const postgres = renderIntervalPostgres(value);
      const iso = renderIntervalIso(value);
      const decoded = INTERVAL.fromText(postgres) as string;
      assert.deepEqual(intervalParts(decoded), { ...value }, postgres);
      assert.equal(INTERVAL.fromText(iso), decoded, iso);
    }),
    { numRuns: 2000 },
  );
  assert.equal(INTERVAL.fromText('1 year 2 mons 3 days 04:05:06.789'), 'P1Y2M3DT4H5M6.789S');
  assert.equal(INTERVAL.fromText('-1 years -2 mons +3 days -04:05:06.789'), 'P-1Y-2M3DT-4H-5M-6.789S');
  assert.equal(INTERVAL.fromText('-00:00:01'), 'P0Y0M0DT0H0M-1S');
  assert.equal(INTERVAL.fromText('00:00:00'), 'P0Y0M0DT0H0M0S');
  assert.equal(INTERVAL.fromText('1 mon -00:00:01'), 'P0Y1M0DT0H0M-1S');
  assert.equal(INTERVAL.fromText('-00:00:00.5'), 'P0Y0M0DT0H0M-0.5S');
});

test('malformed or non-ISO temporal text throws ValueDecodeError naming the type, never a value', () => {
  const bad: Array<[ColumnCodec, string]> = [
    [DATE, ''],
    [DATE, '2024-1-01'],
    [DATE, '2024-02-30'],
    [DATE, '0004-02-29 BC'],
    [DATE, '0000-01-01'],
    [DATE, '01/02/2024'], // DateStyle SQL
    [DATE, '2024-01-01 AD'],
    [DATE, 'Infinity'],
    [TIME, '25:00:00'],
    [TIME, '24:00:00.000001'],
    [TIME, '12:60:00'],
    [TIME, '12:00:00.1234567'],
    [TIME, '12:00'],
    [TIMESTAMP, '2024-01-01T10:00:00'],
    [TIMESTAMP, '2024-01-01 10:00:00+00'],
    [TIMESTAMP, 'Mon Jan 01 10:00:00 2024'], // DateStyle Postgres
    [TIMESTAMPTZ, '2024-01-01 10:00:00'],
    [TIMESTAMPTZ, '2024-01-01 10:00:00+5'],
    [TIMESTAMPTZ, '2024-01-01 10:00:00 UTC'],
    [TIMETZ, '10:00:00'],
    [INTERVAL, ''],
    [INTERVAL, '@ 1 year 2 mons'], // postgres_verbose
    [INTERVAL, '1-2 +3 -4:05:06.789'], // sql_standard
    [INTERVAL, '1 fortnight'],
    [INTERVAL, 'P1.5Y'],
    [INTERVAL, 'P'],
  ];
  for (const [c, text] of bad) {
    assert.throws(
      () => c.fromText(text),
      (e: unknown) => e instanceof ValueDecodeError && e.typeName === c.pgTypeName && e.code.startsWith('WALCAST_VALUE_'),
      `${c.pgTypeName} ${JSON.stringify(text)}`,
    );
  }
});

test('arbitrary text never yields anything but a value of the right type or ValueDecodeError', () => {
  const alphabet = fc.constantFrom(...'0123456789-+:. BCinfytPTYMDHSZ'.split(''));
  const noise = fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 }));
  const checks: Array<[ColumnCodec, (v: unknown) => boolean]> = [
    [DATE, (v) => Number.isInteger(v)],
    [TIME, (v) => Number.isInteger(v)],
    [TIMETZ, (v) => typeof v === 'string'],
    [TIMESTAMP, (v) => typeof v === 'bigint'],
    [TIMESTAMPTZ, (v) => typeof v === 'bigint'],
    [INTERVAL, (v) => typeof v === 'string'],
  ];
  fc.assert(
    fc.property(noise, (text) => {
      for (const [c, ok] of checks) {
        try {
          assert.ok(ok(c.fromText(text)));
        } catch (e) {
          if (!(e instanceof ValueDecodeError)) throw e;
        }
      }
    }),
    { numRuns: 3000 },
  );
});
