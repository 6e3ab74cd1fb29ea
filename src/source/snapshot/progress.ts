/**
 * How far a snapshot has come, stored in the offsets topic with the position of the stream (in
 * the same Kafka transaction as the chunk's events), so an interrupted snapshot resumes from its
 * last committed chunk.
 *
 * A table is read in chunks of heap blocks (ctid ranges) up to the size it had when the snapshot
 * was planned: rows written later arrive through the stream, whole. Chunks finish out of order
 * when several connections read, so each table records the block below which everything is done
 * and the finished ranges above it.
 */
import type { JsonValue } from '../../kafka/offsets.ts';

export interface TableProgress {
  /** The table read (a partition, for a partitioned table published through its root). */
  schema: string;
  table: string;
  /** The partitioned table whose topic and schema the rows are published under, if any. */
  root?: { schema: string; table: string };
  /** Only rows matching this SQL condition (incremental snapshots' additional conditions). */
  filter?: string;
  /**
   * The table's file node when its reading (re)started: a rewrite (VACUUM FULL, CLUSTER, a
   * rewriting ALTER TABLE) gives it a new one and renumbers its blocks. Absent in progress stored
   * before it was recorded: the next chunk read records it.
   */
  fileNode?: number;
  /** Heap blocks to read: the table's size when the snapshot was planned. */
  blocks: number;
  /** Every block below this one is read and committed. */
  doneBelow: number;
  /** Committed ranges [start, end) above doneBelow. */
  doneRanges: Array<[number, number]>;
  /** Rows published so far. */
  rows: number;
}

export interface SnapshotProgress {
  /** Distinguishes this snapshot's watermarks and log lines. */
  id: string;
  /** initial: the rows that existed when the connector started; incremental: asked for while streaming. */
  kind: 'initial' | 'incremental';
  startedAtMs: number;
  tables: TableProgress[];
}

export interface BlockRange {
  start: number;
  end: number;
}

export function tableDone(table: TableProgress): boolean {
  return table.doneBelow >= table.blocks;
}

export function snapshotDone(progress: SnapshotProgress): boolean {
  return progress.tables.every(tableDone);
}

export function snapshotRows(progress: SnapshotProgress): number {
  let rows = 0;
  for (const table of progress.tables) rows += table.rows;
  return rows;
}

/** Records [start, end) as committed, merging it into doneBelow where it connects. */
export function markDone(table: TableProgress, range: BlockRange): void {
  table.doneRanges.push([range.start, range.end]);
  table.doneRanges.sort((a, b) => a[0] - b[0]);
  const rest: Array<[number, number]> = [];
  for (const [start, end] of table.doneRanges) {
    if (start <= table.doneBelow) table.doneBelow = Math.max(table.doneBelow, end);
    else rest.push([start, end]);
  }
  table.doneRanges = rest.filter(([, end]) => end > table.doneBelow);
}

/**
 * The next range of at most `chunkBlocks` blocks that is neither done nor in flight, or null when
 * every block is done or being read.
 */
export function nextRange(table: TableProgress, chunkBlocks: number, inFlight: BlockRange[]): BlockRange | null {
  const taken = [...table.doneRanges.map(([start, end]) => ({ start, end })), ...inFlight].sort((a, b) => a.start - b.start);
  let cursor = table.doneBelow;
  for (const range of taken) {
    if (range.end <= cursor) continue;
    if (range.start > cursor) return { start: cursor, end: Math.min(cursor + chunkBlocks, range.start) };
    cursor = range.end;
  }
  return cursor < table.blocks ? { start: cursor, end: Math.min(cursor + chunkBlocks, table.blocks) } : null;
}

/** true when `range` is the last unread part of the table (the chunk that completes it). */
export function completesTable(table: TableProgress, range: BlockRange): boolean {
  const copy: TableProgress = { ...table, doneRanges: table.doneRanges.map(([s, e]) => [s, e]) };
  markDone(copy, range);
  return tableDone(copy);
}

export function progressJson(progress: SnapshotProgress): JsonValue {
  return {
    id: progress.id,
    kind: progress.kind,
    startedAtMs: progress.startedAtMs,
    tables: progress.tables.map((t) => ({ schema: t.schema, table: t.table, ...(t.root ? { root: t.root } : {}), ...(t.filter !== undefined ? { filter: t.filter } : {}), ...(t.fileNode !== undefined ? { fileNode: t.fileNode } : {}), blocks: t.blocks, doneBelow: t.doneBelow, doneRanges: t.doneRanges, rows: t.rows })),
  };
}

export class SnapshotProgressError extends Error {
  readonly code = 'WALCAST_SNAPSHOT_PROGRESS';
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Reads progress stored by progressJson(); refuses anything else with a precise error. */
export function parseProgress(json: unknown): SnapshotProgress {
  const fail = (why: string): never => {
    throw new SnapshotProgressError(`stored snapshot progress is malformed (${why}): ${JSON.stringify(json).slice(0, 300)}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('not an object');
  const p = json as Record<string, unknown>;
  if (typeof p.id !== 'string' || (p.kind !== 'initial' && p.kind !== 'incremental') || !isInt(p.startedAtMs) || !Array.isArray(p.tables)) return fail('id, kind, startedAtMs or tables');
  const tables = p.tables.map((raw: unknown): TableProgress => {
    const t = raw as Record<string, unknown>;
    const ranges = t.doneRanges;
    if (
      typeof t.schema !== 'string' || typeof t.table !== 'string' || !isInt(t.blocks) || !isInt(t.doneBelow) || !isInt(t.rows) ||
      !Array.isArray(ranges) || !ranges.every((r: unknown) => Array.isArray(r) && r.length === 2 && isInt(r[0]) && isInt(r[1]))
    ) {
      return fail('a table entry');
    }
    const root = t.root as { schema?: unknown; table?: unknown } | undefined;
    if (root !== undefined && (typeof root.schema !== 'string' || typeof root.table !== 'string')) return fail('a root entry');
    if (t.filter !== undefined && typeof t.filter !== 'string') return fail('a filter');
    if (t.fileNode !== undefined && !isInt(t.fileNode)) return fail('a file node');
    return {
      schema: t.schema,
      table: t.table,
      ...(root ? { root: { schema: root.schema as string, table: root.table as string } } : {}),
      ...(typeof t.filter === 'string' ? { filter: t.filter } : {}),
      ...(isInt(t.fileNode) ? { fileNode: t.fileNode } : {}),
      blocks: t.blocks,
      doneBelow: t.doneBelow,
      doneRanges: ranges as Array<[number, number]>,
      rows: t.rows,
    };
  });
  return { id: p.id, kind: p.kind, startedAtMs: p.startedAtMs, tables };
}
