/**
 * Avro writer types by registry schema id, for everything that reads walcast's (or any
 * Confluent-framed) records back: `walcast tail` and the sink. One lookup per id, shared by the
 * records that arrive while it is in flight; a failed lookup (registry restarting) is forgotten so
 * that the next record asks again instead of failing for the rest of the process.
 */
import avsc from 'avsc';
import { avroTypeOptions } from './avro-logical-types.ts';
import type { SchemaRegistryClient } from './registry.ts';

/** Confluent's wire format: magic byte 0, then the schema id (4 bytes, big-endian), then Avro. */
export function isConfluentFramed(bytes: Buffer): boolean {
  return bytes.length >= 5 && bytes[0] === 0;
}

export class WriterTypes {
  private readonly registry: SchemaRegistryClient;
  private readonly types = new Map<number, Promise<{ type: avsc.Type; schema: avsc.Schema }>>();
  /** The lookups that have completed: read without a promise per record. */
  private readonly resolved = new Map<number, { type: avsc.Type; schema: avsc.Schema }>();

  constructor(registry: SchemaRegistryClient) {
    this.registry = registry;
  }

  /** The writer type of a framed record and its schema as registered (annotations included). */
  forRecord(bytes: Buffer): Promise<{ type: avsc.Type; schema: avsc.Schema; id: number }> {
    const id = bytes.readInt32BE(1);
    return this.byId(id).then((found) => ({ ...found, id }));
  }

  /** The writer type of schema `id` when it is already known, else undefined (then ask byId). */
  known(id: number): { type: avsc.Type; schema: avsc.Schema } | undefined {
    return this.resolved.get(id);
  }

  byId(id: number): Promise<{ type: avsc.Type; schema: avsc.Schema }> {
    const known = this.types.get(id);
    if (known) return known;
    const lookup = this.registry.schemaById(id).then((text) => {
      const schema = JSON.parse(text) as avsc.Schema;
      const found = { schema, type: avsc.Type.forSchema(schema, avroTypeOptions()) };
      this.resolved.set(id, found);
      return found;
    });
    this.types.set(id, lookup);
    // The callers await `lookup` and see its error; this branch only forgets it (and is handled).
    lookup.catch(() => {
      if (this.types.get(id) === lookup) this.types.delete(id);
    });
    return lookup;
  }
}
