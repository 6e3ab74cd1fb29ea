/**
 * Kafka Connect's JsonConverter output for rows of a polled table, exactly as the JDBC source
 * connector's records come out of it: with schemas.enable=true the envelope
 * `{"schema": {"type":"struct","fields":[...],"optional":false,"name":"<table>"}, "payload": {...}}`,
 * with false the payload alone. Connect's logical types keep their JSON forms: Decimal as base64 of
 * the unscaled two's-complement value (or a number with decimal.format=NUMERIC), Date as days,
 * Time as milliseconds of the day, Timestamp as milliseconds since the epoch. 64-bit integers and
 * numeric digits are written exactly (JSON.rawJSON), never through a double.
 */

export type ConnectType = 'int8' | 'int16' | 'int32' | 'int64' | 'float32' | 'float64' | 'boolean' | 'string' | 'bytes';

/** How a field's value arrives from the polling query (source/poll/query.ts selects it so). */
export type ValueKind = 'number' | 'integer-text' | 'boolean' | 'string' | 'bytes' | 'decimal';

export interface ConnectField {
  field: string;
  type: ConnectType;
  optional: boolean;
  /** Logical type (org.apache.kafka.connect.data.Decimal, Date, Time, Timestamp). */
  name?: string;
  parameters?: Record<string, string>;
  kind: ValueKind;
  /** Decimal's scale. */
  scale?: number;
}

export interface ConnectJsonOptions {
  schemas: boolean;
  decimalFormat: 'BASE64' | 'NUMERIC';
}

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** The field's schema in JsonConverter's key order: type, optional, name, version, parameters, field. */
function fieldSchema(f: ConnectField): Record<string, unknown> {
  return {
    type: f.type,
    optional: f.optional,
    ...(f.name ? { name: f.name, version: 1 } : {}),
    ...(f.parameters ? { parameters: f.parameters } : {}),
    field: f.field,
  };
}

/** The struct schema of a table's records (named after the table, as the JDBC source names it). */
export function structSchema(name: string | null, fields: readonly ConnectField[]): Record<string, unknown> {
  // JsonConverter leaves out the name of a schema that has none (the JDBC connector's query mode).
  return { type: 'struct', fields: fields.map(fieldSchema), optional: false, ...(name === null ? {} : { name }) };
}

/** numeric text at `scale` as the unscaled integer: "12.3" at scale 2 -> 1230n. */
export function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  if (fraction.length > scale && /[1-9]/.test(fraction.slice(scale))) throw new RangeError(`${text} has more than ${scale} fraction digits`);
  const digits = BigInt(whole + fraction.slice(0, scale).padEnd(scale, '0'));
  return negative ? -digits : digits;
}

/** Java's BigInteger.toByteArray(): minimal big-endian two's complement. */
export function twosComplement(value: bigint): Buffer {
  let hex = (value < 0n ? -value : value).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (value >= 0n) return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  // Negate: invert and add one, then make sure the sign bit is set.
  bytes = Buffer.from(bytes.map((b) => ~b & 0xff));
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  if (!(bytes[0]! & 0x80)) bytes = Buffer.concat([Buffer.from([0xff]), bytes]);
  // Minimal form: drop redundant leading 0xff bytes.
  while (bytes.length > 1 && bytes[0] === 0xff && bytes[1]! & 0x80) bytes = bytes.subarray(1);
  return bytes;
}

function payloadValue(f: ConnectField, value: unknown, options: ConnectJsonOptions): unknown {
  if (value === null || value === undefined) return null;
  switch (f.kind) {
    case 'number':
      return typeof value === 'number' && !Number.isFinite(value) ? String(value) : Number(value);
    case 'integer-text':
      return rawJson(String(value));
    case 'boolean':
      return Boolean(value);
    case 'string':
      return String(value);
    case 'bytes':
      return (value as Buffer).toString('base64');
    case 'decimal': {
      const text = String(value);
      if (options.decimalFormat === 'NUMERIC') return rawJson(text);
      return twosComplement(unscaled(text, f.scale ?? 0)).toString('base64');
    }
  }
}

/** One row as JsonConverter writes it. `schema`: structSchema() of the table, built once. */
export function encodeRow(fields: readonly ConnectField[], schema: Record<string, unknown>, row: Record<string, unknown>, options: ConnectJsonOptions): Buffer {
  const payload: Record<string, unknown> = {};
  for (const f of fields) payload[f.field] = payloadValue(f, row[f.field], options);
  return Buffer.from(JSON.stringify(options.schemas ? { schema, payload } : payload));
}
