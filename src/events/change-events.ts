/**
 * Turns decoded pgoutput row messages into Debezium-shaped change events (envelope objects
 * ready for the encoder). Pure: no I/O, so every op and edge case is unit-testable.
 */
import { UNCHANGED_TOAST, type RawTuple, type TupleValue } from '../source/cdc/pgoutput.ts';
import type { EventSchema, TableSchema } from './table-schema.ts';
import { toastPlaceholder } from './toast-placeholder.ts';

export type Row = Record<string, unknown>;

export interface SourceBlock {
  version: string;
  connector: 'postgresql';
  name: string;
  ts_ms: number;
  snapshot: string | null;
  db: string;
  sequence: string | null;
  ts_us: number | null;
  ts_ns: bigint | null;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number | null;
  xmin: number | null;
}

export interface Envelope {
  before: Row | null;
  after: Row | null;
  source: SourceBlock;
  transaction: { id: string; total_order: number; data_collection_order: number } | null;
  op: 'c' | 'u' | 'd' | 'r' | 't';
  ts_ms: number | null;
  ts_us: number | null;
  ts_ns: bigint | null;
}

export interface ChangeEvent {
  schema: EventSchema;
  key: Row | null;
  /** null: a tombstone. */
  value: Envelope | Row | null;
}

/** The PostgreSQL transaction the events belong to. */
export interface TransactionContext {
  xid: number;
  commitTimeMicros: bigint;
  /** LSN of the commit record (pgoutput Begin's final LSN). */
  finalLsn: bigint;
  /** End LSN of the previous committed transaction, for Debezium's `source.sequence`. */
  previousCommitLsn: bigint | null;
  totalOrder: number;
  orderByTable: Map<number, number>;
}

export interface EventOptions {
  connectorName: string;
  database: string;
  version: string;
  tombstones: boolean;
  toastPlaceholder: string;
}

export class RowShapeError extends Error {
  readonly code = 'WALCAST_ROW_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'RowShapeError';
  }
}

/** Values every event of one transaction shares, computed once per transaction (hot path). */
export interface TransactionConstants {
  tx: TransactionContext;
  tsMs: number;
  tsUs: number;
  tsNs: bigint;
  id: string;
  sequencePrefix: string;
}

/**
 * A row change whose event is not built as objects: an encoder that writes Avro straight from
 * pgoutput's tuples (src/encode/avro-rows.ts) makes its records from this, with the same values
 * the event's fields would hold. Only the shapes that need no comparison of old and new values:
 * inserts, updates without an old tuple, deletes (each followed by a tombstone when enabled and the
 * table has a key).
 */
export interface RowChange {
  table: TableSchema;
  op: 'c' | 'u' | 'd';
  lsn: bigint;
  constants: TransactionConstants;
  totalOrder: number;
  dataCollectionOrder: number;
  /** The before-image (deletes) or the after-image (inserts, updates). */
  tuple: RawTuple;
  /** A tombstone follows (deletes, with tombstones on and a keyed table). */
  tombstone: boolean;
  options: EventOptions;
}

/**
 * A snapshot row whose op r event is not built as objects (src/encode/avro-rows.ts writes it from
 * the tuple), with the values ChangeEventBuilder.read() would give the event's fields.
 */
export interface RowRead {
  table: TableSchema;
  lsn: bigint;
  tuple: RawTuple;
  /** source.snapshot: Debezium's marker (first, true, last_in_data_collection, incremental...). */
  marker: string;
  readAtMs: number;
  options: EventOptions;
}

export class ChangeEventBuilder {
  readonly options: EventOptions;
  private constants: TransactionConstants | null = null;
  private nowMs = 0;
  private nowNs = 0n;

  constructor(options: EventOptions) {
    this.options = options;
  }

  private row(table: TableSchema, tuple: TupleValue[], fallback: TupleValue[] | null): Row {
    if (tuple.length !== table.columns.length) {
      throw new RowShapeError(
        `${table.schema}.${table.table}: row has ${tuple.length} columns but the relation has ${table.columns.length}`,
      );
    }
    const row: Row = {};
    for (let i = 0; i < tuple.length; i++) {
      const column = table.columns[i]!;
      let text = tuple[i]!;
      // The old tuple carries the value pgoutput left out: every column under REPLICA IDENTITY
      // FULL ('O'), the identity columns when one of them is stored out of line ('K').
      if (text === UNCHANGED_TOAST && fallback && typeof fallback[i] === 'string') text = fallback[i]!;
      row[column.fieldName] =
        text === null ? null
        : text === UNCHANGED_TOAST ? toastPlaceholder(column.codec.avroSchema, this.options.toastPlaceholder)
        : column.codec.fromText(text);
    }
    return row;
  }

  /** Only the key columns of a row (the rest null), as in before-images under REPLICA IDENTITY DEFAULT. */
  private key(table: TableSchema, row: Row): Row | null {
    if (table.keyIndexes.length === 0) return null;
    const key: Row = {};
    for (const i of table.keyIndexes) key[table.columns[i]!.fieldName] = row[table.columns[i]!.fieldName];
    return key;
  }

  /**
   * The RowChange of a row message whose image is `tuple` (insert, update without an old tuple,
   * delete), counted in the transaction's orders as envelope() counts an event; null when the
   * tuple does not match the table (the event path reports that) or a key column carries no text.
   */
  rowChange(table: TableSchema, tx: TransactionContext, lsn: bigint, op: 'c' | 'u' | 'd', tuple: RawTuple): RowChange | null {
    if (tuple.length !== table.columns.length) return null;
    for (const i of table.keyIndexes) if (tuple.spans[2 * i + 1]! < 0) return null;
    tx.totalOrder += 1;
    const tableOrder = (tx.orderByTable.get(table.relationId) ?? 0) + 1;
    tx.orderByTable.set(table.relationId, tableOrder);
    return {
      table,
      op,
      lsn,
      constants: this.transactionConstants(tx),
      totalOrder: tx.totalOrder,
      dataCollectionOrder: tableOrder,
      tuple,
      tombstone: op === 'd' && this.options.tombstones && table.keyIndexes.length > 0,
      options: this.options,
    };
  }

  transactionConstants(tx: TransactionContext): TransactionConstants {
    if (this.constants?.tx === tx) return this.constants;
    const commitMicros = Number(tx.commitTimeMicros);
    this.constants = {
      tx,
      tsMs: Math.floor(commitMicros / 1000),
      tsUs: commitMicros,
      tsNs: tx.commitTimeMicros * 1000n,
      id: `${tx.xid}:${tx.finalLsn}`,
      // Debezium's sequence: JSON ["<previous commit LSN>", "<event LSN>"], both decimal strings.
      sequencePrefix: tx.previousCommitLsn === null ? '[null,"' : `["${tx.previousCommitLsn}","`,
    };
    return this.constants;
  }

  /** Source block; without a transaction (non-transactional logical message) it is stamped now. */
  private source(tx: TransactionContext | null, schema: string, table: string, lsn: bigint): SourceBlock {
    const nowMicros = tx ? 0 : Date.now() * 1000;
    const constants = tx
      ? this.transactionConstants(tx)
      : { tsMs: Math.floor(nowMicros / 1000), tsUs: nowMicros, tsNs: BigInt(nowMicros) * 1000n, sequencePrefix: '[null,"' };
    return {
      version: this.options.version,
      connector: 'postgresql',
      name: this.options.connectorName,
      ts_ms: constants.tsMs,
      snapshot: 'false',
      db: this.options.database,
      sequence: `${constants.sequencePrefix}${lsn}"]`,
      ts_us: constants.tsUs,
      ts_ns: constants.tsNs,
      schema,
      table,
      txId: tx?.xid ?? null,
      lsn: Number(lsn),
      xmin: null,
    };
  }

  private envelope(
    table: TableSchema,
    tx: TransactionContext,
    lsn: bigint,
    op: Envelope['op'],
    before: Row | null,
    after: Row | null,
  ): Envelope {
    tx.totalOrder += 1;
    const tableOrder = (tx.orderByTable.get(table.relationId) ?? 0) + 1;
    tx.orderByTable.set(table.relationId, tableOrder);
    const nowMs = Date.now();
    if (nowMs !== this.nowMs) {
      this.nowMs = nowMs;
      this.nowNs = BigInt(nowMs) * 1_000_000n;
    }
    return {
      before,
      after,
      source: this.source(tx, table.schema, table.table, lsn),
      transaction: { id: this.transactionConstants(tx).id, total_order: tx.totalOrder, data_collection_order: tableOrder },
      op,
      ts_ms: nowMs,
      ts_us: nowMs * 1000,
      ts_ns: this.nowNs,
    };
  }

  insert(table: TableSchema, tx: TransactionContext, lsn: bigint, newTuple: TupleValue[]): ChangeEvent[] {
    const after = this.row(table, newTuple, null);
    return [{ schema: table, key: this.key(table, after), value: this.envelope(table, tx, lsn, 'c', null, after) }];
  }

  update(
    table: TableSchema,
    tx: TransactionContext,
    lsn: bigint,
    oldTuple: TupleValue[] | null,
    oldKind: 'K' | 'O' | null,
    newTuple: TupleValue[],
  ): ChangeEvent[] {
    const before = oldTuple ? this.row(table, oldTuple, null) : null;
    const after = this.row(table, newTuple, oldTuple);
    const newKey = this.key(table, after);
    const oldKey = before ? this.key(table, before) : null;
    const keyChanged =
      oldKey !== null && newKey !== null && table.keyIndexes.some((i) => !sameValue(oldKey[table.columns[i]!.fieldName], newKey[table.columns[i]!.fieldName]));
    if (!keyChanged) {
      return [{ schema: table, key: newKey, value: this.envelope(table, tx, lsn, 'u', before, after) }];
    }
    // Debezium's convention for a primary-key change: delete (+ tombstone) of the old key, create of the new.
    const events: ChangeEvent[] = [{ schema: table, key: oldKey, value: this.envelope(table, tx, lsn, 'd', before, null) }];
    if (this.options.tombstones) events.push({ schema: table, key: oldKey, value: null });
    events.push({ schema: table, key: newKey, value: this.envelope(table, tx, lsn, 'c', null, after) });
    return events;
  }

  delete(table: TableSchema, tx: TransactionContext, lsn: bigint, oldTuple: TupleValue[]): ChangeEvent[] {
    const before = this.row(table, oldTuple, null);
    const key = this.key(table, before);
    const events: ChangeEvent[] = [{ schema: table, key, value: this.envelope(table, tx, lsn, 'd', before, null) }];
    // A tombstone needs a key to mean anything to compaction.
    if (this.options.tombstones && key !== null) events.push({ schema: table, key, value: null });
    return events;
  }

  /**
   * A row read by a snapshot (op r): no transaction block; `marker` is Debezium's source.snapshot
   * value (first, first_in_data_collection, true, last_in_data_collection, last); `readAtMs` is
   * when the chunk was read, `lsn` the position of the chunk in the stream.
   */
  /** As read(), for the encoders that write from the tuple; null when the tuple does not fit the table. */
  rowRead(table: TableSchema, lsn: bigint, tuple: RawTuple, marker: string, readAtMs: number): RowRead | null {
    if (tuple.length !== table.columns.length) return null;
    return { table, lsn, tuple, marker, readAtMs, options: this.options };
  }

  read(table: TableSchema, lsn: bigint, tuple: TupleValue[], marker: string, readAtMs: number): ChangeEvent {
    const after = this.row(table, tuple, null);
    const readAtMicros = readAtMs * 1000;
    const source: SourceBlock = {
      version: this.options.version,
      connector: 'postgresql',
      name: this.options.connectorName,
      ts_ms: readAtMs,
      snapshot: marker,
      db: this.options.database,
      sequence: `[null,"${lsn}"]`,
      ts_us: readAtMicros,
      ts_ns: BigInt(readAtMicros) * 1000n,
      schema: table.schema,
      table: table.table,
      txId: null,
      lsn: Number(lsn),
      xmin: null,
    };
    const nowMs = Date.now();
    const value: Envelope = { before: null, after, source, transaction: null, op: 'r', ts_ms: nowMs, ts_us: nowMs * 1000, ts_ns: BigInt(nowMs) * 1_000_000n };
    return { schema: table, key: this.key(table, after), value };
  }

  truncate(table: TableSchema, tx: TransactionContext, lsn: bigint): ChangeEvent[] {
    return [{ schema: table, key: null, value: this.envelope(table, tx, lsn, 't', null, null) }];
  }

  message(
    schema: EventSchema,
    tx: TransactionContext | null,
    lsn: bigint,
    prefix: string,
    content: Buffer,
  ): ChangeEvent {
    const source = this.source(tx, '', '', lsn);
    return { schema, key: { prefix }, value: { op: 'm', ts_ms: Date.now(), source, message: { prefix, content } } };
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ===
      JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
  return false;
}
