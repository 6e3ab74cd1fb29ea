/**
 * Reads one snapshot chunk on its own connection: low watermark, a short REPEATABLE READ
 * transaction over a range of heap blocks (a TID range scan), high watermark. The rows are read
 * with COPY's text format: the text PostgreSQL's output functions render, as pgoutput sends it,
 * so the stream's codecs decode both identically (connections come from pg/connect.ts, which pins
 * the settings they depend on), kept as bytes (copy-text.ts).
 */
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { quoteIdent, quoteLiteral } from '../../pg/sql.ts';
import { parseCopyText, type CopyRows } from './copy-text.ts';
import type { BlockRange } from './progress.ts';
import { WATERMARK_PREFIX, watermarkContent } from './windows.ts';

export interface ChunkQuery {
  owner: string;
  chunkId: string;
  relationId: number;
  schema: string;
  table: string;
  /** Column names in pgoutput's order. */
  columns: string[];
  range: BlockRange;
  /** Add each row version's inserting transaction as a last column (tables without a key: see windows.ts). */
  withXmin: boolean;
  /** An SQL condition the rows must also meet (incremental snapshots), in parentheses. */
  filter?: string;
}

/** The chunk's SELECT: every column in order, rows of the block range. */
export function chunkSql(query: Pick<ChunkQuery, 'schema' | 'table' | 'columns' | 'range' | 'withXmin' | 'filter'>): string {
  const columns = [...query.columns.map(quoteIdent), ...(query.withXmin ? ['xmin'] : [])].join(', ');
  const from = `${quoteIdent(query.schema)}.${quoteIdent(query.table)}`;
  const filter = query.filter === undefined ? '' : ` and (${query.filter})`;
  return `select ${columns} from only ${from} where ctid >= '(${query.range.start},0)'::tid and ctid < '(${query.range.end},0)'::tid${filter}`;
}

/**
 * The low mark is non-transactional (it lands in the WAL at once). The high mark is transactional:
 * its commit flushes the WAL, so the walsender sends the chunk's window at once instead of after
 * the WAL writer's next round (wal_writer_delay, 200 ms by default, measured: median 201 ms per
 * chunk while a reader waited for its chunk to be published).
 */
function emitSql(query: ChunkQuery, mark: 'low' | 'high'): string {
  return `select pg_logical_emit_message(${mark === 'high'}, ${quoteLiteral(WATERMARK_PREFIX)}, ${quoteLiteral(watermarkContent(query.owner, query.chunkId, mark, query.relationId))})`;
}

/** xids in progress at a snapshot (pg_current_snapshot()'s text form `xmin:xmax:xip,...`), low 32 bits. */
export function inProgressXids(snapshot: string): number[] {
  const list = snapshot.split(':')[2] ?? '';
  return list === '' ? [] : list.split(',').map((xid) => Number(BigInt(xid) & 0xffffffffn));
}

/** A snapshot's xmax (the first xid it treats as not yet completed), low 32 bits. */
export function snapshotXmax(snapshot: string): number {
  return Number(BigInt(snapshot.split(':')[1] ?? '0') & 0xffffffffn);
}

export interface ChunkRows {
  rows: CopyRows;
  /** Tables without a key: each row version's xmin (low 32 bits), by row. */
  xmins: number[] | null;
  /** The file node the rows were read from, and the table's size in blocks then. */
  fileNode: number;
  blocksNow: number;
  inProgress: number[];
  xmax: number;
  readAtMs: number;
}

/** The COPY's output, whole. */
async function copyOut(client: pg.Client, sql: string): Promise<Buffer> {
  const stream = client.query(copyStreams.to(sql));
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The xmin the rows of a table without a key end with. */
function xminsOf(rows: CopyRows): number[] {
  return Array.from({ length: rows.count }, (_, row) => Number(rows.text(row, rows.columns - 1)));
}

/**
 * Runs the three steps; `onRead` receives the rows before the high watermark is written, so the
 * stream always finds them when the mark arrives.
 */
export async function readChunk(client: pg.Client, query: ChunkQuery, onRead: (rows: ChunkRows) => void): Promise<void> {
  await client.query(emitSql(query, 'low'));
  await client.query('begin isolation level repeatable read read only');
  let rows: ChunkRows;
  try {
    // The first statement fixes the transaction's snapshot: this one reports it.
    const snapshot = (await client.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0]!.s;
    const readAtMs = Date.now();
    const text = await copyOut(client, `copy (${chunkSql(query)}) to stdout`);
    // After the SELECT, whose lock is held until commit, no rewrite can come between the rows
    // read and the file node reported: they are the same file.
    const file = (await client.query<{ file_node: number; blocks: number }>(
      `select pg_relation_filenode(c.oid)::int8::float8 as file_node, (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::float8 as blocks
         from pg_class c where c.oid = to_regclass($1)`,
      [`${quoteIdent(query.schema)}.${quoteIdent(query.table)}`],
    )).rows[0];
    const read = parseCopyText(text, query.columns.length + (query.withXmin ? 1 : 0), query.columns.length);
    rows = { rows: read, xmins: query.withXmin ? xminsOf(read) : null, fileNode: file?.file_node ?? 0, blocksNow: file?.blocks ?? 0, inProgress: inProgressXids(snapshot), xmax: snapshotXmax(snapshot), readAtMs };
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
  onRead(rows);
  await client.query(emitSql(query, 'high'));
}
