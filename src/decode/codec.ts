import type { PgType } from './pg-type.ts';
import { builtinType, Oid } from './builtin-types.ts';
import { ValueDecodeError, ValueUnrepresentableError } from './errors.ts';
import { fixedScaleNumeric, formatDecimal, numericTypmod, parseMoney, parseNumeric, type Decimal } from './numeric.ts';
import { parseArrayLiteral, type NestedArray } from './array-literal.ts';
import { parseHstore } from './hstore.ts';
import {
  parseBigInt,
  parseBitString,
  parseBool,
  parseBytea,
  parseFloat4,
  parseFloat8,
  parseSmallInt,
  parseUuid,
} from './scalars.ts';
import { formatInterval, parseDate, parseInterval, parseTime, parseTimestamp, parseTimestampOrText, parseTimetz } from './temporal.ts';

/*
 * The type-fidelity layer: for each PostgreSQL type, an Avro schema and a decoder from
 * pgoutput's text form to a JS value that avsc (with src/encode/avro-logical-types.ts) writes
 * exactly. Schemas carry the `connect.*` annotations Debezium's PostgreSQL connector produces
 * through Confluent's AvroConverter, so Kafka Connect sinks read walcast's topics as Debezium's,
 * and standard Avro logical types where Connect's AvroData accepts them next to that annotation
 * (it rejects e.g. logicalType "date" named anything but org.apache.kafka.connect.data.Date).
 * The mapping itself, type by type, is builtinTemplate below.
 *
 * Declared and widened shapes. PostgreSQL accepts values its declared type suggests it would not:
 * NaN in a numeric(p,s) column, timestamps past what int64 microseconds hold (294247 .. 294276 AD),
 * arrays of any number of dimensions whatever the column declares (attndims is documentation
 * only). The declared shape is what consumers expect (a decimal, a timestamp-micros, arrays nested
 * as deep as declared); the widened shape holds every legal value: a union with a string for the
 * scalars, arrays of any depth up to PostgreSQL's 6 for arrays. A column is published in its
 * declared shape until a value needs the widened one; from then on it keeps the widened shape
 * (src/source/cdc/changes.ts). Every widened shape can read data written with the declared one, so
 * the change is BACKWARD compatible for a schema registry.
 */

/** A JSON Avro schema: a type name, a (possibly annotated) schema object, or a union. */
export type AvroSchema = string | AvroSchemaObject | AvroSchema[];

export interface AvroSchemaObject {
  type: AvroSchema;
  [attribute: string]: unknown;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ColumnCodec {
  /**
   * Avro schema of the non-null values (of a widened scalar: its first branch, the declared
   * type). Always a schema object (never a bare name or a union) and never a named type (so one
   * envelope may hold it any number of times). Shared between columns and deeply frozen: copy
   * before changing it.
   */
  readonly avroSchema: AvroSchemaObject;
  /**
   * Every Avro type the non-null values take: `[avroSchema]`, or for a widened scalar
   * `[avroSchema, {type: "string"}]`. A nullable field's type is `["null", ...avroBranches]`.
   */
  readonly avroBranches: readonly AvroSchemaObject[];
  /**
   * pgoutput text -> value ready for avsc with avroTypeOptions(). Throws ValueDecodeError
   * (code WALCAST_VALUE_DECODE) on malformed text and ValueUnrepresentableError (code
   * WALCAST_VALUE_UNREPRESENTABLE) on a value the schema cannot hold exactly; never guesses.
   */
  fromText(text: string): unknown;
  /**
   * Avro-ready value (from fromText, or decoded by avsc) -> JSON for the JSON output format.
   * It mirrors the Avro value as Kafka Connect's JsonConverter does, except where JSON cannot be
   * exact: 64-bit integers are numbers up to ±(2^53-1) and decimal strings beyond, decimals are
   * plain decimal strings ("-12.50"), bytes are base64, float NaN/±Infinity are the strings
   * "NaN", "Infinity", "-Infinity", maps are objects.
   */
  toJson(value: unknown): JsonValue;
  /** The PostgreSQL type the codec was built for, as pg_type names it. */
  readonly pgTypeName: string;
  /**
   * For the hot path (src/encode/avro-text.ts): the shape of this codec's text when a writer may
   * turn the text's bytes into Avro directly, for the texts it recognises, with exactly the value
   * fromText() gives; it hands every other text to fromText(). Absent: always fromText().
   */
  readonly textForm?: TextForm;
  /**
   * The codec of the widened shape, which holds every value PostgreSQL accepts for the type;
   * this codec itself when it is widened already or its declared shape holds them all.
   */
  widened(): ColumnCodec;
}

/**
 * integer: an optional minus and decimal digits, within [min, max] (int2, int4, int8, oid);
 * boolean: "t" or "f"; text: the value is the text itself (fromText is the identity);
 * timestamp: ISO DateStyle, with a zone offset when `zone`; decimal: a numeric(p,s) as an Avro
 * decimal of `scale` and `precision` (decimal.handling.mode precise).
 */
export type TextForm =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'text' }
  | { kind: 'timestamp'; zone: boolean }
  | { kind: 'decimal'; scale: number; precision: number };

export interface CodecOptions {
  /**
   * How numeric and money values are published (Debezium's decimal.handling.mode):
   * `precise` (default): numeric(p,s) and money as Avro decimal, unconstrained numeric as an
   * exact string, NaN in a numeric(p,s) column refused with ValueUnrepresentableError;
   * `string`: every numeric and money value as an exact string, NaN and ±Infinity included.
   */
  decimalHandling?: 'precise' | 'string';
  /** Fraction digits of the server's lc_monetary currency (Debezium's money.fraction.digits). */
  moneyFractionDigits?: number;
  /**
   * Dimensions of an array column (pg_attribute.attndims; 0 or absent means 1). PostgreSQL does
   * not enforce it, but an Avro schema has to fix the nesting: a value with other dimensions is
   * refused with ValueUnrepresentableError.
   */
  arrayDimensions?: number;
  /** Build the widened shape (see the top of this file). */
  widened?: boolean;
}

export { builtinType } from './builtin-types.ts';
export type { Decimal } from './numeric.ts';

type Lookup = (oid: number) => PgType | undefined;

function resolveType(oid: number, lookup: Lookup): PgType | undefined {
  return builtinType(oid) ?? lookup(oid);
}

// ---------------------------------------------------------------------------------------------
// JSON conversions

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const identityJson = (value: unknown): JsonValue => value as JsonValue;

function longJson(value: unknown): JsonValue {
  if (typeof value !== 'bigint') return value as JsonValue;
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value.toString();
}

function floatJson(value: unknown): JsonValue {
  return Number.isFinite(value) ? (value as number) : String(value);
}

/**
 * A float4 is exactly a double too, but 0.1f prints as 0.10000000149011612; JSON gets the
 * shortest decimal that still reads back as the same float32 ("0.1", what PostgreSQL prints).
 */
function float4Json(value: unknown): JsonValue {
  const f = value as number;
  if (!Number.isFinite(f)) return String(f);
  for (let digits = 1; digits < 9; digits++) {
    const shortest = Number(f.toPrecision(digits));
    if (Math.fround(shortest) === f) return shortest;
  }
  return f;
}

function decimalJson(value: unknown): JsonValue {
  return typeof value === 'string' ? value : formatDecimal(value as Decimal);
}

function bytesJson(value: unknown): JsonValue {
  return (value as Buffer).toString('base64');
}

function nullable(toJson: (value: unknown) => JsonValue): (value: unknown) => JsonValue {
  return (value) => (value === null ? null : toJson(value));
}

// ---------------------------------------------------------------------------------------------
// Schemas

const TYPE_PARAMETER = '__debezium.source.column.type';
const LENGTH_PARAMETER = '__debezium.source.column.length';
const SCALE_PARAMETER = '__debezium.source.column.scale';

/**
 * The source-column parameters Debezium adds with column.propagate.source.type: the type name
 * upper-cased as Debezium prints it (INT4, _TEXT, MOOD), plus length/scale where the typmod
 * declares them. Connect consumers see them as schema parameters.
 */
function sourceParameters(typeName: string, lengthOid: number, typeMod: number): Record<string, string> {
  const parameters: Record<string, string> = { [TYPE_PARAMETER]: typeName.toUpperCase() };
  if (typeMod < 0) return parameters;
  switch (lengthOid) {
    case Oid.varchar:
    case Oid.bpchar:
      parameters[LENGTH_PARAMETER] = String(typeMod - 4);
      break;
    case Oid.bit:
    case Oid.varbit:
      parameters[LENGTH_PARAMETER] = String(typeMod);
      break;
    case Oid.numeric: {
      const numeric = numericTypmod(typeMod);
      if (numeric !== undefined) {
        parameters[LENGTH_PARAMETER] = String(numeric.precision);
        parameters[SCALE_PARAMETER] = String(numeric.scale);
      }
      break;
    }
  }
  return parameters;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** A schema object whose connect.parameters are `base`'s plus the source-column ones. */
function annotated(base: AvroSchemaObject, parameters: Record<string, string>): AvroSchemaObject {
  const own = base['connect.parameters'] as Record<string, string> | undefined;
  return { ...base, 'connect.parameters': { ...own, ...parameters } };
}

/** Debezium's logical names (connect.name) with their Connect schema version. */
function connectNamed(type: string, name: string, extra?: Record<string, unknown>): AvroSchemaObject {
  return { type, ...extra, 'connect.version': 1, 'connect.name': name };
}

function decimalSchema(precision: number, scale: number): AvroSchemaObject {
  return {
    type: 'bytes',
    logicalType: 'decimal',
    precision,
    scale,
    'connect.version': 1,
    'connect.name': 'org.apache.kafka.connect.data.Decimal',
    'connect.parameters': { scale: String(scale), 'connect.decimal.precision': String(precision) },
  };
}

// ---------------------------------------------------------------------------------------------
// Codecs

interface Template {
  schema: AvroSchemaObject;
  /** Avro types beside `schema` that values may take (a widened scalar's string). */
  alternatives?: AvroSchemaObject[];
  fromText: (text: string) => unknown;
  toJson: (value: unknown) => JsonValue;
  textForm?: TextForm;
}

/** A codec before codecFor() attaches widened() and freezes it. */
type CodecParts = Omit<ColumnCodec, 'widened'>;

const STRING_BRANCH: AvroSchemaObject = { type: 'string' };

const text = (value: string): string => value;

function stringTemplate(schema: AvroSchemaObject = { type: 'string' }, fromText: (text: string) => unknown = text): Template {
  return { schema, fromText, toJson: identityJson, ...(fromText === text ? { textForm: TEXT_FORM } : {}) };
}

const TEXT_FORM: TextForm = Object.freeze({ kind: 'text' });

/** Codecs of the built-in scalar types, by OID; undefined for types that fall back to string. */
function builtinTemplate(type: PgType, typeMod: number, options: Required<CodecOptions>): Template | undefined {
  const name = type.name;
  switch (type.oid) {
    case Oid.bool:
      return { schema: { type: 'boolean' }, fromText: (t) => parseBool(name, t), toJson: identityJson, textForm: { kind: 'boolean' } };
    case Oid.int2:
      return {
        schema: { type: 'int', 'connect.type': 'int16' },
        fromText: (t) => parseSmallInt(name, t, -32768, 32767),
        toJson: identityJson,
        textForm: { kind: 'integer', min: -32768, max: 32767 },
      };
    case Oid.int4:
      return {
        schema: { type: 'int' },
        fromText: (t) => parseSmallInt(name, t, -2147483648, 2147483647),
        toJson: identityJson,
        textForm: { kind: 'integer', min: -2147483648, max: 2147483647 },
      };
    case Oid.int8:
      // (a 15-digit text is the most the text writer reads: well inside int64)
      return { schema: { type: 'long' }, fromText: (t) => parseBigInt(name, t), toJson: longJson, textForm: { kind: 'integer', min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER } };
    case Oid.oid:
    case Oid.xid:
    case Oid.cid:
      // Unsigned 32-bit: a long, as Debezium publishes oid.
      return { schema: { type: 'long' }, fromText: (t) => parseBigInt(name, t, 0n, 0xffffffffn), toJson: longJson, textForm: { kind: 'integer', min: 0, max: 0xffffffff } };
    case Oid.float4:
      return { schema: { type: 'float' }, fromText: (t) => parseFloat4(name, t), toJson: float4Json };
    case Oid.float8:
      return { schema: { type: 'double' }, fromText: (t) => parseFloat8(name, t), toJson: floatJson };
    case Oid.numeric:
      return numericTemplate(name, typeMod, options);
    case Oid.money: {
      const digits = options.moneyFractionDigits;
      if (options.decimalHandling === 'string') {
        return stringTemplate({ type: 'string' }, (t) => formatDecimal(parseMoney(name, t, digits)));
      }
      // money is an int64 count of minor units: at most 19 digits.
      return { schema: decimalSchema(19, digits), fromText: (t) => parseMoney(name, t, digits), toJson: decimalJson };
    }
    case Oid.text:
    case Oid.varchar:
    case Oid.bpchar:
    case Oid.name:
    case Oid.char:
      return stringTemplate();
    case Oid.bytea:
      return { schema: { type: 'bytes' }, fromText: (t) => parseBytea(name, t), toJson: bytesJson };
    case Oid.uuid:
      return stringTemplate(connectNamed('string', 'io.debezium.data.Uuid', { logicalType: 'uuid' }), (t) => parseUuid(name, t));
    case Oid.json:
    case Oid.jsonb:
      return stringTemplate(connectNamed('string', 'io.debezium.data.Json'));
    case Oid.xml:
      return stringTemplate(connectNamed('string', 'io.debezium.data.Xml'));
    case Oid.tsvector:
      return stringTemplate(connectNamed('string', 'io.debezium.data.Tsvector'));
    case Oid.date:
      return {
        schema: connectNamed('int', 'org.apache.kafka.connect.data.Date', { logicalType: 'date' }),
        fromText: (t) => parseDate(name, t),
        toJson: identityJson,
      };
    case Oid.time:
      return {
        schema: connectNamed('long', 'io.debezium.time.MicroTime', { logicalType: 'time-micros' }),
        fromText: (t) => parseTime(name, t),
        toJson: identityJson,
      };
    case Oid.timetz:
      return stringTemplate(connectNamed('string', 'io.debezium.time.ZonedTime'), (t) => parseTimetz(name, t));
    case Oid.timestamp:
    case Oid.timestamptz: {
      const withZone = type.oid === Oid.timestamptz;
      const schema = connectNamed('long', 'io.debezium.time.MicroTimestamp', { logicalType: 'timestamp-micros' });
      if (options.widened) {
        // Finite values past int64 microseconds (294247 .. 294276 AD) as ISO-8601 text.
        return {
          schema,
          alternatives: [STRING_BRANCH],
          fromText: (t) => parseTimestampOrText(name, t, withZone),
          toJson: (v) => (typeof v === 'string' ? v : longJson(v)),
        };
      }
      return { schema, fromText: (t) => parseTimestamp(name, t, withZone), toJson: longJson, textForm: { kind: 'timestamp', zone: withZone } };
    }
    case Oid.interval:
      return stringTemplate(connectNamed('string', 'io.debezium.time.Interval'), (t) => formatInterval(parseInterval(name, t)));
    case Oid.bit:
      if (typeMod === 1) {
        // bit(1) is a flag: Debezium publishes it as a boolean.
        return {
          schema: { type: 'boolean' },
          fromText: (t) => {
            if (t === '1') return true;
            if (t === '0') return false;
            throw new ValueDecodeError(name, t, 'expected "0" or "1"');
          },
          toJson: identityJson,
        };
      }
      return stringTemplate({ type: 'string' }, (t) => parseBitString(name, t));
    case Oid.varbit:
      return stringTemplate({ type: 'string' }, (t) => parseBitString(name, t));
    default:
      return undefined;
  }
}

/**
 * numeric(p,s) -> Avro decimal. PostgreSQL 15 also allows a negative scale (numeric(3,-2) holds
 * 12300) and a scale above the precision (numeric(2,5) holds 0.00012), which Avro's decimal does
 * not: they become decimal(p-s, 0) and decimal(s, s), which hold the same values exactly.
 * Unconstrained numeric has no fixed scale and may hold NaN and ±Infinity: it is published as
 * the exact text numeric_out prints ("1.50", "NaN"), as with Debezium's decimal.handling.mode=string.
 */
function numericTemplate(name: string, typeMod: number, options: Required<CodecOptions>): Template {
  const declared = numericTypmod(typeMod);
  if (declared === undefined || options.decimalHandling === 'string') {
    return stringTemplate({ type: 'string' }, (t) => {
      parseNumeric(name, t); // validates; NaN/Infinity come back undefined and are kept as text
      return t;
    });
  }
  const scale = Math.max(declared.scale, 0);
  const precision = declared.scale < 0 ? declared.precision - declared.scale : Math.max(declared.precision, scale);
  const decimal = fixedScaleNumeric(name, scale, precision);
  if (options.widened) {
    // NaN (the one special value a numeric(p,s) column accepts) as the text "NaN"; a domain over
    // it may not restrict it further than its base does.
    return {
      schema: decimalSchema(precision, scale),
      alternatives: [STRING_BRANCH],
      fromText: (t) => (isSpecialNumeric(t) ? t : decimal(t)),
      toJson: decimalJson,
    };
  }
  return { schema: decimalSchema(precision, scale), fromText: decimal, toJson: decimalJson, textForm: { kind: 'decimal', scale, precision } };
}

function isSpecialNumeric(text: string): boolean {
  return text === 'NaN' || text === 'Infinity' || text === '-Infinity';
}

/** hstore (an extension type, found by name) as Debezium's map mode: map<string, string|null>. */
function hstoreTemplate(name: string): Template {
  return {
    schema: { type: 'map', values: ['null', 'string'] },
    fromText: (t) => parseHstore(name, t),
    toJson: identityJson,
  };
}

function extensionTemplate(type: PgType): Template | undefined {
  switch (type.name) {
    case 'hstore':
      return hstoreTemplate(type.name);
    case 'ltree':
      return stringTemplate(connectNamed('string', 'io.debezium.data.Ltree'));
    default:
      return undefined;
  }
}

function enumTemplate(type: PgType): Template {
  // An Avro string, not an Avro enum: adding a label to the PostgreSQL type must stay a
  // BACKWARD-compatible schema change. Labels are not checked, so a label added since the type
  // was read still flows.
  return stringTemplate(
    connectNamed('string', 'io.debezium.data.Enum', { 'connect.parameters': { allowed: (type.enumLabels ?? []).join(',') } }),
  );
}

function finish(template: Template, typeName: string, lengthOid: number, typeMod: number): CodecParts {
  const avroSchema = deepFreeze(annotated(template.schema, sourceParameters(typeName, lengthOid, typeMod)));
  return {
    avroSchema,
    avroBranches: deepFreeze([avroSchema, ...(template.alternatives ?? [])]),
    fromText: template.fromText,
    toJson: template.toJson,
    pgTypeName: typeName,
    ...(template.textForm && !template.alternatives ? { textForm: template.textForm } : {}),
  };
}

/** PostgreSQL's MAXDIM: no array value has more dimensions. */
export const MAX_ARRAY_DIMENSIONS = 6;

/**
 * The widened array shape: at each level an element (any of its branches), a NULL, or a
 * sub-array, down to MAX_ARRAY_DIMENSIONS levels. A value of any dimension count nests exactly
 * as deep as it has dimensions: {{1,2},{3,NULL}} is [[1,2],[3,null]] whatever attndims says.
 */
function anyDimensionSchema(elementBranches: readonly AvroSchemaObject[]): AvroSchemaObject {
  let schema: AvroSchemaObject = { type: 'array', items: ['null', ...elementBranches] };
  for (let d = 1; d < MAX_ARRAY_DIMENSIONS; d++) schema = { type: 'array', items: ['null', ...elementBranches, schema] };
  return schema;
}

function arrayCodec(
  type: PgType,
  element: CodecParts,
  elementOid: number,
  typeMod: number,
  dimensions: number,
  widened: boolean,
): CodecParts {
  const name = type.name;
  const delimiter = type.delimiter ?? ',';
  const elementFromText = element.fromText;
  const elementJson = nullable(element.toJson);
  if (widened) {
    // Elements are never arrays themselves, so an array inside is always a sub-array.
    const anyJson = (value: unknown): JsonValue => (value as unknown[]).map((item) => (Array.isArray(item) ? anyJson(item) : elementJson(item)));
    return finish(
      {
        schema: anyDimensionSchema(element.avroBranches),
        fromText: (t: string): NestedArray<unknown> => parseArrayLiteral(name, t, delimiter, elementFromText).value,
        toJson: anyJson,
      },
      name,
      elementOid,
      typeMod,
    );
  }
  let schema: AvroSchemaObject = { type: 'array', items: ['null', element.avroSchema] };
  // Inner arrays of a multi-dimensional value are never NULL in PostgreSQL.
  for (let d = 1; d < dimensions; d++) schema = { type: 'array', items: schema };

  const levelJson = (value: unknown, depth: number): JsonValue =>
    (value as unknown[]).map((item) => (depth === 1 ? elementJson(item) : levelJson(item, depth - 1)));

  return finish(
    {
      schema,
      fromText: (t: string): NestedArray<unknown> => {
        const parsed = parseArrayLiteral(name, t, delimiter, elementFromText);
        if (parsed.dimensions !== dimensions && parsed.dimensions !== 0) {
          throw new ValueUnrepresentableError(
            name,
            t,
            `has ${parsed.dimensions} dimensions but the column's declared schema nests ${dimensions} deep (pg_attribute.attndims; the column needs its widened schema)`,
          );
        }
        return parsed.value;
      },
      toJson: (value) => levelJson(value, dimensions),
    },
    name,
    elementOid,
    typeMod,
  );
}

/** A type the lookup does not know: its text, unchanged, so nothing is lost or invented. */
function unknownCodec(typeName: string, typeMod: number): CodecParts {
  return finish(stringTemplate(), typeName, 0, typeMod);
}

interface MemoEntry {
  codec: ColumnCodec;
  /** Types resolved through the lookup while building; a different answer now means rebuild. */
  dependencies: Array<[number, PgType | undefined]>;
}

const memo = new WeakMap<PgType, Map<string, MemoEntry>>();

function build(
  given: PgType,
  typeMod: number,
  lookup: Lookup,
  options: Required<CodecOptions>,
  dependencies: Array<[number, PgType | undefined]>,
): CodecParts {
  // Built-in OIDs mean the same type on every server: walcast's own table wins over whatever
  // the caller read (int2vector, for one, is in category 'A' but is no array literal).
  const builtin = builtinType(given.oid);
  const type = builtin ?? given;
  if (type.elementOid !== undefined && type.elementOid !== 0) {
    const elementType = resolveType(type.elementOid, lookup);
    dependencies.push([type.elementOid, elementType]);
    const element =
      elementType === undefined
        ? unknownCodec(`oid ${type.elementOid}`, typeMod)
        : codecFor(elementType, typeMod, lookup, { ...options, arrayDimensions: 1 });
    return arrayCodec(type, element, elementType?.oid ?? 0, typeMod, Math.max(options.arrayDimensions, 1), options.widened);
  }

  if (type.kind === 'd' && type.baseOid !== undefined) {
    // A domain publishes as its base type (the column typmod is -1; the domain's own typmod,
    // e.g. numeric(10,2) in CREATE DOMAIN price AS numeric(10,2), is pg_type.typtypmod).
    const baseType = resolveType(type.baseOid, lookup);
    dependencies.push([type.baseOid, baseType]);
    const baseMod = typeMod >= 0 ? typeMod : (type.baseTypeMod ?? -1);
    if (baseType === undefined) return unknownCodec(type.name, typeMod);
    const base = codecFor(baseType, baseMod, lookup, options);
    const avroSchema = deepFreeze(annotated(base.avroSchema, sourceParameters(type.name, baseType.oid, baseMod)));
    return {
      avroSchema,
      avroBranches: deepFreeze([avroSchema, ...base.avroBranches.slice(1)]),
      fromText: base.fromText,
      toJson: base.toJson,
      pgTypeName: type.name,
      ...(base.textForm ? { textForm: base.textForm } : {}),
    };
  }

  let template: Template | undefined;
  if (type.kind === 'e') template = enumTemplate(type);
  else if (builtin !== undefined) template = builtinTemplate(builtin, typeMod, options);
  template ??= extensionTemplate(type);
  // Ranges and multiranges (Debezium publishes their text too), composites, and everything
  // else walcast has no specific mapping for: the exact text, typed string.
  template ??= stringTemplate();
  return finish(template, type.name, type.oid, typeMod);
}

/**
 * The codec for a column of `type` with atttypmod `typeMod`. `lookup` resolves OIDs of
 * non-built-in types (array elements, domain bases) from pg_type. Memoised per type object,
 * typmod and options; give it fresh PgType objects when pg_type changes (a new enum label, an
 * altered domain) and the codecs are rebuilt.
 */
export function codecFor(type: PgType, typeMod: number, lookup: Lookup, options: CodecOptions = {}): ColumnCodec {
  const full: Required<CodecOptions> = {
    decimalHandling: options.decimalHandling ?? 'precise',
    moneyFractionDigits: options.moneyFractionDigits ?? 2,
    arrayDimensions: options.arrayDimensions || 1,
    widened: options.widened ?? false,
  };
  const key = `${typeMod}|${full.decimalHandling}|${full.moneyFractionDigits}|${full.arrayDimensions}|${full.widened}`;
  let entries = memo.get(type);
  const hit = entries?.get(key);
  if (hit !== undefined && hit.dependencies.every(([oid, known]) => resolveType(oid, lookup) === known)) {
    return hit.codec;
  }
  const dependencies: Array<[number, PgType | undefined]> = [];
  const parts = build(type, typeMod, lookup, full, dependencies);
  let wide: ColumnCodec | undefined;
  const codec: ColumnCodec = Object.freeze({
    ...parts,
    widened: (): ColumnCodec => {
      if (full.widened) return codec;
      if (wide === undefined) {
        const candidate = codecFor(type, typeMod, lookup, { ...full, widened: true });
        // Types without a wider shape (text, int4, ...) stay this very codec.
        wide = JSON.stringify(candidate.avroBranches) === JSON.stringify(parts.avroBranches) ? codec : candidate;
      }
      return wide;
    },
  });
  if (entries === undefined) {
    entries = new Map();
    memo.set(type, entries);
  }
  entries.set(key, { codec, dependencies });
  return codec;
}
