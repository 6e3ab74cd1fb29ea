/**
 * Kafka records of change topics to changes the sink applies: Debezium's envelope
 * `{before, after, source, op}`, as Avro through a Confluent-compatible registry (walcast's and
 * Debezium's topics), or as JSON with or without Connect's `{schema, payload}` wrapper; or, for
 * Confluent's JDBC sink, flat records whose value is the row itself (the JDBC source's output,
 * Debezium's after ExtractNewRecordState): an upsert of the row, a tombstone a delete of its key. Values
 * stay decoded (bigints, Decimals, Buffers); columns.ts renders them for COPY once the target
 * column is known. Layouts are computed once per schema (registry id, JSON schema or field set).
 */
import avsc from 'avsc';
import { avroTypeOptions } from '../encode/avro-logical-types.ts';
import { WriterTypes, isConfluentFramed } from '../encode/writer-types.ts';
import { RegistryUnavailableError, type SchemaRegistryClient } from '../encode/registry.ts';
import { connectToAvro, fieldLayout, KEEP, schemalessLayout, type ConnectSchema, type FieldLayout, type ValueOrigin } from './columns.ts';

export type ChangeOp = 'c' | 'u' | 'd' | 'r' | 't';

export interface SinkChange {
  op: ChangeOp;
  topic: string;
  partition: number;
  offset: string;
  /** `source.db`, `source.schema`, `source.table`: the target table's name comes from them. */
  source: { db: string; schema: string; table: string };
  /** Fields of the record key and their values (null: the record has no key). */
  keyFields: readonly FieldLayout[] | null;
  key: unknown[] | null;
  /** Fields of the row and its values: `after` for c, r and u (KEEP for an unchanged TOAST value), `before` for d; null for t. */
  fields: readonly FieldLayout[];
  row: unknown[] | null;
  /** The source's commit time (source.ts_ms), for the lag. */
  sourceTsMs: number | null;
}

export class SinkRecordError extends Error {
  readonly code = 'WALCAST_SINK_RECORD';
  constructor(message: string) {
    super(message);
    this.name = 'SinkRecordError';
  }
}

/** A record's key or value the sink cannot read: Connect's KEY_CONVERTER or VALUE_CONVERTER stage. */
export class RecordDecodeError extends SinkRecordError {
  readonly part: 'key' | 'value';
  constructor(part: 'key' | 'value', cause: unknown) {
    super(`the record's ${part} cannot be decoded: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RecordDecodeError';
    this.part = part;
    this.cause = cause;
  }
}

/** A fault of the registry or the network, not of the record: retried, never dead-lettered. */
export function transientDecodeError(error: unknown): boolean {
  if (error instanceof RegistryUnavailableError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

const OPS = new Set<string>(['c', 'u', 'd', 'r', 't']);

/** JSON.parse's reviver argument with the value's source text (Node >= 21). */
type SourceContext = { source?: string } | undefined;

/**
 * JSON with integers beyond 2^53 kept exact, as bigints: Debezium's JsonConverter writes int64
 * (bigint columns, MicroTimestamp, MicroDuration...) as plain JSON numbers, which JSON.parse rounds
 * (-9223372036854775808 became -9223372036854776000, which a bigint column refuses). The reviver
 * reads the number's own text; it runs only for texts with a run of 16 digits, so ordinary records
 * are parsed at full speed.
 */
export function parseJson(text: string): unknown {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key: string, value: unknown, context?: SourceContext) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source) ? BigInt(context.source) : value,
  );
}
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

type SchemaObject = Record<string, unknown>;

/** Named types of an Avro schema by full and short name, so `"type": "shop.public.orders.Value"` references resolve. */
function namedTypes(schema: unknown, namespace = '', out = new Map<string, SchemaObject>()): Map<string, SchemaObject> {
  if (Array.isArray(schema)) {
    for (const branch of schema) namedTypes(branch, namespace, out);
    return out;
  }
  if (typeof schema !== 'object' || schema === null) return out;
  const object = schema as SchemaObject;
  let ns = namespace;
  if (typeof object.name === 'string' && ['record', 'enum', 'fixed'].includes(object.type as string)) {
    ns = typeof object.namespace === 'string' ? object.namespace : object.name.includes('.') ? object.name.slice(0, object.name.lastIndexOf('.')) : namespace;
    const short = object.name.includes('.') ? object.name.slice(object.name.lastIndexOf('.') + 1) : object.name;
    out.set(ns ? `${ns}.${short}` : short, object);
    if (!out.has(short)) out.set(short, object);
  }
  if (Array.isArray(object.fields)) for (const field of object.fields as SchemaObject[]) namedTypes(field.type, ns, out);
  if (object.type !== undefined && typeof object.type === 'object') namedTypes(object.type, ns, out);
  if (object.items !== undefined) namedTypes(object.items, ns, out);
  if (object.values !== undefined) namedTypes(object.values, ns, out);
  return out;
}

function resolve(type: unknown, names: Map<string, SchemaObject>): unknown {
  if (typeof type === 'string' && !PRIMITIVES.has(type)) return names.get(type) ?? names.get(type.slice(type.lastIndexOf('.') + 1)) ?? type;
  if (Array.isArray(type)) return type.map((t) => resolve(t, names));
  return type;
}

/** The record among a field type's branches (a row record is `["null", Row]`). */
function recordOf(type: unknown, names: Map<string, SchemaObject>): SchemaObject | null {
  const resolved = resolve(type, names);
  for (const branch of Array.isArray(resolved) ? resolved : [resolved]) {
    const object = resolve(branch, names);
    if (typeof object === 'object' && object !== null && (object as SchemaObject).type === 'record') return object as SchemaObject;
  }
  return null;
}

function rowLayouts(record: SchemaObject | null, names: Map<string, SchemaObject>, placeholder: string, origin: ValueOrigin): FieldLayout[] {
  if (!record) return [];
  return (record.fields as Array<{ name: string; type: unknown }>).map((f) => fieldLayout(f.name, resolve(f.type, names), placeholder, origin));
}

interface EnvelopeLayout {
  fields: FieldLayout[];
}

/** Field layouts of an envelope's row record (before or after, whichever the schema defines). */
function envelopeLayout(schema: unknown, placeholder: string, origin: ValueOrigin): EnvelopeLayout | null {
  const names = namedTypes(schema);
  const envelope = resolve(schema, names) as SchemaObject;
  if (envelope?.type !== 'record' || !Array.isArray(envelope.fields)) return null;
  const fields = envelope.fields as Array<{ name: string; type: unknown }>;
  if (!fields.some((f) => f.name === 'op')) return null;
  const row = fields.find((f) => f.name === 'after') ?? fields.find((f) => f.name === 'before');
  return { fields: rowLayouts(row ? recordOf(row.type, names) : null, names, placeholder, origin) };
}

function keyLayout(schema: unknown, placeholder: string, origin: ValueOrigin): FieldLayout[] {
  const names = namedTypes(schema);
  return rowLayouts(recordOf(schema, names), names, placeholder, origin);
}

/** The envelope fields the sink reads; of `source`, only these. */
const ENVELOPE_FIELDS = new Set(['before', 'after', 'op', 'source']);
const SOURCE_FIELDS = new Set(['db', 'schema', 'table', 'ts_ms']);

interface EnvelopeReader {
  type: avsc.Type;
  resolver: avsc.Resolver;
}

/**
 * A reader of an envelope that builds only what the sink uses: before, after, op and four fields
 * of source. Avro schema resolution skips the rest (the transaction block, ts_us/ts_ns, lsn, txId,
 * sequence...) without decoding it, where the writer type would build a record and a dozen
 * bigints per change for the collector. null (read with the writer type) for any schema this
 * does not apply to.
 */
export function envelopeReader(schema: unknown, writer: avsc.Type): EnvelopeReader | null {
  try {
    const envelope = JSON.parse(JSON.stringify(schema)) as SchemaObject;
    if (envelope?.type !== 'record' || !Array.isArray(envelope.fields)) return null;
    const fields = envelope.fields as Array<{ name: string; type: unknown }>;
    if (!fields.some((f) => f.name === 'op')) return null;
    // A named type defined in a dropped field and used in a kept one would dangle: keep it all then.
    const dropped = fields.filter((f) => !ENVELOPE_FIELDS.has(f.name));
    const keptText = JSON.stringify(fields.filter((f) => ENVELOPE_FIELDS.has(f.name)));
    if ([...namedTypes(dropped.map((f) => f.type)).keys()].some((name) => keptText.includes(`"${name}"`))) return null;
    envelope.fields = fields.filter((f) => ENVELOPE_FIELDS.has(f.name));
    const source = (envelope.fields as Array<{ name: string; type: unknown }>).find((f) => f.name === 'source');
    if (source && typeof source.type === 'object' && source.type !== null && !Array.isArray(source.type)) {
      const record = source.type as SchemaObject;
      if (record.type === 'record' && Array.isArray(record.fields)) record.fields = (record.fields as Array<{ name: string }>).filter((f) => SOURCE_FIELDS.has(f.name));
    }
    const type = avsc.Type.forSchema(envelope as avsc.Schema, avroTypeOptions());
    return { type, resolver: type.createResolver(writer) };
  } catch {
    return null;
  }
}

interface Decoded {
  /** The envelope's or key's value. */
  value: Record<string, unknown> | null;
  /** Layout of the row record (envelopes) or of the key's fields. */
  layout: FieldLayout[] | null;
}

export class ChangeDecoder {
  private readonly writers: WriterTypes | null;
  private readonly placeholder: string;
  private readonly envelopes = new Map<string, EnvelopeLayout | null>();
  private readonly keys = new Map<string, FieldLayout[]>();
  /** Envelope readers by writer schema id (null: read with the writer type itself). */
  private readonly readers = new Map<number, EnvelopeReader | null>();
  private readonly flat: boolean;

  constructor(registry: SchemaRegistryClient | null, placeholder: string, records: 'envelope' | 'flat' = 'envelope') {
    this.writers = registry ? new WriterTypes(registry) : null;
    this.placeholder = placeholder;
    this.flat = records === 'flat';
  }

  /** A change, or null for what the sink does not apply: tombstones, messages (op m), records of other shapes. */
  async decode(topic: string, partition: number, offset: string, keyBytes: Buffer | null, valueBytes: Buffer | null): Promise<SinkChange | null> {
    const known = this.tryDecode(topic, partition, offset, keyBytes, valueBytes);
    if (known !== undefined) return known;
    // A schema id seen for the first time: look it up (and the key's), then decode as above.
    for (const bytes of [valueBytes, keyBytes]) {
      if (bytes === null || !isConfluentFramed(bytes) || !this.writers) continue;
      await this.writers.byId(bytes.readInt32BE(1)).catch((error: unknown) => {
        throw transientDecodeError(error) ? error : new RecordDecodeError(bytes === keyBytes ? 'key' : 'value', error);
      });
    }
    return this.tryDecode(topic, partition, offset, keyBytes, valueBytes) ?? null;
  }

  /**
   * decode() without a promise, for records whose schemas are known (nearly all of them): a batch
   * of thousands of records then costs no microtask each. undefined: a schema must be looked up.
   */
  tryDecode(topic: string, partition: number, offset: string, keyBytes: Buffer | null, valueBytes: Buffer | null): SinkChange | null | undefined {
    if (this.flat) return this.tryDecodeFlat(topic, partition, offset, keyBytes, valueBytes);
    if (valueBytes === null || valueBytes.length === 0) return null;
    let value: Decoded | undefined;
    try {
      value = this.decodeKnown(valueBytes, 'value');
    } catch (error) {
      throw transientDecodeError(error) ? error : new RecordDecodeError('value', error);
    }
    if (value === undefined) return undefined;
    if (!value.value || !value.layout) return null;
    const envelope = value.value;
    const op = envelope.op;
    if (typeof op !== 'string' || !OPS.has(op)) return null;
    // a truncate's key (if any) names no row
    const known = this.knownKey(op === 't' ? null : keyBytes);
    if (known === undefined) return undefined;
    const { keyFields, key } = known;
    const source = (envelope.source ?? {}) as Record<string, unknown>;
    const fields = value.layout;
    const rowObject = (op === 'd' ? envelope.before : op === 't' ? null : envelope.after) as Record<string, unknown> | null | undefined;
    let row: unknown[] | null = null;
    if (rowObject) {
      row = new Array<unknown>(fields.length);
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]!;
        const v = rowObject[field.name];
        row[i] = v === undefined ? KEEP : op === 'u' && v !== null && field.unchanged(v) ? KEEP : v;
      }
    }
    const tsMs = source.ts_ms;
    return {
      op: op as ChangeOp,
      topic,
      partition,
      offset,
      source: { db: String(source.db ?? ''), schema: String(source.schema ?? ''), table: String(source.table ?? '') },
      keyFields,
      key,
      fields,
      row,
      sourceTsMs: tsMs === undefined || tsMs === null ? null : Number(tsMs),
    };
  }

  /** The record key's fields and values (null: no key, or not a struct); undefined when its writer schema is not known yet. */
  private knownKey(keyBytes: Buffer | null): { keyFields: FieldLayout[] | null; key: unknown[] | null } | undefined {
    if (keyBytes === null || keyBytes.length === 0) return { keyFields: null, key: null };
    let decodedKey: Decoded | undefined;
    try {
      decodedKey = this.decodeKnown(keyBytes, 'key');
    } catch (error) {
      throw transientDecodeError(error) ? error : new RecordDecodeError('key', error);
    }
    if (decodedKey === undefined) return undefined;
    if (!decodedKey.value || !decodedKey.layout) return { keyFields: null, key: null };
    const keyFields = decodedKey.layout;
    return { keyFields, key: keyFields.map((f) => decodedKey.value![f.name] ?? null) };
  }

  /**
   * A flat record: the value is the row (its layout read as a key's is: the record's own fields),
   * upserted; a tombstone deletes the key's row. No source block: the table's name comes from the
   * topic (table.name.format). undefined: a schema must be looked up.
   */
  private tryDecodeFlat(topic: string, partition: number, offset: string, keyBytes: Buffer | null, valueBytes: Buffer | null): SinkChange | null | undefined {
    const known = this.knownKey(keyBytes);
    if (known === undefined) return undefined;
    const { keyFields, key } = known;
    const base = { topic, partition, offset, source: { db: '', schema: '', table: '' }, keyFields, key, sourceTsMs: null };
    if (valueBytes === null || valueBytes.length === 0) return key ? { ...base, op: 'd', fields: [], row: null } : null;
    let value: Decoded | undefined;
    try {
      value = this.decodeKnown(valueBytes, 'key');
    } catch (error) {
      throw transientDecodeError(error) ? error : new RecordDecodeError('value', error);
    }
    if (value === undefined) return undefined;
    if (!value.value || !value.layout) return null;
    const fields = value.layout;
    const row = fields.map((f) => value.value![f.name] ?? null);
    return { ...base, op: 'c', fields, row };
  }

  /** The record's key or value; undefined when it is Avro whose writer schema is not known yet. */
  private decodeKnown(bytes: Buffer, part: 'key' | 'value'): Decoded | undefined {
    if (isConfluentFramed(bytes)) {
      if (!this.writers) throw new SinkRecordError('a record is Avro in the Confluent wire format but WALCAST_SCHEMA_REGISTRY_URL is not set');
      const id = bytes.readInt32BE(1);
      const writer = this.writers.known(id);
      if (!writer) return undefined;
      const body = bytes.subarray(5);
      let value: Record<string, unknown> | null;
      if (part === 'value') {
        let reader = this.readers.get(id);
        if (reader === undefined) this.readers.set(id, (reader = envelopeReader(writer.schema, writer.type)));
        value = (reader ? reader.type.fromBuffer(body, reader.resolver) : writer.type.fromBuffer(body)) as Record<string, unknown> | null;
      } else {
        value = writer.type.fromBuffer(body) as Record<string, unknown> | null;
      }
      return { value, layout: this.layoutFor(`avro:${id}`, writer.schema, part, 'avro') };
    }
    let parsed: unknown;
    try {
      parsed = parseJson(bytes.toString('utf8'));
    } catch {
      throw new SinkRecordError('a record is neither Avro in the Confluent wire format nor JSON');
    }
    if (typeof parsed !== 'object' || parsed === null) return { value: null, layout: null };
    const object = parsed as Record<string, unknown>;
    if ('schema' in object && 'payload' in object && typeof object.schema === 'object' && object.schema !== null) {
      const avro = connectToAvro(object.schema as ConnectSchema);
      return { value: object.payload as Record<string, unknown> | null, layout: this.layoutFor(`json:${JSON.stringify(object.schema)}`, avro, part, 'json') };
    }
    return { value: object, layout: this.schemalessLayout(object, part) };
  }

  private layoutFor(cacheKey: string, schema: unknown, part: 'key' | 'value', origin: ValueOrigin): FieldLayout[] | null {
    if (part === 'key') {
      let layout = this.keys.get(cacheKey);
      if (!layout) this.keys.set(cacheKey, (layout = keyLayout(schema, this.placeholder, origin)));
      return layout;
    }
    let envelope = this.envelopes.get(cacheKey);
    if (envelope === undefined) this.envelopes.set(cacheKey, (envelope = envelopeLayout(schema, this.placeholder, origin)));
    return envelope?.fields ?? null;
  }

  /** JSON without a schema: the fields of the row (or key) as they come, typed by their values. */
  private schemalessLayout(object: Record<string, unknown>, part: 'key' | 'value'): FieldLayout[] | null {
    const row = part === 'key' ? object : ((object.after ?? object.before) as Record<string, unknown> | null | undefined);
    if (part === 'value' && typeof object.op !== 'string') return null;
    if (!row) return [];
    const names = Object.keys(row);
    const cacheKey = `schemaless:${part}:${names.join('\u0000')}`;
    const cache = part === 'key' ? this.keys : this.envelopes;
    const known = cache.get(cacheKey);
    if (known) return Array.isArray(known) ? known : known.fields;
    const layout = names.map((name) => schemalessLayout(name, row[name], this.placeholder));
    if (part === 'key') this.keys.set(cacheKey, layout);
    else this.envelopes.set(cacheKey, { fields: layout });
    return layout;
  }
}
