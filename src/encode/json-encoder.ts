/**
 * JSON keys and values, shaped like Kafka Connect's JsonConverter with schemas.enable=false:
 * the bare envelope. Values go through each column codec's toJson so bigints and bytes stay exact.
 */
import type { ChangeEvent, Row } from '../events/change-events.ts';
import type { EventSchema, TableColumn, TableSchema } from '../events/table-schema.ts';
import type { EventEncoder } from './encoder.ts';

function isTable(schema: EventSchema): schema is TableSchema {
  return 'columns' in schema;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

export class JsonEncoder implements EventEncoder {
  private readonly columnsByField = new WeakMap<TableSchema, Map<string, TableColumn>>();

  async prepare(): Promise<void> {}

  /** JSON carries no schema: a column widens afresh, at its first value that needs it. */
  async widenedFields(): Promise<ReadonlySet<string>> {
    return new Set();
  }

  private row(schema: EventSchema, row: Row | null): Row | null {
    if (row === null || !isTable(schema)) return row;
    let columns = this.columnsByField.get(schema);
    if (!columns) this.columnsByField.set(schema, (columns = new Map(schema.columns.map((c) => [c.fieldName, c]))));
    const out: Row = {};
    for (const [field, value] of Object.entries(row)) {
      const column = columns.get(field);
      out[field] = value === null || value === undefined || !column ? (value ?? null) : column.codec.toJson(value);
    }
    return out;
  }

  encodeKey(event: ChangeEvent): Buffer | null {
    if (event.key === null) return null;
    return Buffer.from(JSON.stringify(this.row(event.schema, event.key), replacer));
  }

  encodeValue(event: ChangeEvent): Buffer | null {
    if (event.value === null) return null;
    const value = event.value as Record<string, unknown>;
    if (!isTable(event.schema) || !('before' in value)) return Buffer.from(JSON.stringify(value, replacer));
    return Buffer.from(
      JSON.stringify({ ...value, before: this.row(event.schema, value.before as Row | null), after: this.row(event.schema, value.after as Row | null) }, replacer),
    );
  }
}
