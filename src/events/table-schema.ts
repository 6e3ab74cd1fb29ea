/**
 * The shape of one captured table at one point in time: its topic, columns with their codecs,
 * key columns, and the Debezium-compatible Avro schemas for key and envelope.
 */
import { createHash } from 'node:crypto';
import { codecFor, type AvroSchema, type CodecOptions, type ColumnCodec } from '../decode/codec.ts';
import type { PgColumn, PgType } from '../decode/pg-type.ts';
import { avroFullName, uniqueFieldNames } from './avro-names.ts';

export interface TableColumn {
  name: string;
  fieldName: string;
  typeName: string;
  codec: ColumnCodec;
  /** Published in its widened shape (codec.ts): a value needed it, now or in an earlier version. */
  widened: boolean;
}

/** What an encoder needs to know about the records of one topic. */
export interface EventSchema {
  topic: string;
  keyAvro: AvroSchema | null;
  envelopeAvro: AvroSchema;
  /** Changes whenever the Avro schemas change: new registrations are keyed by it. */
  fingerprint: string;
}

export interface TableSchema extends EventSchema {
  relationId: number;
  schema: string;
  table: string;
  columns: TableColumn[];
  /** Indexes into `columns` of the message key (the primary key); empty: null keys. */
  keyIndexes: number[];
}

export interface TableSchemaInput {
  topicPrefix: string;
  relationId: number;
  schema: string;
  table: string;
  columns: PgColumn[];
  primaryKey: string[];
  lookupType: (oid: number) => PgType | undefined;
  codecOptions?: Omit<CodecOptions, 'arrayDimensions' | 'widened'>;
  /** Field names (as in the Avro record) of columns published in their widened shape. */
  widenedFields?: ReadonlySet<string>;
}

export class UnknownTypeError extends Error {
  readonly code = 'WALCAST_UNKNOWN_TYPE';
  constructor(table: string, column: string, oid: number) {
    super(`${table}.${column}: type OID ${oid} is not in pg_type (dropped concurrently?)`);
    this.name = 'UnknownTypeError';
  }
}

export const SOURCE_SCHEMA = {
  type: 'record',
  name: 'Source',
  namespace: 'io.debezium.connector.postgresql',
  fields: [
    { name: 'version', type: 'string' },
    { name: 'connector', type: 'string' },
    { name: 'name', type: 'string' },
    { name: 'ts_ms', type: 'long' },
    {
      name: 'snapshot',
      type: [
        {
          type: 'string',
          'connect.version': 1,
          'connect.parameters': { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' },
          'connect.default': 'false',
          'connect.name': 'io.debezium.data.Enum',
        },
        'null',
      ],
      default: 'false',
    },
    { name: 'db', type: 'string' },
    { name: 'sequence', type: ['null', 'string'], default: null },
    { name: 'ts_us', type: ['null', 'long'], default: null },
    { name: 'ts_ns', type: ['null', 'long'], default: null },
    { name: 'schema', type: 'string' },
    { name: 'table', type: 'string' },
    { name: 'txId', type: ['null', 'long'], default: null },
    { name: 'lsn', type: ['null', 'long'], default: null },
    { name: 'xmin', type: ['null', 'long'], default: null },
  ],
  'connect.name': 'io.debezium.connector.postgresql.Source',
} as const;

export const TRANSACTION_BLOCK_SCHEMA = {
  type: 'record',
  name: 'block',
  namespace: 'event',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'total_order', type: 'long' },
    { name: 'data_collection_order', type: 'long' },
  ],
  'connect.version': 1,
  'connect.name': 'event.block',
} as const;

/**
 * Kafka topic names allow only [A-Za-z0-9._-]: other characters (spaces, quotes, unicode) become
 * `_`, as in Debezium's topic naming. Capitals, dots, dashes and underscores are kept.
 */
export function topicNamePart(identifier: string): string {
  // Per UTF-16 unit, as Debezium does: an emoji becomes two underscores.
  return identifier.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The topic of a table's change events (Kafka refuses topic names over 249 characters). */
export function tableTopic(topicPrefix: string, schema: string, table: string): string {
  return `${topicPrefix}.${topicNamePart(schema)}.${topicNamePart(table)}`.slice(0, 249);
}

/** A field's type: a value's branches, or ["null", ...branches] for a nullable field. */
function fieldType(codec: ColumnCodec, nullable: boolean): AvroSchema {
  if (nullable) return ['null', ...codec.avroBranches];
  return codec.avroBranches.length === 1 ? codec.avroBranches[0]! : [...codec.avroBranches];
}

function fingerprint(...schemas: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(schemas)).digest('hex').slice(0, 16);
}

export function buildTableSchema(input: TableSchemaInput): TableSchema {
  const qualified = `${input.schema}.${input.table}`;
  const fieldNames = uniqueFieldNames(input.columns.map((c) => c.name));
  const columns: TableColumn[] = input.columns.map((column, i) => {
    const type = input.lookupType(column.typeOid);
    if (!type) throw new UnknownTypeError(qualified, column.name, column.typeOid);
    const options: CodecOptions = { ...input.codecOptions };
    if (column.dimensions !== undefined && column.dimensions > 1) options.arrayDimensions = column.dimensions;
    const declared = codecFor(type, column.typeMod, input.lookupType, options);
    const codec = input.widenedFields?.has(fieldNames[i]!) ? declared.widened() : declared;
    return { name: column.name, fieldName: fieldNames[i]!, typeName: type.name, codec, widened: codec !== declared };
  });
  // The message key is the primary key, unless REPLICA IDENTITY USING INDEX names other columns:
  // then deletes carry only those, so they must be the key for every event of the table.
  const identity = input.columns.filter((c) => c.isKey).map((c) => c.name);
  const keyNames = identity.length === 0 || input.primaryKey.every((name) => identity.includes(name)) ? input.primaryKey : identity;
  const keyIndexes = keyNames
    .map((name) => columns.findIndex((c) => c.name === name))
    .filter((i) => i >= 0);

  const baseName = avroFullName(input.topicPrefix, input.schema, input.table);
  const keyAvro: AvroSchema | null =
    keyIndexes.length === 0
      ? null
      : {
          type: 'record',
          name: `${baseName}.Key`,
          fields: keyIndexes.map((i) => ({ name: columns[i]!.fieldName, type: fieldType(columns[i]!.codec, false) })),
          'connect.name': `${baseName}.Key`,
        };
  // Every value field is nullable with a null default: adding or dropping a column stays
  // BACKWARD compatible, and before-images under REPLICA IDENTITY DEFAULT carry only key columns.
  const valueAvro = {
    type: 'record',
    name: `${baseName}.Value`,
    fields: columns.map((c) => ({ name: c.fieldName, type: fieldType(c.codec, true), default: null })),
    'connect.name': `${baseName}.Value`,
  };
  const envelopeAvro: AvroSchema = {
    type: 'record',
    name: `${baseName}.Envelope`,
    fields: [
      { name: 'before', type: ['null', valueAvro], default: null },
      { name: 'after', type: ['null', `${baseName}.Value`], default: null },
      { name: 'source', type: SOURCE_SCHEMA },
      { name: 'transaction', type: ['null', TRANSACTION_BLOCK_SCHEMA], default: null },
      { name: 'op', type: 'string' },
      { name: 'ts_ms', type: ['null', 'long'], default: null },
      { name: 'ts_us', type: ['null', 'long'], default: null },
      { name: 'ts_ns', type: ['null', 'long'], default: null },
    ],
    'connect.version': 2,
    'connect.name': `${baseName}.Envelope`,
  };
  return {
    relationId: input.relationId,
    schema: input.schema,
    table: input.table,
    topic: tableTopic(input.topicPrefix, input.schema, input.table),
    columns,
    keyIndexes,
    keyAvro,
    envelopeAvro,
    fingerprint: fingerprint(keyAvro, envelopeAvro),
  };
}

/** Schemas of logical decoding messages (pg_logical_emit_message), Debezium's `<prefix>.message` topic. */
export function messageEventSchema(topicPrefix: string): EventSchema {
  const keyAvro = {
    type: 'record',
    name: 'MessageKey',
    namespace: 'io.debezium.connector.postgresql',
    fields: [{ name: 'prefix', type: ['null', 'string'], default: null }],
    'connect.name': 'io.debezium.connector.postgresql.MessageKey',
  };
  const envelopeAvro = {
    type: 'record',
    name: 'MessageValue',
    namespace: 'io.debezium.connector.postgresql',
    fields: [
      { name: 'op', type: 'string' },
      { name: 'ts_ms', type: ['null', 'long'], default: null },
      { name: 'source', type: SOURCE_SCHEMA },
      {
        name: 'message',
        type: {
          type: 'record',
          name: 'Message',
          namespace: 'io.debezium.connector.postgresql',
          fields: [
            { name: 'prefix', type: ['null', 'string'], default: null },
            { name: 'content', type: ['null', 'bytes'], default: null },
          ],
          'connect.name': 'io.debezium.connector.postgresql.Message',
        },
      },
    ],
    'connect.name': 'io.debezium.connector.postgresql.MessageValue',
  };
  return { topic: `${topicPrefix}.message`, keyAvro, envelopeAvro, fingerprint: fingerprint(keyAvro, envelopeAvro) };
}

/**
 * Fields published in their widened shape (codec.ts) by a registered version of a table's schemas
 * (JSON text of the envelope and of the key, either may be null). A widened shape, once
 * registered, must stay: a declared shape cannot read what the widened one wrote, so a later
 * version that went back would be refused under BACKWARD compatibility. Recognised by shape, not
 * by exact text, so a registry that reformats schemas changes nothing: a widened scalar is a union
 * of more than one non-null type, a widened array has a sub-array among its items' branches.
 */
export function widenedFieldsOf(envelopeJson: string | null, keyJson: string | null): Set<string> {
  const widened = new Set<string>();
  const fieldsOf = (record: unknown): Array<{ name: string; type: unknown }> => {
    const fields = (record as { fields?: unknown } | null)?.fields;
    return Array.isArray(fields) ? (fields as Array<{ name: string; type: unknown }>) : [];
  };
  const nonNull = (type: unknown): unknown[] => (Array.isArray(type) ? type.filter((t) => t !== 'null') : [type]);
  const isArrayType = (type: unknown): boolean => typeof type === 'object' && type !== null && (type as { type?: unknown }).type === 'array';
  const isWidened = (type: unknown): boolean => {
    const branches = nonNull(type);
    if (branches.length > 1) return true;
    const only = branches[0];
    if (!isArrayType(only)) return false;
    const items = (only as { items?: unknown }).items;
    return Array.isArray(items) && items.some(isArrayType);
  };
  if (envelopeJson !== null) {
    const envelope = JSON.parse(envelopeJson) as unknown;
    const before = fieldsOf(envelope).find((f) => f.name === 'before');
    const value = before ? nonNull(before.type).find((t) => typeof t === 'object') : undefined;
    for (const field of fieldsOf(value)) if (isWidened(field.type)) widened.add(field.name);
  }
  if (keyJson !== null) {
    for (const field of fieldsOf(JSON.parse(keyJson) as unknown)) if (isWidened(field.type)) widened.add(field.name);
  }
  return widened;
}
