import type { ChangeEvent, RowChange, RowRead } from '../events/change-events.ts';
import type { EventSchema, TableSchema } from '../events/table-schema.ts';
import type { RowRecordSink } from './avro-rows.ts';

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
  /**
   * Encoders that write a table's row changes straight from pgoutput's tuples (no event objects)
   * have these two: whether `table` (prepared) can be encoded so, and the records of one change
   * (the event, then its tombstone), byte for byte what encodeKey/encodeValue give for the events
   * ChangeEventBuilder builds from the same message.
   */
  encodesRows?(table: TableSchema): boolean;
  encodeRow?(change: RowChange, sink: RowRecordSink): void;
  /** As encodeRow, for a snapshot row (its op r event, ChangeEventBuilder.read()'s). */
  encodeRead?(read: RowRead, sink: RowRecordSink): void;
}
