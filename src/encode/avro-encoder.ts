/**
 * Avro in the Confluent wire format: magic byte 0, the 4-byte schema id, then the Avro body
 * (encoded by avsc directly: the registry client's per-message encode is far slower).
 */
import avsc from 'avsc';
import type { ChangeEvent, RowChange, RowRead } from '../events/change-events.ts';
import { widenedFieldsOf, type EventSchema, type TableSchema } from '../events/table-schema.ts';
import { avroTypeOptions } from './avro-logical-types.ts';
import { AvroRowWriter, type RowRecordSink } from './avro-rows.ts';
import { AvroOut, avroWriter, type AvroWrite } from './avro-writer.ts';
import type { EventEncoder } from './encoder.ts';
import type { SchemaRegistryClient } from './registry.ts';

interface PreparedSchema {
  keyWrite: AvroWrite | null;
  keyHeader: Buffer | null;
  valueWrite: AvroWrite;
  valueHeader: Buffer;
  /** A table's events straight from its tuples (avro-rows.ts); null for other schemas. */
  rows: AvroRowWriter | null;
}

function isTable(schema: EventSchema): schema is TableSchema {
  return Array.isArray((schema as TableSchema).columns);
}

function header(id: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt8(0, 0);
  b.writeInt32BE(id, 1);
  return b;
}

export class AvroEncoder implements EventEncoder {
  private readonly registry: SchemaRegistryClient;
  private readonly prepared = new Map<string, PreparedSchema>();
  /** Per schema object: the hot path's lookup without building a string key per event. */
  private readonly bySchema = new WeakMap<EventSchema, PreparedSchema>();
  /**
   * Header and body are encoded here, and each record handed out as a view of it (AvroOut's
   * arena: no copy per record; toBuffer + concat copied twice).
   */
  private readonly out = new AvroOut(256 * 1024);

  constructor(registry: SchemaRegistryClient) {
    this.registry = registry;
  }

  async prepare(schema: EventSchema): Promise<void> {
    const memoKey = `${schema.topic}\u0000${schema.fingerprint}`;
    if (this.prepared.has(memoKey)) return;
    const valueId = await this.registry.register(`${schema.topic}-value`, JSON.stringify(schema.envelopeAvro));
    const keyId = schema.keyAvro ? await this.registry.register(`${schema.topic}-key`, JSON.stringify(schema.keyAvro)) : null;
    const keyType = schema.keyAvro ? avsc.Type.forSchema(schema.keyAvro as avsc.Schema, avroTypeOptions()) : null;
    const valueType = avsc.Type.forSchema(schema.envelopeAvro as avsc.Schema, avroTypeOptions());
    const keyHeader = keyId === null ? null : header(keyId);
    const valueHeader = header(valueId);
    this.prepared.set(memoKey, {
      keyWrite: keyType ? avroWriter(keyType) : null,
      keyHeader,
      valueWrite: avroWriter(valueType),
      valueHeader,
      rows: isTable(schema) ? AvroRowWriter.compile(schema, valueType, keyType, valueHeader, keyHeader) : null,
    });
  }

  async widenedFields(topic: string): Promise<ReadonlySet<string>> {
    const [value, key] = await Promise.all([this.registry.latestSchema(`${topic}-value`), this.registry.latestSchema(`${topic}-key`)]);
    return widenedFieldsOf(value, key);
  }

  private get(schema: EventSchema): PreparedSchema {
    let prepared = this.bySchema.get(schema);
    if (!prepared) {
      prepared = this.prepared.get(`${schema.topic}\u0000${schema.fingerprint}`);
      if (!prepared) throw new Error(`internal: schema for ${schema.topic} used before prepare()`);
      this.bySchema.set(schema, prepared);
    }
    return prepared;
  }

  private encode(write: AvroWrite, header: Buffer, value: unknown): Buffer {
    const { out } = this;
    out.begin();
    try {
      out.ensure(header.length);
      header.copy(out.buf, out.pos);
      out.pos += header.length;
      write(out, value);
    } catch (error) {
      // a value the writer refused: its partial bytes are not a record
      out.abandon();
      throw error;
    }
    return out.claim();
  }

  encodeKey(event: ChangeEvent): Buffer | null {
    if (event.key === null) return null;
    const prepared = this.get(event.schema);
    if (!prepared.keyWrite || !prepared.keyHeader) return null;
    return this.encode(prepared.keyWrite, prepared.keyHeader, event.key);
  }

  /** Can encodeRow() the table's changes (its schema prepared, and of the shape avro-rows.ts writes). */
  encodesRows(table: TableSchema): boolean {
    return this.get(table).rows !== null;
  }

  /** A row change's records (the event, then its tombstone), as encodeKey/encodeValue would make them. */
  encodeRow(change: RowChange, sink: RowRecordSink): void {
    this.get(change.table).rows!.write(this.out, change, sink);
  }

  /** A snapshot row's records (its op r event), as encodeKey/encodeValue would make them. */
  encodeRead(read: RowRead, sink: RowRecordSink): void {
    this.get(read.table).rows!.writeRead(this.out, read, sink);
  }

  encodeValue(event: ChangeEvent): Buffer | null {
    if (event.value === null) return null;
    const prepared = this.get(event.schema);
    return this.encode(prepared.valueWrite, prepared.valueHeader, event.value);
  }
}
