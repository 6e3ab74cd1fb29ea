/**
 * Runs a snapshot beside the stream: `maxThreads` connections each take the next unread block
 * range of any table (so one large table is read in parallel too) and read it (chunk-reader.ts).
 * A reader goes on to its next chunk while the stream publishes the last one (reading and
 * encoding overlap: with one reader waiting for each publication, a third of the snapshot's time
 * was idle), up to UNPUBLISHED_PER_THREAD chunks per reader, which bounds memory. Progress
 * advances only when the stream publishes a chunk, in the same Kafka transaction as its rows
 * (stream.ts); a chunk the stream rejects is read again.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../../log.ts';
import { catalogRelation } from '../../pg/catalog.ts';
import { newClient, type PgConnection } from '../../pg/connect.ts';
import { qualifiedName } from '../../pg/sql.ts';
import { readChunk } from './chunk-reader.ts';
import { completesTable, markDone, nextRange, snapshotDone, snapshotRows, tableDone, type BlockRange, type SnapshotProgress, type TableProgress } from './progress.ts';
import type { ChunkRead } from './windows.ts';

/** Heap blocks per chunk (1 MiB of heap with the default block size): bounds the rows held per reader. */
export const CHUNK_BLOCKS = 128;
const PROGRESS_LOG_INTERVAL_MS = 10_000;
/** Chunks a reader may have read and not yet seen published. */
const UNPUBLISHED_PER_THREAD = 2;

export interface SnapshotterOptions {
  /** The session's PostgreSQL connection settings (TLS and credentials as the stream's). */
  connection: PgConnection;
  threads: number;
  progress: SnapshotProgress;
  /** The owner written into watermarks (the slot name). */
  owner: string;
  log: Logger;
  signal: AbortSignal;
  /** Hands a read chunk to the stream before its high watermark is written. */
  register(chunk: ChunkRead): void;
}

interface Resolved {
  relationId: number;
  columns: string[];
  keyless: boolean;
}

export class Snapshotter {
  private readonly options: SnapshotterOptions;
  private readonly log: Logger;
  readonly progress: SnapshotProgress;
  private readonly inFlight = new Map<TableProgress, BlockRange[]>();
  /** Chunks read and handed to the stream, not yet published or rejected. */
  private readonly unpublished = new Set<string>();
  private readonly resolved = new Map<TableProgress, Resolved | null>();
  private wakeIdle: Array<() => void> = [];
  private paused = false;
  private lastLogAt = Date.now();
  private readonly startRows: number;
  private readonly startedAt = Date.now();

  constructor(options: SnapshotterOptions) {
    this.options = options;
    // Readers waiting for work or for the stream must not outlive the session.
    options.signal.addEventListener('abort', () => this.wake(), { once: true });
    this.log = options.log.child({ component: 'snapshot', snapshot: options.progress.id });
    this.progress = options.progress;
    this.startRows = snapshotRows(options.progress);
  }

  /** Resolves when every table is published; rejects on a database error (the session restarts and resumes). */
  async run(): Promise<void> {
    const { progress } = this;
    this.log.info({ kind: progress.kind, tables: progress.tables.length, threads: this.options.threads, resumedAtRows: this.startRows }, this.startRows > 0 ? 'snapshot resuming from its last committed chunk' : 'snapshot starting');
    const workers = Array.from({ length: Math.max(1, this.options.threads) }, () => this.worker());
    await Promise.all(workers);
    if (snapshotDone(progress)) this.log.info({ rows: snapshotRows(progress), seconds: Math.round((Date.now() - this.startedAt) / 1000) }, 'snapshot complete');
  }

  private async worker(): Promise<void> {
    const client = newClient(this.options.connection);
    client.on('error', () => undefined);
    await client.connect();
    try {
      const limit = Math.max(1, this.options.threads) * UNPUBLISHED_PER_THREAD;
      while (!this.options.signal.aborted) {
        if (this.unpublished.size >= limit) {
          await new Promise<void>((resolve) => this.wakeIdle.push(resolve));
          continue;
        }
        const next = this.take();
        if (next === 'done') return;
        if (next === 'wait') {
          if (this.options.signal.aborted) return;
          await new Promise<void>((resolve) => this.wakeIdle.push(resolve));
          continue;
        }
        await this.readAndPublish(client, next.table, next.range);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Stops (or resumes) handing out chunks; chunks being read finish. */
  setPaused(paused: boolean): boolean {
    this.paused = paused;
    this.log.info({ paused }, paused ? 'snapshot paused on request' : 'snapshot resumed on request');
    if (!paused) this.wake();
    return true;
  }

  private take(): { table: TableProgress; range: BlockRange } | 'wait' | 'done' {
    if (this.paused) return snapshotDone(this.progress) ? 'done' : 'wait';
    let pending = false;
    for (const table of this.progress.tables) {
      if (tableDone(table)) continue;
      pending = true;
      const inFlight = this.inFlight.get(table) ?? [];
      const range = nextRange(table, CHUNK_BLOCKS, inFlight);
      if (range) {
        inFlight.push(range);
        this.inFlight.set(table, inFlight);
        return { table, range };
      }
    }
    return pending ? 'wait' : 'done';
  }

  private async resolve(client: pg.Client, table: TableProgress): Promise<Resolved | null> {
    if (this.resolved.has(table)) return this.resolved.get(table)!;
    // Columns, key and relation (topic) of the published table: the root for a partition.
    const published = table.root ?? table;
    const oid = (await client.query<{ oid: number | null }>('select to_regclass($1)::oid::int as oid', [qualifiedName(published.schema, published.table)])).rows[0]?.oid ?? null;
    const relation = oid === null ? null : await catalogRelation(client, oid);
    const resolved = relation === null ? null : { relationId: relation.relationId, columns: relation.columns.map((c) => c.name), keyless: !relation.hasPrimaryKey };
    this.resolved.set(table, resolved);
    return resolved;
  }

  private async readAndPublish(client: pg.Client, table: TableProgress, range: BlockRange): Promise<void> {
    const resolved = await this.resolve(client, table);
    if (!resolved) {
      this.log.warn({ table: `${table.schema}.${table.table}` }, 'table dropped during the snapshot: skipped');
      this.finish(table, range, 0);
      return;
    }
    const chunkId = randomUUID();
    await readChunk(client, { owner: this.options.owner, chunkId, relationId: resolved.relationId, schema: table.schema, table: table.table, columns: resolved.columns, range, withXmin: resolved.keyless, ...(table.filter !== undefined ? { filter: table.filter } : {}) }, (rows) => {
      if (table.fileNode === undefined) table.fileNode = rows.fileNode;
      else if (rows.fileNode !== table.fileNode) this.restartTable(table, range, rows.fileNode, rows.blocksNow);
      else if (!this.inFlight.get(table)?.includes(range)) this.inFlight.get(table)?.push(range); // another reader restarted the table meanwhile
      this.unpublished.add(chunkId);
      this.options.register({ id: chunkId, relationId: resolved.relationId, table, range, keyless: resolved.keyless, ...rows });
    });
  }

  /**
   * The table was rewritten since its reading began: its rows moved to other blocks, so the ranges
   * done say nothing about the new file. Read it again from block 0, to its size now (the rows
   * published stay: they were reconciled with the stream like any chunk's). `range`, just read
   * from the new file, stays in flight; chunks still in flight from the old file are published
   * but not counted (published()).
   */
  private restartTable(table: TableProgress, range: BlockRange, fileNode: number, blocks: number): void {
    this.log.warn({ table: `${table.schema}.${table.table}`, fileNode, previousFileNode: table.fileNode, blocks, rowsSoFar: table.rows }, 'table rewritten during its snapshot (VACUUM FULL, CLUSTER or a rewriting ALTER TABLE): reading it again from the start');
    table.fileNode = fileNode;
    table.blocks = Math.max(blocks, range.end);
    table.doneBelow = 0;
    table.doneRanges = [];
    this.inFlight.set(table, [range]);
  }

  /** Debezium's source.snapshot markers for a chunk about to be published with `count` rows. */
  markers(chunk: ChunkRead, count: number): { first: string; middle: string; last: string } {
    if (this.progress.kind === 'incremental') return { first: 'incremental', middle: 'incremental', last: 'incremental' };
    const firstOfAll = snapshotRows(this.progress) === 0;
    const firstOfTable = chunk.table.rows === 0;
    const endsTable = completesTable(chunk.table, chunk.range);
    const endsAll = endsTable && this.progress.tables.every((t) => t === chunk.table || tableDone(t));
    const first = firstOfAll ? 'first' : firstOfTable ? 'first_in_data_collection' : 'true';
    const last = endsAll ? 'last' : endsTable ? 'last_in_data_collection' : 'true';
    return count === 1 && last === 'true' ? { first, middle: 'true', last: first } : { first, middle: 'true', last };
  }

  /** The stream published the chunk (in the batch now open): its range counts as done. */
  published(chunk: ChunkRead, count: number): void {
    this.unpublished.delete(chunk.id);
    if (chunk.fileNode !== chunk.table.fileNode) {
      // Read from the file a rewrite replaced: its range means nothing in the new one.
      chunk.table.rows += count;
      this.wake();
      return;
    }
    this.finish(chunk.table, chunk.range, count);
    this.maybeLog();
  }

  /** The stream rejected the chunk (a race or a truncate): read the range again. */
  retry(chunk: ChunkRead): void {
    const list = this.inFlight.get(chunk.table) ?? [];
    this.inFlight.set(chunk.table, list.filter((r) => r !== chunk.range));
    this.log.debug({ table: `${chunk.table.schema}.${chunk.table.table}`, range: chunk.range }, 'chunk overlapped a change it could not be reconciled with: reading it again');
    this.unpublished.delete(chunk.id);
    this.wake();
  }

  private finish(table: TableProgress, range: BlockRange, rows: number): void {
    const list = this.inFlight.get(table) ?? [];
    this.inFlight.set(table, list.filter((r) => r !== range));
    markDone(table, range);
    table.rows += rows;
    this.wake();
  }

  private wake(): void {
    const waiting = this.wakeIdle;
    this.wakeIdle = [];
    for (const resolve of waiting) resolve();
  }

  /** For /status and the progress line. */
  summary(): { tablesDone: number; tables: number; rows: number; blocksDone: number; blocks: number } {
    let blocks = 0;
    let blocksDone = 0;
    for (const t of this.progress.tables) {
      blocks += t.blocks;
      blocksDone += Math.min(t.blocks, t.doneBelow) + t.doneRanges.reduce((sum, [s, e]) => sum + (e - s), 0);
    }
    return { tablesDone: this.progress.tables.filter(tableDone).length, tables: this.progress.tables.length, rows: snapshotRows(this.progress), blocksDone, blocks };
  }

  private maybeLog(): void {
    const now = Date.now();
    if (now - this.lastLogAt < PROGRESS_LOG_INTERVAL_MS) return;
    this.lastLogAt = now;
    const s = this.summary();
    const rowsPerSecond = Math.round((s.rows - this.startRows) / Math.max(1, (now - this.startedAt) / 1000));
    const fraction = s.blocks === 0 ? 1 : s.blocksDone / s.blocks;
    const etaSeconds = fraction > 0 ? Math.round(((now - this.startedAt) / 1000) * (1 - fraction) / fraction) : null;
    this.log.info({ tablesDone: s.tablesDone, tables: s.tables, rows: s.rows, rowsPerSecond, percent: Math.floor(fraction * 100), etaSeconds }, 'snapshot progress');
  }
}
