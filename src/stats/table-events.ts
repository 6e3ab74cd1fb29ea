/**
 * Change events by table and operation, counted on the hot path at the cost of one integer
 * increment: each captured table holds its own counters (the translator keeps a reference next
 * to the table's shape), and only committed counts are exported. A Kafka transaction's counts stay
 * pending until it commits (an aborted one is redelivered and would count twice).
 */

/** Debezium's op codes for row changes: create, update, delete, truncate, read (snapshot). */
export type RowOp = 'c' | 'u' | 'd' | 't' | 'r';
export const ROW_OPS: readonly RowOp[] = ['c', 'u', 'd', 't', 'r'];

export class TableEventCounts {
  /** schema.table */
  readonly table: string;
  readonly committed: Record<RowOp, number> = { c: 0, u: 0, d: 0, t: 0, r: 0 };
  readonly pending: Record<RowOp, number> = { c: 0, u: 0, d: 0, t: 0, r: 0 };
  /** Listed in the counters' pending list (counted since the last commit or discard). */
  dirty = false;
  private readonly owner: TableEventCounters;

  constructor(table: string, owner: TableEventCounters) {
    this.table = table;
    this.owner = owner;
  }

  count(op: RowOp): void {
    this.pending[op] += 1;
    if (!this.dirty) {
      this.dirty = true;
      this.owner.touched.push(this);
    }
  }
}

export class TableEventCounters {
  private readonly tables = new Map<string, TableEventCounts>();
  /** Tables counted since the last commit or discard. */
  readonly touched: TableEventCounts[] = [];

  /** The counters of one table, the same object for every shape and session of the connector. */
  forTable(schema: string, table: string): TableEventCounts {
    const name = `${schema}.${table}`;
    let counts = this.tables.get(name);
    if (!counts) this.tables.set(name, (counts = new TableEventCounts(name, this)));
    return counts;
  }

  /** The pending counts are in a committed Kafka transaction. */
  commit(): void {
    for (const counts of this.touched) {
      for (const op of ROW_OPS) {
        counts.committed[op] += counts.pending[op];
        counts.pending[op] = 0;
      }
      counts.dirty = false;
    }
    this.touched.length = 0;
  }

  /** The pending counts' Kafka transaction was aborted: they will be counted again on redelivery. */
  discard(): void {
    for (const counts of this.touched) {
      for (const op of ROW_OPS) counts.pending[op] = 0;
      counts.dirty = false;
    }
    this.touched.length = 0;
  }

  /** Committed counts of every table counted so far. */
  all(): Iterable<TableEventCounts> {
    return this.tables.values();
  }
}
