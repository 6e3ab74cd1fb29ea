/**
 * pgoutput messages to change events: keeps the captured tables' shapes (from Relation messages)
 * and the transaction in progress, skips transactions already in Kafka, and builds Debezium's
 * events. Knows nothing of Kafka: the stream (stream.ts) decides batches and commits.
 */
import { ValueDecodeError } from '../../decode/errors.ts';
import { IncompatibleSchemaError } from '../../encode/registry.ts';
import { WalcastError } from '../../errors.ts';
import { ChangeEventBuilder, type ChangeEvent, type RowChange, type RowRead, type TransactionContext } from '../../events/change-events.ts';
import { buildTableSchema, messageEventSchema, tableTopic, type EventSchema, type TableColumn, type TableSchema } from '../../events/table-schema.ts';
import type { Logger } from '../../log.ts';
import { catalogRelation, type Catalog } from '../../pg/catalog.ts';
import type { Lsn } from '../../pg/lsn.ts';
import { selectsTable } from '../../pg/table-filter.ts';
import type { TableEventCounters, TableEventCounts } from '../../stats/table-events.ts';
import type { RowMessage } from './row-failures.ts';
import { isRawRow, type BeginMessage, type CommitMessage, type DeleteMessage, type InsertMessage, type LogicalMessage, type RawTuple, type RelationMessage, type TruncateMessage, type TupleValue, type UpdateMessage } from './pgoutput.ts';

export interface ChangeOptions {
  topicPrefix: string;
  database: string;
  version: string;
  tables: string[];
  tombstones: boolean;
  toastPlaceholder: string;
  decimalHandling: 'precise' | 'string';
  moneyFractionDigits: number;
  /** For the incompatible-schema error's curl command (credentials are removed). */
  registryUrl: string;
  catalog: Catalog;
  /** Makes a schema usable before its first event: creates the topic, registers the schema. */
  prepare(schema: EventSchema): Promise<void>;
  /** Fields a registered version of the topic's schemas publishes widened: they stay widened. */
  widenedFields(topic: string): Promise<ReadonlySet<string>>;
  /** Transactions whose commit record lies below this LSN are already in Kafka: skip them. */
  skipBelow: Lsn | null;
  /** Where row changes are counted by table and operation. */
  counters: TableEventCounters;
  /**
   * The encoder writes this table's row changes straight from their tuples (EventEncoder's
   * encodesRows): then row() gives RowChanges for the shapes that allow it instead of events.
   */
  encodesRows?: (table: TableSchema) => boolean;
  log: Logger;
}

/** A captured table's current shape, made usable (topic, registered schemas) at its first change. */
interface CapturedTable {
  table: TableSchema;
  /** The shape before the last Relation message, for the incompatible-schema error. */
  previous: TableSchema | null;
  /** Topic created and schemas registered for this shape. */
  ready: boolean;
  counts: TableEventCounts;
  /** What the shape is built from (Relation message, catalog details, widened fields). */
  state: RelationState;
  /** The shape for which the encoder was last asked whether it encodes rows, and its answer. */
  rawFor?: TableSchema;
  raw?: boolean;
}

/** What a table's schema is built from: its last Relation message, catalog details, widened fields. */
interface RelationState {
  message: Omit<RelationMessage, 'tag'>;
  primaryKey: string[];
  arrayDimensions: Map<string, number>;
  widened: Set<string>;
}

/** A column whose text the table's codec cannot decode (found after a row failed: rare path). */
export interface ColumnFailure {
  table: TableSchema;
  column: TableColumn;
  /** pgoutput's text of the value. */
  text: string;
  error: ValueDecodeError;
  /** The column's widened shape holds the value: widen the column and handle the row again. */
  widenable: boolean;
}

/** The registry refused the widened schema a value needs: that row cannot be published. */
export class WideningRefusedError extends WalcastError {
  readonly subject: string;
  constructor(table: TableSchema, column: TableColumn, cause: IncompatibleSchemaError, registryUrl: string) {
    super(
      'WALCAST_INCOMPATIBLE_SCHEMA',
      `column ${column.name} (${column.typeName}) of ${table.schema}.${table.table} holds a value its declared Avro type cannot (see docs/types.md, widened shapes), ` +
        `and the schema registry refused the widened version of ${cause.subject}: ${cause.message.replace(/^.*?incompatible: /, '')}. ` +
        `To let such values flow, allow the change for this subject: curl -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"BACKWARD"}' ${registryBase(registryUrl)}/config/${encodeURIComponent(cause.subject)}`,
      cause.exitCode,
      { cause },
    );
    this.name = 'WideningRefusedError';
    this.subject = cause.subject;
  }
}

function registryBase(registryUrl: string): string {
  return registryUrl.replace(/\/+$/, '').replace(/\/\/[^@/]*@/, '//');
}

export class ChangeTranslator {
  private readonly options: ChangeOptions;
  private readonly builder: ChangeEventBuilder;
  private readonly messageSchema: EventSchema;
  private readonly tables = new Map<number, CapturedTable | null>();
  private tx: TransactionContext | null = null;
  private previousCommitLsn: Lsn | null = null;
  /** tx.totalOrder before the row in progress: rewound when that row fails (rewindRow). */
  private rowOrderMark = 0;
  /** The counters the row in progress was counted in, once its events are built (uncounted by rewindRow). */
  private rowCounted: TableEventCounts | null = null;
  /** The transaction in progress is already in Kafka. */
  skipping = false;

  constructor(options: ChangeOptions) {
    this.options = options;
    this.builder = new ChangeEventBuilder({
      connectorName: options.topicPrefix,
      database: options.database,
      version: options.version,
      tombstones: options.tombstones,
      toastPlaceholder: options.toastPlaceholder,
    });
    this.messageSchema = messageEventSchema(options.topicPrefix);
  }

  /** A PostgreSQL transaction is in progress (between Begin and Commit). */
  get inTransaction(): boolean {
    return this.tx !== null;
  }

  get xid(): number | null {
    return this.tx?.xid ?? null;
  }

  /** Tables whose changes have been published so far (for the status API). */
  get capturedTables(): number {
    let count = 0;
    for (const captured of this.tables.values()) if (captured?.ready) count += 1;
    return count;
  }

  begin(message: BeginMessage): void {
    this.skipping = this.options.skipBelow !== null && message.finalLsn < this.options.skipBelow;
    this.tx = {
      xid: message.xid,
      commitTimeMicros: message.commitTimeMicros,
      finalLsn: message.finalLsn,
      previousCommitLsn: this.previousCommitLsn,
      totalOrder: 0,
      orderByTable: new Map(),
    };
  }

  /** Ends the transaction; `skipped` when it was already in Kafka. */
  commit(message: CommitMessage): { xid: number | null; skipped: boolean } {
    this.previousCommitLsn = message.endLsn;
    const xid = this.tx?.xid ?? null;
    const skipped = this.skipping;
    this.tx = null;
    this.skipping = false;
    return { xid, skipped };
  }

  /**
   * Events of a row change; null when the transaction is skipped or the table not captured. Hot
   * path: synchronous, except for a table's first change after a new shape, which waits for its
   * topic and schema registration.
   */
  row(lsn: Lsn, message: InsertMessage | UpdateMessage | DeleteMessage): ChangeEvent[] | RowChange | null | Promise<ChangeEvent[] | RowChange | null> {
    const captured = this.capturedFor(message.relationId);
    if (this.skipping || !captured) return null;
    if (!captured.ready) return this.prepare(captured).then(() => this.rowEvents(captured, lsn, message));
    return this.rowEvents(captured, lsn, message);
  }

  /** Counted once built: a row that fails to build is not counted, one rewound (rewindRow) is uncounted. */
  private rowEvents(captured: CapturedTable, lsn: Lsn, message: InsertMessage | UpdateMessage | DeleteMessage): ChangeEvent[] | RowChange {
    const { table, counts } = captured;
    const tx = this.requireTx();
    this.rowOrderMark = tx.totalOrder;
    this.rowCounted = null;
    if (isRawRow(message) && this.encodesRows(captured)) {
      // Inserts, updates without an old tuple and deletes need no comparison of old and new values:
      // the encoder writes them from the tuple (src/encode/avro-rows.ts).
      const op = message.tag === 'insert' ? 'c' : message.tag === 'update' ? 'u' : 'd';
      const tuple: RawTuple | null = message.tag === 'delete' ? message.oldRaw : message.tag === 'update' && message.oldRaw !== null ? null : message.newRaw;
      const change = tuple ? this.builder.rowChange(table, tx, lsn, op, tuple) : null;
      if (change) {
        counts.count(op);
        this.rowCounted = counts;
        return change;
      }
    }
    let events: ChangeEvent[];
    switch (message.tag) {
      case 'insert':
        events = this.builder.insert(table, tx, lsn, message.newTuple);
        counts.count('c');
        break;
      case 'update':
        events = this.builder.update(table, tx, lsn, message.oldTuple, message.oldTupleKind, message.newTuple);
        counts.count('u');
        break;
      case 'delete':
        events = this.builder.delete(table, tx, lsn, message.oldTuple);
        counts.count('d');
        break;
    }
    this.rowCounted = counts;
    return events;
  }

  private encodesRows(captured: CapturedTable): boolean {
    if (captured.rawFor !== captured.table) {
      captured.rawFor = captured.table;
      captured.raw = this.options.encodesRows?.(captured.table) ?? false;
    }
    return captured.raw === true;
  }

  /**
   * Forgets the events the last row() built (its row failed and is handled again or dead-lettered),
   * so that the transaction's total_order and data_collection_order stay gapless, and the row's
   * count with them.
   */
  rewindRow(message: InsertMessage | UpdateMessage | DeleteMessage): void {
    const counts = this.rowCounted;
    this.rowCounted = null;
    const op = message.tag === 'insert' ? 'c' : message.tag === 'update' ? 'u' : 'd';
    if (counts && counts.pending[op] > 0) counts.pending[op] -= 1;
    const tx = this.tx;
    if (!tx) return;
    const built = tx.totalOrder - this.rowOrderMark;
    if (built <= 0) return;
    const { relationId } = message;
    tx.totalOrder = this.rowOrderMark;
    tx.orderByTable.set(relationId, (tx.orderByTable.get(relationId) ?? built) - built);
  }

  /** The captured table of a relation, or null when it is not captured. */
  table(relationId: number): TableSchema | null {
    return this.tables.get(relationId)?.table ?? null;
  }

  /**
   * After a row failed: the first column whose text its codec refuses, or null when every value
   * decodes (the failure lies elsewhere: encoding, size).
   */
  diagnoseRow(message: RowMessage): ColumnFailure | null {
    const table = this.tables.get(message.relationId)?.table;
    if (!table) return null;
    const tuples = message.tag === 'insert' || message.tag === 'read' ? [message.newTuple] : message.tag === 'update' ? [message.oldTuple, message.newTuple] : [message.oldTuple];
    for (const tuple of tuples) {
      if (!tuple) continue;
      for (let i = 0; i < tuple.length && i < table.columns.length; i++) {
        const text = tuple[i];
        if (typeof text !== 'string') continue;
        const column = table.columns[i]!;
        try {
          column.codec.fromText(text);
        } catch (error) {
          if (!(error instanceof ValueDecodeError)) throw error;
          const wide = column.codec.widened();
          let widenable = false;
          if (wide !== column.codec) {
            try {
              wide.fromText(text);
              widenable = true;
            } catch {
              // malformed for the widened shape too: a decode error, not a shape to widen
            }
          }
          return { table, column, text, error, widenable };
        }
      }
    }
    return null;
  }

  /**
   * Publishes a column in its widened shape from now on (a value needed it): registers the table's
   * new schema version before the row is handled again. Throws WideningRefusedError when the
   * registry refuses that version.
   */
  async widen(relationId: number, column: TableColumn): Promise<void> {
    const captured = this.tables.get(relationId);
    if (!captured) throw new Error(`internal: widening a column of relation ${relationId}, which is not captured`);
    const { state } = captured;
    const previous = captured.table;
    state.widened.add(column.fieldName);
    const table = this.buildTable(relationId, state);
    try {
      await this.options.prepare(table);
    } catch (error) {
      state.widened.delete(column.fieldName);
      if (error instanceof IncompatibleSchemaError) throw new WideningRefusedError(previous, column, error, this.options.registryUrl);
      throw error;
    }
    captured.table = table;
    captured.previous = previous;
    captured.ready = true;
    this.options.log.warn(
      { table: `${table.schema}.${table.table}`, column: column.name, type: column.typeName, topic: table.topic },
      'a value needs the column\'s widened shape (docs/types.md): new schema version registered; the column keeps it from now on',
    );
  }

  async truncate(lsn: Lsn, message: TruncateMessage): Promise<ChangeEvent[]> {
    if (this.skipping) return [];
    const events: ChangeEvent[] = [];
    for (const relationId of message.relationIds) {
      const captured = this.capturedFor(relationId);
      if (!captured) continue;
      if (!captured.ready) await this.prepare(captured);
      captured.counts.count('t');
      events.push(...this.builder.truncate(captured.table, this.requireTx(), lsn));
    }
    return events;
  }

  /**
   * A logical decoding message. A non-transactional one arrives outside any transaction and is a
   * unit of its own: `unitEnd` is then its LSN.
   */
  async logicalMessage(message: LogicalMessage): Promise<{ events: ChangeEvent[]; unitEnd: Lsn | null }> {
    if (message.transactional) {
      if (this.skipping) return { events: [], unitEnd: null };
      await this.options.prepare(this.messageSchema);
      return { events: [this.builder.message(this.messageSchema, this.requireTx(), message.lsn, message.prefix, message.content)], unitEnd: null };
    }
    if (this.options.skipBelow !== null && message.lsn < this.options.skipBelow) return { events: [], unitEnd: null };
    await this.options.prepare(this.messageSchema);
    return { events: [this.builder.message(this.messageSchema, null, message.lsn, message.prefix, message.content)], unitEnd: message.lsn };
  }

  /**
   * A table's (new) shape. Its topic and schemas are made ready at its first change, not here:
   * PostgreSQL 15 also sends the Relation message of a partition whose rows are published
   * through its root (publish_via_partition_root), and such a partition gets no topic.
   */
  async relation(message: Omit<RelationMessage, 'tag'>): Promise<void> {
    const { options } = this;
    if (!selectsTable(options.tables, message.schema, message.table)) {
      this.tables.set(message.relationId, null);
      return;
    }
    const { catalog } = options;
    // Relation messages follow DDL: refresh type definitions (new enum labels, altered domains).
    await catalog.loadTypes(message.columns.map((c) => c.typeOid), true);
    const details = await catalog.relationDetails(message.relationId);
    // Widened shapes stay: those a registered version has, and those this session widened.
    const current = this.tables.get(message.relationId);
    const widened = new Set(await options.widenedFields(tableTopic(options.topicPrefix, message.schema, message.table)));
    for (const field of current?.state.widened ?? []) widened.add(field);
    const state: RelationState = { message, primaryKey: details.primaryKey, arrayDimensions: details.arrayDimensions, widened };
    const table = this.buildTable(message.relationId, state);
    if (current && current.table.fingerprint === table.fingerprint) {
      current.table = table;
      current.state = state;
      return;
    }
    this.tables.set(message.relationId, { table, previous: current?.table ?? null, ready: false, counts: options.counters.forTable(table.schema, table.table), state });
  }

  /** Creates the topic and registers the schemas of a shape, before its first event. */
  private async prepare(captured: CapturedTable): Promise<void> {
    const { table, previous } = captured;
    // A rejected version stops walcast here, with nothing of the current transaction committed or acknowledged.
    try {
      await this.options.prepare(table);
    } catch (error) {
      if (error instanceof IncompatibleSchemaError) throw incompatibleTableChange(error, table, previous, this.options.registryUrl);
      throw error;
    }
    if (previous && previous.fingerprint !== table.fingerprint) {
      this.options.log.info({ table: `${table.schema}.${table.table}`, topic: table.topic }, 'table shape changed: new schema version registered');
    }
    captured.ready = true;
  }

  private buildTable(relationId: number, state: RelationState): TableSchema {
    const { options } = this;
    const { message } = state;
    return buildTableSchema({
      topicPrefix: options.topicPrefix,
      relationId,
      schema: message.schema,
      table: message.table,
      columns: message.columns.map((c) => ({ ...c, dimensions: state.arrayDimensions.get(c.name) })),
      primaryKey: state.primaryKey,
      lookupType: options.catalog.lookup,
      codecOptions: { decimalHandling: options.decimalHandling, moneyFractionDigits: options.moneyFractionDigits },
      widenedFields: state.widened,
    });
  }

  /**
   * The shape of a table a snapshot reads: the stream's, or built from the catalog exactly as a
   * Relation message would build it (same columns, order and key flags, so the same schema).
   */
  async snapshotTable(relationId: number): Promise<TableSchema> {
    if (!this.tables.get(relationId)) await this.relation(await catalogRelation(this.options.catalog.client, relationId));
    const captured = this.tables.get(relationId);
    if (!captured) throw new Error(`internal: snapshot of relation ${relationId}, which the include list does not select`);
    if (!captured.ready) await this.prepare(captured);
    return captured.table;
  }

  /**
   * The text that identifies a row for snapshot reconciliation: its key columns' text, or the
   * whole row for a table without a key. null when the relation is not captured.
   */
  keyText(relationId: number, tuple: ReadonlyArray<TupleValue>): string | null {
    const table = this.tables.get(relationId)?.table;
    if (!table) return null;
    if (table.keyIndexes.length === 0) return JSON.stringify(tuple.map((v) => (typeof v === 'string' || v === null ? v : '\u0000toast')));
    return JSON.stringify(table.keyIndexes.map((i) => tuple[i] ?? null));
  }

  /** The relation is captured and has a primary key. */
  isKeyed(relationId: number): boolean {
    return (this.tables.get(relationId)?.table.keyIndexes.length ?? 0) > 0;
  }

  /**
   * A snapshot row for the encoder that writes it from its tuple, counted; null when the table's
   * events are built as objects (readEvents()).
   */
  readRow(table: TableSchema, lsn: Lsn, tuple: RawTuple, marker: string, readAtMs: number): RowRead | null {
    const captured = this.tables.get(table.relationId);
    if (!captured || captured.table !== table || !this.encodesRows(captured)) return null;
    const read = this.builder.rowRead(table, lsn, tuple, marker, readAtMs);
    if (read) captured.counts.count('r');
    return read;
  }

  /** Snapshot rows as op r events, row i with the snapshot marker markerOf(i). */
  readEvents(table: TableSchema, lsn: Lsn, rows: TupleValue[][], markerOf: (i: number) => string, readAtMs: number): ChangeEvent[] {
    // Counted once every row is built: a slice built again (a column widened for it) counts once.
    const events = rows.map((row, i) => this.builder.read(table, lsn, row, markerOf(i), readAtMs));
    const counts = this.tables.get(table.relationId)?.counts;
    if (counts) for (let i = 0; i < rows.length; i++) counts.count('r');
    return events;
  }

  /** A snapshot row readEvents() counted did not reach its change topic (it was dead-lettered). */
  uncountRead(relationId: number): void {
    const counts = this.tables.get(relationId)?.counts;
    if (counts && counts.pending.r > 0) counts.pending.r -= 1;
  }

  private requireTx(): TransactionContext {
    if (!this.tx) throw new Error('internal: row change outside a transaction');
    return this.tx;
  }

  private capturedFor(relationId: number): CapturedTable | null {
    const captured = this.tables.get(relationId);
    if (captured === undefined) throw new Error(`internal: row for relation ${relationId} before its Relation message`);
    return captured;
  }
}

/** Describes what changed in the table's shape, for the operator reading the error at 3 a.m. */
export function describeShapeChange(previous: TableSchema | null, next: TableSchema): string {
  if (!previous) return `current columns: ${next.columns.map((c) => `${c.name} ${c.typeName}`).join(', ')}`;
  const before = new Map(previous.columns.map((c) => [c.name, c.typeName]));
  const after = new Map(next.columns.map((c) => [c.name, c.typeName]));
  const changes: string[] = [];
  for (const [name, type] of after) {
    if (!before.has(name)) changes.push(`added ${name} ${type}`);
    else if (before.get(name) !== type) changes.push(`changed ${name} from ${before.get(name)} to ${type}`);
  }
  for (const [name, type] of before) if (!after.has(name)) changes.push(`dropped ${name} ${type}`);
  return changes.length > 0 ? changes.join('; ') : 'column types kept, annotations changed';
}

function incompatibleTableChange(error: IncompatibleSchemaError, table: TableSchema, previous: TableSchema | null, registryUrl: string): WalcastError {
  const subject = error.subject;
  const base = registryBase(registryUrl);
  return new WalcastError(
    'WALCAST_INCOMPATIBLE_SCHEMA',
    `table ${table.schema}.${table.table} changed shape (${describeShapeChange(previous, table)}) and the schema registry rejected ` +
      `the new version of ${subject} as incompatible: ${error.message.replace(/^.*?incompatible: /, '')}. ` +
      `Nothing after the last delivered transaction was acknowledged. Ways out: ` +
      `(1) allow it for this subject: curl -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"NONE"}' ${base}/config/${encodeURIComponent(subject)} ; ` +
      `(2) revert the DDL; (3) stop capturing the table (WALCAST_TABLES). Then restart walcast: it resumes from the last delivered transaction.`,
    error.exitCode,
    { cause: error },
  );
}
