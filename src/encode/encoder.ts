import type { ChangeEvent } from '../events/change-events.ts';
import type { EventSchema } from '../events/table-schema.ts';

/** Turns change events into Kafka key/value bytes (Avro with the registry, or JSON). */
export interface EventEncoder {
  /** Registers what `schema` needs before its first record is encoded; cached per fingerprint. */
  prepare(schema: EventSchema): Promise<void>;
  /**
   * Fields that a version of the topic's schemas already registered publishes in their widened
   * shape (events/table-schema.ts, widenedFieldsOf): they keep it. Empty without a registry.
   */
  widenedFields(topic: string): Promise<ReadonlySet<string>>;
  encodeKey(event: ChangeEvent): Buffer | null;
  encodeValue(event: ChangeEvent): Buffer | null;
}
