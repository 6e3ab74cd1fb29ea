/**
 * From a change event's field schema to a target column: the PostgreSQL type a created column
 * gets, and the PostgreSQL text input of each decoded value (what COPY reads). One classification
 * of the field schema drives both, in this order:
 *
 * 1. walcast's (and Debezium's column.propagate.source.type) `__debezium.source.column.type`
 *    parameter names the source type exactly: `TIMESTAMPTZ` becomes timestamptz again although the
 *    value travels as MicroTimestamp, `NUMERIC` with length and scale numeric(p,s).
 * 2. Debezium's and Connect's logical names (`connect.name`): ZonedTimestamp is timestamptz,
 *    MicroTimestamp timestamp, Decimal numeric, Uuid uuid, Json jsonb...
 * 3. Avro logical types, then the Avro type itself.
 *
 * Kafka Connect's JSON schemas (JsonConverter with schemas.enable) are first turned into the same
 * Avro-shaped description (connectToAvro), so both formats share every rule here.
 */
import type { Decimal } from '../decode/numeric.ts';
import { formatDecimal } from '../decode/numeric.ts';
import { civilFromDays } from '../decode/temporal.ts';
import { fromTwosComplement } from '../encode/avro-logical-types.ts';
import { nameUuidFromBytes } from '../events/toast-placeholder.ts';

/** A decoded value that stands for "keep the target's value" (unchanged TOAST, a field the record lacks). */
export const KEEP: unique symbol = Symbol('keep-target-value');

export interface FieldLayout {
  name: string;
  /** Type of a column created for this field, spelled as format_type() prints it. */
  pgType: string;
  /** PostgreSQL's text input for a decoded, non-null value; `columnType` is the target column's format_type(). */
  text(value: unknown, columnType: string): string;
  /** The value is the unchanged-TOAST placeholder. */
  unchanged(value: unknown): boolean;
  /** Schemaless JSON: pgType is a guess from one value, not checked against existing columns. */
  inferred?: boolean;
}

type SchemaObject = Record<string, unknown> & { type?: unknown };

/** Where decoded values come from: avsc gives bigints, Buffers and Decimals; JSON numbers and base64 strings. */
export type ValueOrigin = 'avro' | 'json';

const SOURCE_TYPE = '__debezium.source.column.type';
const SOURCE_LENGTH = '__debezium.source.column.length';
const SOURCE_SCALE = '__debezium.source.column.scale';

/** Source types walcast and Debezium name, to format_type() spellings; `(n)`/`(p,s)` from length and scale. */
const SOURCE_TYPES: Record<string, string | ((length?: string, scale?: string) => string)> = {
  BOOL: 'boolean',
  INT2: 'smallint',
  INT4: 'integer',
  INT8: 'bigint',
  FLOAT4: 'real',
  FLOAT8: 'double precision',
  NUMERIC: (l, s) => (l !== undefined && s !== undefined ? `numeric(${l},${s})` : 'numeric'),
  MONEY: 'money',
  TEXT: 'text',
  VARCHAR: (l) => (l !== undefined ? `character varying(${l})` : 'character varying'),
  BPCHAR: (l) => (l !== undefined ? `character(${l})` : 'character(1)'),
  NAME: 'name',
  CHAR: '"char"',
  BYTEA: 'bytea',
  UUID: 'uuid',
  JSON: 'json',
  JSONB: 'jsonb',
  XML: 'xml',
  DATE: 'date',
  TIME: 'time without time zone',
  TIMETZ: 'time with time zone',
  TIMESTAMP: 'timestamp without time zone',
  TIMESTAMPTZ: 'timestamp with time zone',
  INTERVAL: 'interval',
  INET: 'inet',
  CIDR: 'cidr',
  MACADDR: 'macaddr',
  MACADDR8: 'macaddr8',
  BIT: (l) => (l !== undefined ? `bit(${l})` : 'bit(1)'),
  VARBIT: (l) => (l !== undefined ? `bit varying(${l})` : 'bit varying'),
  TSVECTOR: 'tsvector',
  TSQUERY: 'tsquery',
  OID: 'oid',
  XID: 'xid',
  PG_LSN: 'pg_lsn',
  POINT: 'point',
  LINE: 'line',
  LSEG: 'lseg',
  BOX: 'box',
  PATH: 'path',
  POLYGON: 'polygon',
  CIRCLE: 'circle',
  INT4RANGE: 'int4range',
  INT8RANGE: 'int8range',
  NUMRANGE: 'numrange',
  TSRANGE: 'tsrange',
  TSTZRANGE: 'tstzrange',
  DATERANGE: 'daterange',
};

/** Logical names (connect.name) and Avro logical types to column types; numeric's precision is read apart. */
const LOGICAL_TYPES: Record<string, string> = {
  'io.debezium.data.VariableScaleDecimal': 'numeric',
  'io.debezium.data.Uuid': 'uuid',
  'io.debezium.data.Json': 'jsonb',
  'io.debezium.data.Xml': 'xml',
  'io.debezium.data.Enum': 'text',
  'io.debezium.data.EnumSet': 'text',
  'io.debezium.data.Ltree': 'text',
  'io.debezium.data.Bits': 'bit varying',
  'io.debezium.time.Date': 'date',
  'org.apache.kafka.connect.data.Date': 'date',
  'io.debezium.time.Time': 'time without time zone',
  'io.debezium.time.MicroTime': 'time without time zone',
  'io.debezium.time.NanoTime': 'time without time zone',
  'org.apache.kafka.connect.data.Time': 'time without time zone',
  'io.debezium.time.ZonedTime': 'time with time zone',
  'io.debezium.time.Timestamp': 'timestamp without time zone',
  'io.debezium.time.MicroTimestamp': 'timestamp without time zone',
  'io.debezium.time.NanoTimestamp': 'timestamp without time zone',
  'org.apache.kafka.connect.data.Timestamp': 'timestamp without time zone',
  'io.debezium.time.ZonedTimestamp': 'timestamp with time zone',
  'io.debezium.time.MicroDuration': 'interval',
  'io.debezium.time.Interval': 'interval',
  date: 'date',
  'time-micros': 'time without time zone',
  'time-millis': 'time without time zone',
  'timestamp-micros': 'timestamp without time zone',
  'timestamp-millis': 'timestamp without time zone',
  uuid: 'uuid',
};

function asObject(schema: unknown): SchemaObject {
  if (typeof schema === 'string') return { type: schema };
  return (schema ?? {}) as SchemaObject;
}

/** The non-null branches of a field's type (a union, or the type itself). */
function branches(schema: unknown): SchemaObject[] {
  const list = Array.isArray(schema) ? schema : [schema];
  return list.filter((t) => t !== 'null').map(asObject);
}

/** A type given as an object whose `type` is itself a schema (`{"type": {"type": "long", ...}}`) is unwrapped. */
function flatten(schema: SchemaObject): SchemaObject {
  let current = schema;
  while (typeof current.type === 'object' && current.type !== null && !Array.isArray(current.type)) current = { ...(current.type as SchemaObject) };
  return current;
}

function parameters(schema: SchemaObject): Record<string, string> {
  return (schema['connect.parameters'] ?? {}) as Record<string, string>;
}

function logicalName(schema: SchemaObject): string | undefined {
  return (schema['connect.name'] as string | undefined) ?? (schema.logicalType as string | undefined);
}

/** The column type for one (non-null) branch's schema. */
export function pgTypeOf(input: SchemaObject): string {
  const schema = flatten(input);
  const params = parameters(schema);
  const source = params[SOURCE_TYPE];
  if (source !== undefined) {
    const array = source.startsWith('_');
    const mapping = SOURCE_TYPES[array ? source.slice(1) : source];
    if (mapping !== undefined) {
      const base = typeof mapping === 'string' ? mapping : mapping(params[SOURCE_LENGTH], params[SOURCE_SCALE]);
      return array ? `${base}[]` : base;
    }
  }
  const name = logicalName(schema);
  if (name === 'org.apache.kafka.connect.data.Decimal' || name === 'decimal') {
    const precision = params['connect.decimal.precision'] ?? (schema.precision as number | undefined);
    const scale = params.scale ?? (schema.scale as number | undefined) ?? 0;
    return precision !== undefined ? `numeric(${precision},${scale})` : 'numeric';
  }
  if (name !== undefined && LOGICAL_TYPES[name] !== undefined) return LOGICAL_TYPES[name];
  switch (schema.type) {
    case 'boolean':
      return 'boolean';
    case 'int':
      return schema['connect.type'] === 'int16' || schema['connect.type'] === 'int8' ? 'smallint' : 'integer';
    case 'long':
      return 'bigint';
    case 'float':
      return 'real';
    case 'double':
      return 'double precision';
    case 'bytes':
    case 'fixed':
      return 'bytea';
    case 'array': {
      const element = branches(schema.items)[0];
      // PostgreSQL arrays have one type whatever their dimensions: int[][] is int[].
      return element ? `${pgTypeOf(element).replace(/(\[\])+$/, '')}[]` : 'text[]';
    }
    case 'map':
    case 'record':
      return 'jsonb';
    default:
      return 'text';
  }
}

// ---------------------------------------------------------------------------------------------
// Text input of values

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Debezium's and walcast's ±infinity for dates and timestamps. */
const DATE_INFINITY = 2147483647;
const DATE_MINUS_INFINITY = -2147483648;
const TIMESTAMP_INFINITY = 9223372036825200000n;
const TIMESTAMP_MINUS_INFINITY = -9223372036832400000n;
const MICROS_PER_DAY = 86_400_000_000n;

function dateParts(days: number): { text: string; bc: boolean } {
  const { year, month, day } = civilFromDays(days);
  // Astronomical year 0 is 1 BC; PostgreSQL reads "0001-01-01 BC".
  return year > 0 ? { text: `${pad(year, 4)}-${pad(month)}-${pad(day)}`, bc: false } : { text: `${pad(1 - year, 4)}-${pad(month)}-${pad(day)}`, bc: true };
}

export function dateText(days: number): string {
  if (days === DATE_INFINITY) return 'infinity';
  if (days === DATE_MINUS_INFINITY) return '-infinity';
  const { text, bc } = dateParts(days);
  return bc ? `${text} BC` : text;
}

export function timeText(micros: number): string {
  const fraction = micros % 1_000_000;
  const seconds = (micros - fraction) / 1_000_000;
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}${fraction ? `.${pad(fraction, 6)}` : ''}`;
}

/** Epoch microseconds as UTC text with its offset: right for timestamptz, and a timestamp column ignores the offset (the wall clock walcast published). */
export function timestampText(micros: bigint): string {
  if (micros === TIMESTAMP_INFINITY) return 'infinity';
  if (micros === TIMESTAMP_MINUS_INFINITY) return '-infinity';
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const { text, bc } = dateParts(Number(days));
  return `${text} ${timeText(Number(rest))}+00${bc ? ' BC' : ''}`;
}

function integer(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value)));
}

function bytesOf(value: unknown, origin: ValueOrigin): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, origin === 'json' ? 'base64' : 'utf8');
  return Buffer.from(value as Uint8Array);
}

function floatText(value: unknown): string {
  const n = Number(value);
  return Object.is(n, -0) ? '-0' : String(n);
}

/** JSON text that keeps bigints and bytes. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v));
}

/** An element inside an array literal: double-quoted with `"` and `\` escaped, NULL bare. */
function arrayElement(text: string | null): string {
  if (text === null) return 'NULL';
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

function arrayText(values: unknown[], element: (value: unknown) => string): string {
  const parts = values.map((v) => (v === null || v === undefined ? 'NULL' : Array.isArray(v) ? arrayText(v, element) : arrayElement(element(v))));
  return `{${parts.join(',')}}`;
}

/** Renders one branch's values: the classification of pgTypeOf, applied to values. */
function renderer(input: SchemaObject, origin: ValueOrigin): (value: unknown) => string {
  const schema = flatten(input);
  const name = logicalName(schema);
  const params = parameters(schema);
  switch (name) {
    case 'org.apache.kafka.connect.data.Decimal':
    case 'decimal': {
      const scale = Number(params.scale ?? schema.scale ?? 0);
      return (v) => {
        if (typeof v === 'object' && v !== null && 'unscaled' in v) return formatDecimal(v as Decimal);
        if (typeof v === 'number') return String(v);
        // A widened column's "NaN" (walcast), else base64 bytes (JSON) or raw bytes.
        if (typeof v === 'string' && (origin === 'avro' || v === 'NaN')) return v;
        return formatDecimal({ unscaled: fromTwosComplement(bytesOf(v, origin)), scale });
      };
    }
    case 'io.debezium.data.VariableScaleDecimal':
      return (v) => {
        const { scale, value } = v as { scale: number; value: unknown };
        return formatDecimal({ unscaled: fromTwosComplement(bytesOf(value, origin)), scale: Number(scale) });
      };
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
    case 'date':
      return (v) => dateText(Number(v));
    case 'io.debezium.time.MicroTime':
    case 'time-micros':
      return (v) => timeText(Number(v));
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
    case 'time-millis':
      return (v) => timeText(Number(v) * 1000);
    case 'io.debezium.time.NanoTime':
      return (v) => timeText(Number(integer(v) / 1000n));
    case 'io.debezium.time.MicroTimestamp':
    case 'timestamp-micros':
      // A widened timestamp column carries values past int64 microseconds as ISO text.
      return (v) => (typeof v === 'string' ? v : timestampText(integer(v)));
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
    case 'timestamp-millis':
      return (v) => timestampText(integer(v) * 1000n);
    case 'io.debezium.time.NanoTimestamp':
      return (v) => timestampText(integer(v) / 1000n);
    case 'io.debezium.time.MicroDuration':
      return (v) => `${integer(v)} microseconds`;
  }
  switch (schema.type) {
    case 'boolean':
      return (v) => (v ? 't' : 'f');
    case 'int':
    case 'long':
      return (v) => String(v);
    case 'float':
    case 'double':
      return floatText;
    case 'bytes':
    case 'fixed':
      return (v) => `\\x${bytesOf(v, origin).toString('hex')}`;
    case 'array': {
      const elements = branches(schema.items).map((b) => renderer(b, origin));
      const element = elements[0] ?? String;
      return (v) => arrayText(v as unknown[], element);
    }
    case 'map':
    case 'record':
      return jsonText;
    default:
      return (v) => (typeof v === 'string' ? v : jsonText(v));
  }
}

/** Is `value` the placeholder, in any of the shapes walcast and Debezium give it per column type (events/toast-placeholder.ts)? */
function placeholderTest(placeholder: string): (value: unknown) => boolean {
  const bytes = Buffer.from(placeholder);
  const base64 = bytes.toString('base64');
  const uuid = nameUuidFromBytes(bytes);
  const single = (v: unknown): boolean => v === placeholder || v === base64 || v === uuid || (Buffer.isBuffer(v) && v.equals(bytes));
  return (value) => {
    if (typeof value === 'string') return value === placeholder || value === base64;
    if (Buffer.isBuffer(value)) return value.equals(bytes);
    if (Array.isArray(value)) {
      if (value.length === 1 && single(value[0])) return true;
      // Debezium's int and bigint arrays carry the placeholder's bytes as numbers.
      return value.length === bytes.length && value.every((v, i) => Number(v) === bytes[i]);
    }
    // hstore as a map
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      return entries.length === 1 && entries[0]![0] === placeholder && entries[0]![1] === placeholder;
    }
    return false;
  };
}

/**
 * The layout of one field of a row record (Avro, or Connect JSON turned into Avro's shape). A union
 * of several non-null branches (walcast's widened columns) renders a string value as it is and
 * anything else by the first branch.
 */
export function fieldLayout(name: string, fieldType: unknown, placeholder: string, origin: ValueOrigin): FieldLayout {
  const [first, ...others] = branches(fieldType);
  const primary = first ?? { type: 'string' };
  const render = renderer(primary, origin);
  const widened = others.length > 0;
  const unchanged = placeholderTest(placeholder);
  return {
    name,
    pgType: pgTypeOf(primary),
    text: widened ? (v) => (typeof v === 'string' ? v : render(v)) : render,
    unchanged,
  };
}

/**
 * A field of schemaless JSON (JsonConverter with schemas.enable=false): nothing says what a number
 * means, so the target column's type decides. Numbers in timestamp, date and time columns are
 * walcast's and Debezium's defaults (MicroTimestamp, Date, MicroTime); strings go in as they are.
 */
export function schemalessLayout(name: string, sample: unknown, placeholder: string): FieldLayout {
  return {
    name,
    pgType:
      typeof sample === 'boolean' ? 'boolean'
      : typeof sample === 'bigint' ? 'bigint'
      : typeof sample === 'number' ? (Number.isInteger(sample) ? 'bigint' : 'double precision')
      : sample !== null && typeof sample === 'object' ? 'jsonb'
      : 'text',
    text: (v, columnType) => schemalessText(v, columnType),
    unchanged: placeholderTest(placeholder),
    inferred: true,
  };
}

function schemalessText(value: unknown, columnType: string): string {
  if (typeof value === 'bigint') {
    // an integer past 2^53 (decode.ts keeps them exact)
    if (columnType.startsWith('timestamp')) return timestampText(value);
    if (columnType.startsWith('time')) return timeText(Number(value));
    return String(value);
  }
  if (typeof value === 'number') {
    if (columnType.startsWith('timestamp')) return timestampText(BigInt(Math.trunc(value)));
    if (columnType === 'date') return dateText(value);
    if (columnType.startsWith('time')) return timeText(value);
    return floatText(value);
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'string') return columnType === 'bytea' ? `\\x${Buffer.from(value, 'base64').toString('hex')}` : value;
  if (Array.isArray(value) && columnType.endsWith('[]')) {
    const element = columnType.slice(0, -2);
    return arrayText(value, (v) => schemalessText(v, element));
  }
  return jsonText(value);
}

// ---------------------------------------------------------------------------------------------
// Kafka Connect's JSON schemas

interface ConnectSchema {
  type: string;
  optional?: boolean;
  name?: string;
  parameters?: Record<string, string>;
  field?: string;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
  keys?: ConnectSchema;
  values?: ConnectSchema;
}

const CONNECT_PRIMITIVES: Record<string, SchemaObject> = {
  int8: { type: 'int', 'connect.type': 'int8' },
  int16: { type: 'int', 'connect.type': 'int16' },
  int32: { type: 'int' },
  int64: { type: 'long' },
  float: { type: 'float' },
  float32: { type: 'float' },
  double: { type: 'double' },
  float64: { type: 'double' },
  boolean: { type: 'boolean' },
  string: { type: 'string' },
  bytes: { type: 'bytes' },
};

/** A Connect schema (JsonConverter's `schema`) in the Avro shape the rules above read. */
export function connectToAvro(schema: ConnectSchema): SchemaObject {
  const base: SchemaObject =
    schema.type === 'struct'
      ? { type: 'record', fields: (schema.fields ?? []).map((f) => ({ name: f.field, type: connectToAvro(f) })) }
      : schema.type === 'array'
        ? { type: 'array', items: schema.items ? connectToAvro(schema.items) : 'string' }
        : schema.type === 'map'
          ? { type: 'map', values: schema.values ? connectToAvro(schema.values) : 'string' }
          : { ...(CONNECT_PRIMITIVES[schema.type] ?? { type: 'string' }) };
  if (schema.name) base['connect.name'] = schema.name;
  if (schema.parameters) base['connect.parameters'] = schema.parameters;
  return base;
}

export type { ConnectSchema };
