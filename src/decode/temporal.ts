import { ValueDecodeError, ValueUnrepresentableError } from './errors.ts';

/*
 * Dates and times in pgoutput's text form (DateStyle=ISO, IntervalStyle=postgres or iso_8601).
 * Parsing is hand-written over char codes: timestamps are among the most frequent column types
 * and a regex or Date object per value would dominate the decode cost. The calendar is the
 * proleptic Gregorian one PostgreSQL uses for all dates; year 1 BC is astronomical year 0.
 */

/** `date` 'infinity' / '-infinity': int32 extremes, outside PostgreSQL's finite range
 * (4714-11-24 BC .. 5874897-12-31 = days -2440588 .. 2145042905), so never ambiguous. */
export const DATE_POSITIVE_INFINITY = 2147483647;
export const DATE_NEGATIVE_INFINITY = -2147483648;

/**
 * `timestamp`/`timestamptz` 'infinity' / '-infinity', in epoch microseconds. These are the values
 * Debezium's PostgreSQL connector emits (PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY), so existing
 * consumers recognise them. The negative one is below PostgreSQL's range; a finite value at or
 * above the positive one (294247-01-10T04:00:25.2Z, 29 years before PostgreSQL's own limit) is
 * refused as unrepresentable rather than confused with infinity.
 */
export const TIMESTAMP_POSITIVE_INFINITY = 9223372036825200000n;
export const TIMESTAMP_NEGATIVE_INFINITY = -9223372036832400000n;

const MICROS_PER_DAY = 86_400_000_000;
/** Seconds below which seconds × 10^6 + micros stays an exact double. */
const SAFE_SECONDS = 9_000_000_000;

const DATESTYLE_HINT = 'expected ISO DateStyle output (walcast sets DateStyle=ISO on every session it opens)';

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC = 0). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  // `year % 4 === 0` is also right for negative (astronomical BC) years: -4 % 4 is -0.
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Cursor over one value's text; every reader throws ValueDecodeError on a mismatch. */
class Cursor {
  pos = 0;
  readonly typeName: string;
  readonly text: string;
  /** What a malformed value most likely means, for the error message. */
  readonly hint: string;

  constructor(typeName: string, text: string, hint: string) {
    this.typeName = typeName;
    this.text = text;
    this.hint = hint;
  }

  fail(reason: string = this.hint): never {
    throw new ValueDecodeError(this.typeName, this.text, reason);
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  expect(code: number): void {
    if (this.text.charCodeAt(this.pos) !== code) this.fail();
    this.pos++;
  }

  /** Exactly `count` decimal digits. */
  fixed(count: number): number {
    let n = 0;
    for (let end = this.pos + count; this.pos < end; this.pos++) {
      // Past the end charCodeAt gives NaN, which fails this test as it must.
      const d = this.text.charCodeAt(this.pos) - 48;
      if (!(d >= 0 && d <= 9)) this.fail();
      n = n * 10 + d;
    }
    return n;
  }

  /** One or more digits (at most 15, so the result stays exact). */
  unsigned(): number {
    const start = this.pos;
    let n = 0;
    for (; this.pos < this.text.length; this.pos++) {
      const d = this.text.charCodeAt(this.pos) - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    const width = this.pos - start;
    if (width === 0 || width > 15) this.fail();
    return n;
  }

  /** Optional ".ffffff": microseconds, right-padded; more than 6 digits never comes from PostgreSQL. */
  fraction(): number {
    if (this.text.charCodeAt(this.pos) !== 46 /* . */) return 0;
    this.pos++;
    let n = 0;
    let width = 0;
    for (; this.pos < this.text.length; this.pos++) {
      const d = this.text.charCodeAt(this.pos) - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      width++;
    }
    if (width === 0 || width > 6) this.fail();
    for (; width < 6; width++) n *= 10;
    return n;
  }

  /** "YYYY-MM-DD" (4+ year digits); the year is as printed, before a trailing " BC" applies. */
  date(): CivilDate {
    const start = this.pos;
    const year = this.unsigned();
    if (this.pos - start < 4) this.fail();
    this.expect(45 /* - */);
    const month = this.fixed(2);
    this.expect(45 /* - */);
    const day = this.fixed(2);
    return { year, month, day };
  }

  /** "HH:MM:SS[.ffffff]" as microseconds since midnight (24:00:00 allowed, as in PostgreSQL). */
  time(): number {
    const hour = this.fixed(2);
    this.expect(58 /* : */);
    const minute = this.fixed(2);
    this.expect(58 /* : */);
    const second = this.fixed(2);
    const micros = this.fraction();
    if (hour > 24 || minute > 59 || second > 59 || (hour === 24 && (minute | second | micros) !== 0)) {
      this.fail('not a valid time of day');
    }
    return ((hour * 60 + minute) * 60 + second) * 1_000_000 + micros;
  }

  /** "+HH", "+HH:MM" or "+HH:MM:SS" (local mean time offsets have seconds) as seconds east of UTC. */
  offset(): number {
    const sign = this.peek();
    if (sign !== 43 /* + */ && sign !== 45 /* - */) this.fail();
    this.pos++;
    let seconds = this.fixed(2) * 3600;
    if (this.peek() === 58 /* : */) {
      this.pos++;
      seconds += this.fixed(2) * 60;
      if (this.peek() === 58 /* : */) {
        this.pos++;
        seconds += this.fixed(2);
      }
    }
    return sign === 45 ? -seconds : seconds;
  }

  /** Consumes a trailing " BC" and reports whether it was there. */
  era(): boolean {
    if (this.pos + 3 === this.text.length && this.text.endsWith(' BC')) {
      this.pos += 3;
      return true;
    }
    return false;
  }

  end(): void {
    if (this.pos !== this.text.length) this.fail();
  }
}

interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** Validates a printed date and converts it; leap years of BC dates follow the astronomical
 * year (1 BC, 5 BC... are leap years), as in PostgreSQL. */
function epochDay(c: Cursor, date: CivilDate, bc: boolean): number {
  const year = bc ? 1 - date.year : date.year;
  const { month, day } = date;
  if (date.year === 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    c.fail('not a valid calendar date');
  }
  return daysFromCivil(year, month, day);
}

/** `date` text -> days since 1970-01-01 (Avro `date`), ±infinity as the int32 sentinels. */
export function parseDate(typeName: string, text: string): number {
  if (text === 'infinity') return DATE_POSITIVE_INFINITY;
  if (text === '-infinity') return DATE_NEGATIVE_INFINITY;
  const c = new Cursor(typeName, text, DATESTYLE_HINT);
  const date = c.date();
  const bc = c.era();
  c.end();
  return epochDay(c, date, bc);
}

/** `time` text -> microseconds since midnight (Avro `time-micros`). */
export function parseTime(typeName: string, text: string): number {
  const c = new Cursor(typeName, text, DATESTYLE_HINT);
  const micros = c.time();
  c.end();
  return micros;
}

/**
 * `timestamp` / `timestamptz` text -> microseconds since 1970-01-01T00:00:00Z (Avro
 * `timestamp-micros`). timestamptz text carries the session's UTC offset, which is applied, so
 * the result is the same instant whatever TimeZone the replication session uses; `timestamp`
 * (without time zone) has no offset and its wall-clock reading is taken as UTC, as Debezium does.
 */
export function parseTimestamp(typeName: string, text: string, withZone: boolean): bigint {
  if (text === 'infinity') return TIMESTAMP_POSITIVE_INFINITY;
  if (text === '-infinity') return TIMESTAMP_NEGATIVE_INFINITY;
  const c = new Cursor(typeName, text, DATESTYLE_HINT);
  const date = c.date();
  c.expect(32 /* space */);
  const timeMicros = c.time();
  const offset = withZone ? c.offset() : 0;
  const bc = c.era();
  c.end();
  const days = epochDay(c, date, bc);
  const wholeMicros = timeMicros % 1_000_000;
  const seconds = days * 86_400 + (timeMicros - wholeMicros) / 1_000_000 - offset;
  if (seconds < SAFE_SECONDS && seconds > -SAFE_SECONDS) return BigInt(seconds * 1_000_000 + wholeMicros);
  const micros = BigInt(seconds) * 1_000_000n + BigInt(wholeMicros);
  if (micros >= TIMESTAMP_POSITIVE_INFINITY || micros <= TIMESTAMP_NEGATIVE_INFINITY) {
    throw new TimestampOutOfRangeError(typeName, text, micros);
  }
  return micros;
}

/** A finite timestamp past int64 epoch microseconds; carries the exact microseconds for the widened shape. */
class TimestampOutOfRangeError extends ValueUnrepresentableError {
  readonly micros: bigint;
  constructor(typeName: string, text: string, micros: bigint) {
    super(typeName, text, 'beyond the range of int64 epoch microseconds that Avro timestamp-micros can hold (the column needs its widened schema, a union with string)');
    this.micros = micros;
  }
}

/**
 * The widened form of a timestamp column (see codec.ts): epoch microseconds as parseTimestamp
 * gives them, and a finite value beyond them (294247-01-10 .. 294276 AD, legal in PostgreSQL) as
 * ISO-8601 text in UTC, e.g. "+294250-01-01T00:00:00.5Z" (java.time's form for years past 9999).
 * Only widened columns come here, so the rare value may take the exception's path.
 */
export function parseTimestampOrText(typeName: string, text: string, withZone: boolean): bigint | string {
  try {
    return parseTimestamp(typeName, text, withZone);
  } catch (error) {
    if (error instanceof TimestampOutOfRangeError) return isoInstant(error.micros);
    throw error;
  }
}

const BIG_MICROS_PER_DAY = BigInt(MICROS_PER_DAY);

/** Epoch microseconds as an ISO-8601 UTC instant; years past 9999 carry a "+" (ISO's expanded form). */
export function isoInstant(micros: bigint): string {
  let days = micros / BIG_MICROS_PER_DAY;
  let rest = micros % BIG_MICROS_PER_DAY;
  if (rest < 0n) {
    rest += BIG_MICROS_PER_DAY;
    days -= 1n;
  }
  const { year, month, day } = civilFromDays(Number(days));
  const ofDay = Number(rest);
  const fraction = ofDay % 1_000_000;
  const seconds = (ofDay - fraction) / 1_000_000;
  const yearText =
    year > 9999 ? `+${year}` : year < 0 ? `-${String(-year).padStart(4, '0')}` : String(year).padStart(4, '0');
  return (
    `${yearText}-${pad2(month)}-${pad2(day)}T${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:` +
    `${pad2(seconds % 60)}${fractionText(fraction)}Z`
  );
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** ".ffffff" without trailing zeros, or "" for whole seconds (java.time's ISO formatting). */
function fractionText(micros: number): string {
  if (micros === 0) return '';
  let text = String(micros).padStart(6, '0');
  let end = text.length;
  while (text.charCodeAt(end - 1) === 48) end--;
  text = text.slice(0, end);
  return `.${text}`;
}

/**
 * `timetz` text -> io.debezium.time.ZonedTime: the same instant of the day in UTC, ISO-8601,
 * e.g. "10:15:30.5+02" -> "08:15:30.5Z". Like Debezium, the original offset is not kept and
 * the result wraps around midnight ("00:30:00+01" -> "23:30:00Z").
 */
export function parseTimetz(typeName: string, text: string): string {
  const c = new Cursor(typeName, text, DATESTYLE_HINT);
  const local = c.time();
  const offset = c.offset();
  c.end();
  let utc = (local - offset * 1_000_000) % MICROS_PER_DAY;
  if (utc < 0) utc += MICROS_PER_DAY;
  const micros = utc % 1_000_000;
  const seconds = (utc - micros) / 1_000_000;
  const hh = Math.floor(seconds / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  return `${pad2(hh)}:${pad2(mm)}:${pad2(seconds % 60)}${fractionText(micros)}Z`;
}

/** An interval as PostgreSQL stores it: three independent signed fields. */
export interface IntervalParts {
  months: number;
  days: number;
  micros: bigint;
}

const MICROS_PER_HOUR = 3_600_000_000n;
const MICROS_PER_MINUTE = 60_000_000n;
const MICROS_PER_SECOND = 1_000_000n;

/**
 * io.debezium.time.Interval's ISO-8601 form, "P{y}Y{m}M{d}DT{h}H{min}M{s}S" with every field
 * present and each carrying its own sign ("P-1Y-2M3DT-4H-5M-6.789S"). It is exact: months, days
 * and microseconds can be recovered without any assumption about month or day length.
 */
export function formatInterval(parts: IntervalParts): string {
  const years = Math.trunc(parts.months / 12);
  const months = parts.months - years * 12;
  const negative = parts.micros < 0n;
  let rest = negative ? -parts.micros : parts.micros;
  const hours = rest / MICROS_PER_HOUR;
  rest %= MICROS_PER_HOUR;
  const minutes = rest / MICROS_PER_MINUTE;
  rest %= MICROS_PER_MINUTE;
  const seconds = rest / MICROS_PER_SECOND;
  const micros = Number(rest % MICROS_PER_SECOND);
  const sign = negative ? '-' : '';
  const h = hours === 0n ? '0' : `${sign}${hours}`;
  const m = minutes === 0n ? '0' : `${sign}${minutes}`;
  const s = seconds === 0n && micros === 0 ? '0' : `${sign}${seconds}${fractionText(micros)}`;
  return `P${years}Y${months}M${parts.days}DT${h}H${m}M${s}S`;
}

const INTERVAL_HINT = 'expected IntervalStyle postgres or iso_8601 output';

function signedInt(c: Cursor): number {
  const sign = c.peek();
  if (sign === 45 /* - */ || sign === 43 /* + */) c.pos++;
  const n = c.unsigned();
  return sign === 45 ? -n : n;
}

/** "1 year 2 mons 3 days 04:05:06.789", "-1 years -2 mons +3 days -04:05:06.789", "-00:00:01". */
function parsePostgresInterval(c: Cursor): IntervalParts {
  let months = 0;
  let days = 0;
  let micros = 0n;
  let seen = false;
  while (!c.atEnd()) {
    if (seen) c.expect(32 /* space */);
    seen = true;
    const start = c.pos;
    const sign = c.peek();
    if (sign === 45 || sign === 43) c.pos++;
    const n = c.unsigned();
    if (c.peek() === 58 /* : */) {
      // The time field: hours are unbounded ("2562047788:00:54.775807"), the sign covers it all.
      c.pos++;
      const minutes = c.fixed(2);
      c.expect(58 /* : */);
      const seconds = c.fixed(2);
      const fraction = c.fraction();
      if (minutes > 59 || seconds > 59) c.fail();
      const total =
        BigInt(n) * MICROS_PER_HOUR + BigInt(((minutes * 60 + seconds) * 1_000_000) + fraction);
      micros += sign === 45 ? -total : total;
      continue;
    }
    const value = sign === 45 ? -n : n;
    c.expect(32 /* space */);
    const unitStart = c.pos;
    while (!c.atEnd() && c.peek() !== 32) c.pos++;
    const unit = c.text.slice(unitStart, c.pos);
    if (unit === 'year' || unit === 'years') months += value * 12;
    else if (unit === 'mon' || unit === 'mons') months += value;
    else if (unit === 'day' || unit === 'days') days += value;
    else {
      c.pos = start;
      c.fail();
    }
  }
  if (!seen) c.fail();
  return { months, days, micros };
}

/** "P1Y2M3DT4H5M6.789S", "P-1Y-2M3DT-4H-5M-6.789S", "PT0S" (IntervalStyle=iso_8601). */
function parseIsoInterval(c: Cursor): IntervalParts {
  c.expect(80 /* P */);
  let months = 0;
  let days = 0;
  let micros = 0n;
  let inTime = false;
  let fields = 0;
  while (!c.atEnd()) {
    if (!inTime && c.peek() === 84 /* T */) {
      inTime = true;
      c.pos++;
      continue;
    }
    const sign = c.peek();
    const n = signedInt(c);
    const fraction = c.fraction();
    const unit = c.peek();
    c.pos++;
    fields++;
    if (fraction !== 0 && !(inTime && unit === 83 /* S */)) c.fail();
    if (!inTime && unit === 89 /* Y */) months += n * 12;
    else if (!inTime && unit === 77 /* M */) months += n;
    else if (!inTime && unit === 87 /* W */) days += n * 7;
    else if (!inTime && unit === 68 /* D */) days += n;
    else if (inTime && unit === 72 /* H */) micros += BigInt(n) * MICROS_PER_HOUR;
    else if (inTime && unit === 77 /* M */) micros += BigInt(n) * MICROS_PER_MINUTE;
    else if (inTime && unit === 83 /* S */) {
      const part = BigInt(fraction);
      micros += BigInt(n) * MICROS_PER_SECOND + (sign === 45 ? -part : part);
    } else c.fail();
  }
  if (fields === 0) c.fail();
  return { months, days, micros };
}

/** `interval` text (IntervalStyle postgres or iso_8601) -> its three stored fields. */
export function parseInterval(typeName: string, text: string): IntervalParts {
  const c = new Cursor(typeName, text, INTERVAL_HINT);
  return text.charCodeAt(0) === 80 /* P */ ? parseIsoInterval(c) : parsePostgresInterval(c);
}
