/**
 * Avro in the Confluent wire format: magic byte 0, the 4-byte schema id, then the Avro body
 * (encoded by avsc directly: the registry client's per-message encode is far slower).
 */
import avsc from 'avsc';
import type { ChangeEvent } from '../events/change-events.ts';
import type { EventSchema } from '../events/table-schema.ts';
import { avroTypeOptions } from './avro-logical-types.ts';
import type { EventEncoder } from './encoder.ts';
import type { SchemaRegistryClient } from './registry.ts';

interface PreparedSchema {
  keyType: avsc.Type | null;
  keyHeader: Buffer | null;
  valueType: avsc.Type;
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

  constructor(registry: SchemaRegistryClient) {
    this.registry = registry;
  }

  async prepare(schema: EventSchema): Promise<void> {
    const memoKey = `${schema.topic}\u0000${schema.fingerprint}`;
    if (this.prepared.has(memoKey)) return;
    const valueId = await this.registry.register(`${schema.topic}-value`, JSON.stringify(schema.envelopeAvro));
    const keyId = schema.keyAvro ? await this.registry.register(`${schema.topic}-key`, JSON.stringify(schema.keyAvro)) : null;
    this.prepared.set(memoKey, {
      keyType: schema.keyAvro ? avsc.Type.forSchema(schema.keyAvro as avsc.Schema, avroTypeOptions()) : null,
      keyHeader: keyId === null ? null : header(keyId),
      valueType: avsc.Type.forSchema(schema.envelopeAvro as avsc.Schema, avroTypeOptions()),
      valueHeader: header(valueId),
    });
  }

  private get(schema: EventSchema): PreparedSchema {
    const prepared = this.prepared.get(`${schema.topic}\u0000${schema.fingerprint}`);
    if (!prepared) throw new Error(`internal: schema for ${schema.topic} used before prepare()`);
    return prepared;
  }

  encodeKey(event: ChangeEvent): Buffer | null {
    if (event.key === null) return null;
    const prepared = this.get(event.schema);
    if (!prepared.keyType || !prepared.keyHeader) return null;
    return Buffer.concat([prepared.keyHeader, prepared.keyType.toBuffer(event.key)]);
  }

  encodeValue(event: ChangeEvent): Buffer | null {
    if (event.value === null) return null;
    const prepared = this.get(event.schema);
    return Buffer.concat([prepared.valueHeader, prepared.valueType.toBuffer(event.value)]);
  }
}
