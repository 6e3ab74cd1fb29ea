/**
 * The polling query of one table, and why it does not lose rows the JDBC source connector loses.
 *
 * The JDBC connector reads `WHERE id > <last id>` (or a timestamp): a transaction that took id 5
 * and commits after a transaction with id 6 was read is skipped for ever. walcast reads, in one
 * REPEATABLE READ snapshot, only rows whose inserting transaction is older than the oldest
 * transaction still running (the snapshot's xmin, pg_snapshot_xmin(pg_current_snapshot())): every
 * transaction that can still commit is younger than every row read, so a row it commits later is
 * read at a later poll, whatever its id. The row's 32-bit xmin is widened to an xid8 against the
 * snapshot's xmax to compare across epochs.
 *
 * What this covers: ids and timestamps a transaction takes when it writes the row (serial or
 * identity defaults, clock_timestamp() or a trigger). An id drawn earlier in a transaction than its
 * first write (`SELECT nextval()` well ahead of the INSERT, ORM id pools) or a timestamp from now()
 * (the transaction's start) can still be overtaken; timestamp.delay.interval.ms bounds that as in
 * the JDBC connector. Deletes are not seen by polling: use the CDC source for them.
 */
import type { PollMode } from '../../config/jdbc-source.ts';
import { quoteIdent, quoteLiteral } from '../../pg/sql.ts';
import type { PolledTable } from './table.ts';

/** Where a table's polling resumes: the last incrementing value and timestamp read (as text). */
export interface TableCursor {
  inc?: string;
  ts?: string;
}

export interface PollQueryOptions {
  mode: PollMode;
  incrementingColumn: string | null;
  timestampColumn: string | null;
  batchMaxRows: number;
  timestampDelayMs: number;
  timeZone: string;
}

export const INC_ALIAS = '__walcast_inc';
export const TS_ALIAS = '__walcast_ts';

const HORIZON = `(h.__walcast_hi - ((h.__walcast_hi % 4294967296) - t.xmin::text::int8 + 4294967296) % 4294967296) < h.__walcast_lo`;
const SNAPSHOT = `cross join (select pg_snapshot_xmin(s)::text::int8 as __walcast_lo, pg_snapshot_xmax(s)::text::int8 - 1 as __walcast_hi from pg_current_snapshot() s) h`;

function columnType(table: PolledTable, column: string): string {
  const found = table.columns.find((c) => c.field.field === column);
  if (!found) throw new Error(`internal: column ${column} not in ${table.sql}`);
  return found.dataType;
}

/**
 * The query and its parameters. `tiesOnly`: read every row whose timestamp equals the cursor's
 * (a group of equal timestamps larger than a batch, which must not be split: see poller.ts).
 */
export function pollQuery(table: PolledTable, options: PollQueryOptions, cursor: TableCursor, tiesOnly = false): { text: string; values: string[] } {
  const selects = table.columns.map((c) => c.select);
  const values: string[] = [];
  const param = (value: string): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const inc = options.incrementingColumn ? `t.${quoteIdent(options.incrementingColumn)}` : null;
  const ts = options.timestampColumn ? `t.${quoteIdent(options.timestampColumn)}` : null;
  if (inc) selects.push(`${inc}::text as ${INC_ALIAS}`);
  if (ts) selects.push(`${ts}::text as ${TS_ALIAS}`);
  const where: string[] = [];
  let order = '';
  // A query's rows have no xmin to compare: the JDBC connector's window (timestamp.delay.interval.ms) is all there is.
  const horizon = options.mode !== 'bulk' && !table.query;
  if (horizon) where.push(HORIZON);
  const incType = inc ? columnType(table, options.incrementingColumn!) : '';
  const tsType = ts ? columnType(table, options.timestampColumn!) : '';
  if (options.mode === 'incrementing') {
    if (cursor.inc !== undefined) where.push(`${inc} > ${param(cursor.inc)}::${incType}`);
    order = `order by ${inc}`;
  } else if (options.mode === 'timestamp') {
    if (tiesOnly) where.push(`${ts} = ${param(cursor.ts!)}::${tsType}`);
    else if (cursor.ts !== undefined) where.push(`${ts} > ${param(cursor.ts)}::${tsType}`);
    order = `order by ${ts}`;
  } else if (options.mode === 'timestamp+incrementing') {
    if (cursor.ts !== undefined && cursor.inc !== undefined) {
      const last = param(cursor.ts);
      where.push(`(${ts} > ${last}::${tsType} or (${ts} = ${last}::${tsType} and ${inc} > ${param(cursor.inc)}::${incType}))`);
    }
    order = `order by ${ts}, ${inc}`;
  }
  if (ts && options.timestampDelayMs > 0) {
    const bound = `(now() - ${param(`${options.timestampDelayMs} milliseconds`)}::interval)`;
    where.push(`${ts} < ${tsType === 'timestamp without time zone' ? `(${bound} at time zone ${quoteLiteral(options.timeZone)})` : bound}`);
  }
  const text = [
    `select ${selects.join(', ')} from ${table.sql} t`,
    horizon ? SNAPSHOT : '',
    where.length > 0 ? `where ${where.join(' and ')}` : '',
    order,
    options.mode === 'bulk' || tiesOnly ? '' : `limit ${options.batchMaxRows}`,
  ].filter((part) => part !== '').join(' ');
  return { text, values };
}
