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
  codecOptions?: Omit<CodecOptions, 'arrayDimensions'>;
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
    return { name: column.name, fieldName: fieldNames[i]!, typeName: type.name, codec: codecFor(type, column.typeMod, input.lookupType, options) };
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
          fields: keyIndexes.map((i) => ({ name: columns[i]!.fieldName, type: columns[i]!.codec.avroSchema })),
          'connect.name': `${baseName}.Key`,
        };
  // Every value field is nullable with a null default: adding or dropping a column stays
  // BACKWARD compatible, and before-images under REPLICA IDENTITY DEFAULT carry only key columns.
  const valueAvro = {
    type: 'record',
    name: `${baseName}.Value`,
    fields: columns.map((c) => ({ name: c.fieldName, type: ['null', c.codec.avroSchema], default: null })),
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
    // Kafka refuses topic names over 249 characters.
    topic: `${input.topicPrefix}.${topicNamePart(input.schema)}.${topicNamePart(input.table)}`.slice(0, 249),
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
