/**
 * Snapshot chunks reconciled with the stream, DBLog-style: a reader writes a low watermark into
 * the WAL, reads the chunk in a short REPEATABLE READ transaction, then writes a high watermark.
 * Between the two marks the stream notes every key it publishes for that table; at the high mark
 * the chunk's rows are published in stream order, minus those keys (the stream already carried a
 * newer state of them). Nothing is held open: no long transaction, no WAL kept back.
 *
 * One race is closed explicitly: a transaction whose commit record precedes the low watermark but
 * which was not yet visible to the chunk's snapshot (its commit record was written, but it had not
 * yet left the proc array: flushing its commit or waiting for a synchronous standby) was published
 * before the window opened, so the chunk would hold an older row. Such a chunk is read again. The
 * snapshot lists such a transaction as in progress only when a newer one had already completed;
 * when it is the newest, it is at or above the snapshot's xmax instead (seen on a loaded machine:
 * a single writer's update, published before the low mark, missing from the chunk).
 *
 * Tables without a key cannot be reconciled by key. Their chunks carry each row version's xmin,
 * and a row version created by a transaction the stream has already published (since the snapshot
 * began in this session) is left out: the stream carried it. Deletes and updates seen between the
 * watermarks (REPLICA IDENTITY FULL, the only way such a table accepts them while published)
 * remove the old row they name. A snapshot interrupted and resumed can still publish a keyless
 * row twice if it was written during the interruption (docs/snapshots.md).
 *
 * Watermarks are logical decoding messages (pg_logical_emit_message, non-transactional) with
 * prefix WATERMARK_PREFIX; they are never published.
 */
import type { CopyRows } from './copy-text.ts';
import type { BlockRange, TableProgress } from './progress.ts';

export const WATERMARK_PREFIX = 'walcast.watermark';

/** Transactions remembered for the race check (xid -> order in the stream): the latest this many. */
const RECENT_XIDS = 200_000;

/**
 * The latest RECENT_XIDS transactions and their order in the stream, in a ring of typed arrays:
 * a Begin costs two stores instead of a Map insertion (the Maps were 1.5% of walcast's CPU on
 * 10-row transactions, --cpu-prof), and a lookup, once per in-progress xid of a chunk, scans back
 * from the newest (the xids a chunk waits on are recent ones).
 */
class RecentXids {
  private readonly xids = new Uint32Array(RECENT_XIDS);
  private readonly orders = new Float64Array(RECENT_XIDS);
  private next = 0;
  private size = 0;

  add(xid: number, order: number): void {
    this.xids[this.next] = xid;
    this.orders[this.next] = order;
    this.next = this.next + 1 === RECENT_XIDS ? 0 : this.next + 1;
    if (this.size < RECENT_XIDS) this.size += 1;
  }

  /** The order of xid's latest Begin among the remembered ones. */
  orderOf(xid: number): number | undefined {
    const { xids } = this;
    for (let n = 0, at = this.next; n < this.size; n++) {
      at = at === 0 ? RECENT_XIDS - 1 : at - 1;
      if (xids[at] === xid >>> 0) return this.orders[at];
    }
    return undefined;
  }
}

export type WatermarkMark = 'low' | 'high';

interface WatermarkJson {
  /** The snapshot's owner (slot): several walcast instances may snapshot one database. */
  o: string;
  c: string;
  m: 'l' | 'h';
  r: number;
}

export function watermarkContent(owner: string, chunkId: string, mark: WatermarkMark, relationId: number): string {
  const json: WatermarkJson = { o: owner, c: chunkId, m: mark === 'low' ? 'l' : 'h', r: relationId };
  return JSON.stringify(json);
}

/** A chunk as read, waiting for its high watermark in the stream. */
export interface ChunkRead {
  id: string;
  relationId: number;
  table: TableProgress;
  range: BlockRange;
  /** Column values as PostgreSQL's output functions render them (as pgoutput does), in column order. */
  rows: CopyRows;
  /** Tables without a key: each row version's xmin (low 32 bits), by row (see above). */
  xmins: number[] | null;
  /** xids (low 32 bits) in progress at the chunk's snapshot. */
  inProgress: number[];
  /** The snapshot's xmax (low 32 bits): it sees no xid at or above it. */
  xmax: number;
  /** The table's file node the rows were read from (progress counts only chunks of its current one). */
  fileNode: number;
  readAtMs: number;
  /** The table has no primary key (see above). */
  keyless: boolean;
}

/** A set of 32-bit xids as a bitmap in 8 KiB pages: bounded by the xid span, not the count. */
export class XidSet {
  private readonly pages = new Map<number, Uint32Array>();

  add(xid: number): void {
    const page = xid >>> 16;
    let bits = this.pages.get(page);
    if (!bits) this.pages.set(page, (bits = new Uint32Array(2048)));
    bits[(xid & 0xffff) >>> 5]! |= 1 << (xid & 31);
  }

  has(xid: number): boolean {
    const bits = this.pages.get(xid >>> 16);
    return bits !== undefined && (bits[(xid & 0xffff) >>> 5]! & (1 << (xid & 31))) !== 0;
  }
}

interface Window {
  relationId: number;
  /** Key texts published while the window was open, with how often (keyless tables repeat rows). */
  touched: Map<string, number>;
  /** A truncate or an unkeyable change hit the table: the chunk must be read again. */
  spoiled: boolean;
  /** Stream order when the low watermark passed. */
  openedAt: number;
  /** The newest xid published before the low watermark passed. */
  latestXid: number | null;
}

/** PostgreSQL's TransactionIdPrecedes for normal xids: modulo-2^32 order. */
export function xidPrecedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export class ChunkWindows {
  private readonly owner: string;
  private readonly open = new Map<string, Window>();
  private readonly byRelation = new Map<number, Window[]>();
  private readonly recentXids = new RecentXids();
  private readonly streamedXids = new XidSet();
  private order = 0;
  private latestXid: number | null = null;
  /** A snapshot runs: remember published xids for tables without a key. */
  tracking = false;

  constructor(owner: string) {
    this.owner = owner;
  }

  /** The watermark in a logical message, if it is this owner's. */
  parse(content: Buffer): { mark: WatermarkMark; chunkId: string; relationId: number } | null {
    let json: Partial<WatermarkJson>;
    try {
      json = JSON.parse(content.toString('utf8')) as Partial<WatermarkJson>;
    } catch {
      return null;
    }
    if (json.o !== this.owner || typeof json.c !== 'string' || typeof json.r !== 'number') return null;
    return { mark: json.m === 'l' ? 'low' : 'high', chunkId: json.c, relationId: json.r };
  }

  /**
   * Called at every Begin, snapshot or not: a transaction published just before a snapshot starts
   * can still be invisible to its first chunks.
   */
  transaction(xid: number): void {
    this.order += 1;
    if (this.tracking) this.streamedXids.add(xid);
    if (this.latestXid === null || xidPrecedes(this.latestXid, xid)) this.latestXid = xid;
    this.recentXids.add(xid, this.order);
  }

  /** Cheap test for the hot path: is a chunk of this table between its watermarks? */
  watches(relationId: number): boolean {
    return this.byRelation.has(relationId);
  }

  touch(relationId: number, key: string): void {
    for (const window of this.byRelation.get(relationId) ?? []) window.touched.set(key, (window.touched.get(key) ?? 0) + 1);
  }

  spoil(relationId: number): void {
    for (const window of this.byRelation.get(relationId) ?? []) window.spoiled = true;
  }

  low(chunkId: string, relationId: number): void {
    const window: Window = { relationId, touched: new Map(), spoiled: false, openedAt: this.order, latestXid: this.latestXid };
    this.open.set(chunkId, window);
    const list = this.byRelation.get(relationId);
    if (list) list.push(window);
    else this.byRelation.set(relationId, [window]);
  }

  /**
   * Closes the chunk's window and gives the rows that may be published (their numbers in the
   * chunk), or null when the chunk must be read again (spoiled, or the race above). `keyOf` gives
   * row number i's key text, the same text touch() received for the stream's changes.
   */
  high(chunk: ChunkRead, keyOf: (row: number) => string): number[] | null {
    const window = this.discard(chunk.id);
    if (!window || window.spoiled) return null;
    if (window.latestXid !== null && !xidPrecedes(window.latestXid, chunk.xmax)) return null;
    for (const xid of chunk.inProgress) {
      const seen = this.recentXids.orderOf(xid);
      if (seen !== undefined && seen <= window.openedAt) return null;
    }
    if (chunk.keyless) return this.keyless(chunk, window, keyOf);
    const rows = chunk.rows.count;
    const kept: number[] = [];
    if (window.touched.size === 0) {
      for (let row = 0; row < rows; row++) kept.push(row);
      return kept;
    }
    for (let row = 0; row < rows; row++) {
      const key = keyOf(row);
      const count = window.touched.get(key);
      if (count === undefined) kept.push(row);
      else if (count === 1) window.touched.delete(key);
      else window.touched.set(key, count - 1);
    }
    return kept;
  }

  /** Closes a chunk's window (also one whose chunk is gone: a stopped snapshot); returns it. */
  discard(chunkId: string): Window | undefined {
    const window = this.open.get(chunkId);
    if (!window) return undefined;
    this.open.delete(chunkId);
    const list = this.byRelation.get(window.relationId)!.filter((w) => w !== window);
    if (list.length > 0) this.byRelation.set(window.relationId, list);
    else this.byRelation.delete(window.relationId);
    return window;
  }

  private keyless(chunk: ChunkRead, window: Window, keyOf: (row: number) => string): number[] {
    const kept: number[] = [];
    const { xmins } = chunk;
    for (let row = 0; row < chunk.rows.count; row++) {
      if (xmins && this.streamedXids.has(xmins[row]!)) continue;
      const key = window.touched.size === 0 ? undefined : keyOf(row);
      const count = key === undefined ? undefined : window.touched.get(key);
      if (count === undefined) kept.push(row);
      else if (count === 1) window.touched.delete(key!);
      else window.touched.set(key!, count - 1);
    }
    return kept;
  }

  /** Forget every window (the session ends; chunks in flight are read again by the next one). */
  clear(): void {
    this.open.clear();
    this.byRelation.clear();
  }
}
