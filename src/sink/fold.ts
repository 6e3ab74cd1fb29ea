/**
 * Folds one table's changes from a batch (in offset order) into what one set-based statement per
 * kind applies: per key, the last change wins, so applying the result equals applying every
 * change one by one. A later update's unchanged TOAST values (KEEP) take the value an earlier
 * change of the batch gave the column; with none in the batch they keep the target's value. A
 * truncate ends a segment: what came before it is applied, then the table is truncated.
 * Pure: unit-tested without a database.
 */
import { KEEP, type FieldLayout } from './columns.ts';
import { SinkRecordError, type ChangeOp, type SinkChange } from './decode.ts';

export interface Upsert {
  kind: 'upsert';
  key: unknown[];
  fields: readonly FieldLayout[];
  values: unknown[];
  /** Some value is KEEP. */
  keeps: boolean;
}

export interface Delete {
  kind: 'delete';
  key: unknown[];
}

export type Entry = Upsert | Delete;

export interface RowsSegment {
  kind: 'rows';
  /** The key's fields (their names are the key columns). */
  keyFields: readonly FieldLayout[];
  entries: Entry[];
  /** Non-key columns of the upserts: every field any upsert carries, first seen first. */
  columns: FieldLayout[];
}

export type Segment = RowsSegment | { kind: 'truncate' };

export interface FoldOptions {
  /** Value fields that form the key (WALCAST_SINK_PRIMARY_KEY_FIELDS); empty: the record key. */
  primaryKeyFields: readonly string[];
  deleteEnabled: boolean;
  truncateEnabled: boolean;
}

export interface Folded {
  segments: Segment[];
  /** Changes by op, as received (before folding): what the metrics count as applied. */
  counts: Record<ChangeOp, number>;
}

function identityPart(value: unknown): string {
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `n${value}`;
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  if (value === null || value === undefined) return 'z';
  return `j${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
}

function identity(key: unknown[]): string {
  return key.length === 1 ? identityPart(key[0]) : key.map(identityPart).join('\u0000');
}

function where(change: SinkChange): string {
  return `${change.topic} partition ${change.partition} offset ${change.offset}`;
}

/** The key fields and values of a change: configured value fields, else the record key. */
function keyOf(change: SinkChange, options: FoldOptions): { fields: readonly FieldLayout[]; values: unknown[] } {
  if (options.primaryKeyFields.length > 0) {
    if (!change.row) throw new SinkRecordError(`${where(change)}: a ${change.op} without a row image cannot give WALCAST_SINK_PRIMARY_KEY_FIELDS`);
    const fields: FieldLayout[] = [];
    const values: unknown[] = [];
    for (const name of options.primaryKeyFields) {
      const i = change.fields.findIndex((f) => f.name === name);
      if (i < 0 || change.row[i] === null || change.row[i] === KEEP) {
        throw new SinkRecordError(`${where(change)}: key field ${name} (WALCAST_SINK_PRIMARY_KEY_FIELDS) is missing or null in the record's ${change.op === 'd' ? 'before' : 'after'} image`);
      }
      fields.push(change.fields[i]!);
      values.push(change.row[i]);
    }
    return { fields, values };
  }
  if (!change.keyFields || !change.key || change.keyFields.length === 0) {
    throw new SinkRecordError(
      `${where(change)}: the record has no key, so the sink cannot tell which row it changes: give the source table a primary key, or name the key's fields in WALCAST_SINK_PRIMARY_KEY_FIELDS`,
    );
  }
  return { fields: change.keyFields, values: change.key };
}

/** Changes of one target table, in offset order, to segments. */
export function fold(changes: readonly SinkChange[], options: FoldOptions): Folded {
  const counts: Record<ChangeOp, number> = { c: 0, u: 0, d: 0, r: 0, t: 0 };
  const segments: Segment[] = [];
  let entries = new Map<string, Entry>();
  let keyFields: readonly FieldLayout[] | null = null;
  const close = (): void => {
    if (entries.size > 0 && keyFields) segments.push({ kind: 'rows', keyFields, entries: [...entries.values()], columns: upsertColumns(entries.values(), keyFields) });
    entries = new Map();
  };
  for (const change of changes) {
    if (change.op === 't') {
      if (!options.truncateEnabled) continue;
      counts.t += 1;
      close();
      segments.push({ kind: 'truncate' });
      continue;
    }
    if (change.op === 'd' && !options.deleteEnabled) continue;
    counts[change.op] += 1;
    const key = keyOf(change, options);
    keyFields ??= key.fields;
    const id = identity(key.values);
    if (change.op === 'd') {
      entries.set(id, { kind: 'delete', key: key.values });
      continue;
    }
    const values = change.row ?? [];
    let keeps = false;
    for (const v of values) if (v === KEEP) keeps = true;
    const prior = entries.get(id);
    let merged = values;
    if (keeps && prior?.kind === 'upsert') {
      merged = values.slice();
      keeps = false;
      for (let i = 0; i < merged.length; i++) {
        if (merged[i] !== KEEP) continue;
        const j = prior.fields === change.fields ? i : prior.fields.findIndex((f) => f.name === change.fields[i]!.name);
        if (j >= 0) merged[i] = prior.values[j];
        if (merged[i] === KEEP) keeps = true;
      }
    }
    // Delete then insert: the map keeps insertion order of the first sighting, which does not matter (one entry per key).
    entries.set(id, { kind: 'upsert', key: key.values, fields: change.fields, values: merged, keeps });
  }
  close();
  return { segments, counts };
}

function upsertColumns(entries: Iterable<Entry>, keyFields: readonly FieldLayout[]): FieldLayout[] {
  const keyNames = new Set(keyFields.map((f) => f.name));
  const seenLayouts = new Set<readonly FieldLayout[]>();
  const columns = new Map<string, FieldLayout>();
  for (const entry of entries) {
    if (entry.kind !== 'upsert' || seenLayouts.has(entry.fields)) continue;
    seenLayouts.add(entry.fields);
    for (const field of entry.fields) if (!keyNames.has(field.name) && !columns.has(field.name)) columns.set(field.name, field);
  }
  return [...columns.values()];
}
