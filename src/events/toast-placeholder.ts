/**
 * Debezium's unavailable-value placeholder for an unchanged TOAST value (an update under REPLICA
 * IDENTITY DEFAULT does not carry it), in the shape the column's type can hold, as Debezium's
 * PostgreSQL connector gives it (its UnchangedToastedPlaceholder): the text; its UTF-8 bytes for
 * bytea; a one-element list for text-like arrays and bytea[]; the placeholder's bytes as numbers
 * for integer, bigint and date arrays; for uuid[] the name-based (version 3) UUID of its bytes; for
 * an hstore map, the placeholder as key and value. Consumers and sinks recognise it by these
 * shapes (walcast's sink does: src/sink/columns.ts), so every shape must be Debezium's exactly.
 */
import { createHash } from 'node:crypto';
import type { AvroSchema } from '../decode/codec.ts';

function baseType(schema: AvroSchema): AvroSchema {
  return typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? (schema as { type: AvroSchema }).type : schema;
}

function property(schema: AvroSchema, name: string): unknown {
  return typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? (schema as Record<string, unknown>)[name] : undefined;
}

/** The non-null branch of a ["null", X] union, or the schema itself. */
function nonNull(schema: AvroSchema | undefined): AvroSchema | undefined {
  return Array.isArray(schema) ? schema.find((t) => t !== 'null') : schema;
}

/** Java's UUID.nameUUIDFromBytes: MD5, version 3, IETF variant. */
export function nameUuidFromBytes(bytes: Buffer): string {
  const md5 = createHash('md5').update(bytes).digest();
  md5[6] = (md5[6]! & 0x0f) | 0x30;
  md5[8] = (md5[8]! & 0x3f) | 0x80;
  const hex = md5.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The placeholder as the value of a column of Avro type `schema`; null where no shape exists (Debezium's null too). */
export function toastPlaceholder(schema: AvroSchema, placeholder: string): unknown {
  const type = baseType(schema);
  const bytes = Buffer.from(placeholder);
  if (type === 'string') return placeholder;
  if (type === 'bytes' && property(schema, 'logicalType') === undefined) return bytes;
  if (type === 'map' && baseType(nonNull(property(schema, 'values') as AvroSchema) ?? 'null') === 'string') return { [placeholder]: placeholder };
  if (type !== 'array') return null;
  const element = nonNull(property(schema, 'items') as AvroSchema | undefined);
  if (element === undefined) return null;
  const elementType = baseType(element);
  if (elementType === 'string') return [property(element, 'connect.name') === 'io.debezium.data.Uuid' ? nameUuidFromBytes(bytes) : placeholder];
  if (elementType === 'bytes' && property(element, 'logicalType') === undefined) return [bytes];
  // Java's bytes are signed: (int) b
  if (elementType === 'int' || elementType === 'long') return [...bytes].map((b) => (b << 24) >> 24);
  return null;
}
