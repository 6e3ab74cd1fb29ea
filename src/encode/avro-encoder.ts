/**
 * Avro in the Confluent wire format: magic byte 0, the 4-byte schema id, then the Avro body
 * (encoded by avsc directly: the registry client's per-message encode is far slower).
 */
import avsc from 'avsc';
import type { ChangeEvent } from '../events/change-events.ts';
import { widenedFieldsOf, type EventSchema } from '../events/table-schema.ts';
import { avroTypeOptions } from './avro-logical-types.ts';
import { AvroOut, avroWriter, type AvroWrite } from './avro-writer.ts';
import type { EventEncoder } from './encoder.ts';
import type { SchemaRegistryClient } from './registry.ts';

interface PreparedSchema {
  keyWrite: AvroWrite | null;
  keyHeader: Buffer | null;
  valueWrite: AvroWrite;
  valueHeader: Buffer;
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
  /** Header and body are encoded here, then copied out once (toBuffer + concat copied twice). */
  private readonly out = new AvroOut(64 * 1024);

  constructor(registry: SchemaRegistryClient) {
    this.registry = registry;
  }

  async prepare(schema: EventSchema): Promise<void> {
    const memoKey = `${schema.topic}\u0000${schema.fingerprint}`;
    if (this.prepared.has(memoKey)) return;
    const valueId = await this.registry.register(`${schema.topic}-value`, JSON.stringify(schema.envelopeAvro));
    const keyId = schema.keyAvro ? await this.registry.register(`${schema.topic}-key`, JSON.stringify(schema.keyAvro)) : null;
    this.prepared.set(memoKey, {
      keyWrite: schema.keyAvro ? avroWriter(avsc.Type.forSchema(schema.keyAvro as avsc.Schema, avroTypeOptions())) : null,
      keyHeader: keyId === null ? null : header(keyId),
      valueWrite: avroWriter(avsc.Type.forSchema(schema.envelopeAvro as avsc.Schema, avroTypeOptions())),
      valueHeader: header(valueId),
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
    out.pos = 0;
    out.ensure(header.length);
    header.copy(out.buf, 0);
    out.pos = header.length;
    write(out, value);
    return out.take();
  }

  encodeKey(event: ChangeEvent): Buffer | null {
    if (event.key === null) return null;
    const prepared = this.get(event.schema);
    if (!prepared.keyWrite || !prepared.keyHeader) return null;
    return this.encode(prepared.keyWrite, prepared.keyHeader, event.key);
  }

  encodeValue(event: ChangeEvent): Buffer | null {
    if (event.value === null) return null;
    const prepared = this.get(event.schema);
    return this.encode(prepared.valueWrite, prepared.valueHeader, event.value);
  }
}
