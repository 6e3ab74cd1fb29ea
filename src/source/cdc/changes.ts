/**
 * pgoutput messages to change events: keeps the captured tables' shapes (from Relation messages)
 * and the transaction in progress, skips transactions already in Kafka, and builds Debezium's
 * events. Knows nothing of Kafka: the stream (stream.ts) decides batches and commits.
 */
import { IncompatibleSchemaError } from '../../encode/registry.ts';
import { WalcastError } from '../../errors.ts';
import { ChangeEventBuilder, type ChangeEvent, type TransactionContext } from '../../events/change-events.ts';
import { buildTableSchema, messageEventSchema, type EventSchema, type TableSchema } from '../../events/table-schema.ts';
import type { Logger } from '../../log.ts';
import { catalogRelation, type Catalog } from '../../pg/catalog.ts';
import type { Lsn } from '../../pg/lsn.ts';
import { selectsTable } from '../../pg/table-filter.ts';
import type { TableEventCounters, TableEventCounts } from '../../stats/table-events.ts';
import type { BeginMessage, CommitMessage, DeleteMessage, InsertMessage, LogicalMessage, RelationMessage, TruncateMessage, TupleValue, UpdateMessage } from './pgoutput.ts';

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
  /** Transactions whose commit record lies below this LSN are already in Kafka: skip them. */
  skipBelow: Lsn | null;
  /** Where row changes are counted by table and operation. */
  counters: TableEventCounters;
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
}

export class ChangeTranslator {
  private readonly options: ChangeOptions;
  private readonly builder: ChangeEventBuilder;
  private readonly messageSchema: EventSchema;
  private readonly tables = new Map<number, CapturedTable | null>();
  private tx: TransactionContext | null = null;
  private previousCommitLsn: Lsn | null = null;
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
  row(lsn: Lsn, message: InsertMessage | UpdateMessage | DeleteMessage): ChangeEvent[] | null | Promise<ChangeEvent[] | null> {
    const captured = this.capturedFor(message.relationId);
    if (this.skipping || !captured) return null;
    if (!captured.ready) return this.prepare(captured).then(() => this.rowEvents(captured, lsn, message));
    return this.rowEvents(captured, lsn, message);
  }

  private rowEvents({ table, counts }: CapturedTable, lsn: Lsn, message: InsertMessage | UpdateMessage | DeleteMessage): ChangeEvent[] {
    switch (message.tag) {
      case 'insert':
        counts.count('c');
        return this.builder.insert(table, this.requireTx(), lsn, message.newTuple);
      case 'update':
        counts.count('u');
        return this.builder.update(table, this.requireTx(), lsn, message.oldTuple, message.oldTupleKind, message.newTuple);
      case 'delete':
        counts.count('d');
        return this.builder.delete(table, this.requireTx(), lsn, message.oldTuple);
    }
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
    const table = buildTableSchema({
      topicPrefix: options.topicPrefix,
      relationId: message.relationId,
      schema: message.schema,
      table: message.table,
      columns: message.columns.map((c) => ({ ...c, dimensions: details.arrayDimensions.get(c.name) })),
      primaryKey: details.primaryKey,
      lookupType: catalog.lookup,
      codecOptions: { decimalHandling: options.decimalHandling, moneyFractionDigits: options.moneyFractionDigits },
    });
    const current = this.tables.get(message.relationId);
    if (current && current.table.fingerprint === table.fingerprint) {
      current.table = table;
      return;
    }
    this.tables.set(message.relationId, { table, previous: current?.table ?? null, ready: false, counts: options.counters.forTable(table.schema, table.table) });
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

  /** Snapshot rows as op r events; the first and last carry the chunk's snapshot markers. */
  readEvents(table: TableSchema, lsn: Lsn, rows: Array<Array<string | null>>, markers: { first: string; middle: string; last: string }, readAtMs: number): ChangeEvent[] {
    const last = rows.length - 1;
    const counts = this.tables.get(table.relationId)?.counts;
    if (counts) for (let i = 0; i < rows.length; i++) counts.count('r');
    return rows.map((row, i) => this.builder.read(table, lsn, row, i === 0 ? markers.first : i === last ? markers.last : markers.middle, readAtMs));
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
  const base = registryUrl.replace(/\/+$/, '').replace(/\/\/[^@/]*@/, '//');
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
