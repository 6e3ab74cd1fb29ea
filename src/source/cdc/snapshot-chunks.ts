/**
 * Snapshot chunks on the stream's side: the stream tells this which changes and watermarks pass;
 * at a chunk's high watermark its rows, reconciled with the changes published while its window was
 * open (snapshot/windows.ts), are appended to the Kafka transaction in progress as op r events,
 * and its progress is handed to the snapshotter. Rows are written straight from COPY's bytes by
 * encoders that can (avro-rows.ts), otherwise as events.
 */
import { ValueDecodeError } from '../../decode/errors.ts';
import { AvroEncodeError } from '../../encode/avro-writer.ts';
import type { EventEncoder } from '../../encode/encoder.ts';
import type { ChangeEvent } from '../../events/change-events.ts';
import type { TableSchema } from '../../events/table-schema.ts';
import type { TransactionalDelivery } from '../../kafka/delivery.ts';
import { RecordTooLargeError } from '../../kafka/record-limits.ts';
import type { Lsn } from '../../pg/lsn.ts';
import type { CopyRows } from '../snapshot/copy-text.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { ChunkRead, ChunkWindows } from '../snapshot/windows.ts';
import type { ChangeTranslator } from './changes.ts';
import type { DeleteMessage, InsertMessage, TupleValue, UpdateMessage } from './pgoutput.ts';
import type { CdcPosition } from './position.ts';
import type { RowFailure, RowMessage, SnapshotRow } from './row-failures.ts';

/** Rows built into events at a time (encoders without a row writer): small enough to die young, large enough to amortise. */
const SNAPSHOT_SLICE_ROWS = 256;

/** What the stream lends: its translator and delivery, and its handling of rows that cannot be published. */
export interface StreamSide {
  translator: ChangeTranslator;
  delivery: TransactionalDelivery<CdcPosition>;
  encoder: EventEncoder;
  /** Appends events to the Kafka transaction (opening it if needed); a promise when it has to wait. */
  add(events: ChangeEvent[]): Promise<void> | undefined;
  /** By WALCAST_ERRORS_TOLERANCE: throws, or dead-letters the row. */
  rowFailed(failure: RowFailure): Promise<void>;
  /** A row a codec refused: 'widened' when its column was widened for it; null when no column refuses it. */
  decodeFailure(table: TableSchema, message: RowMessage, lsn: Lsn): Promise<RowFailure | 'widened' | null>;
  publishFailure(error: RecordTooLargeError | AvroEncodeError, table: TableSchema, message: RowMessage, lsn: Lsn): RowFailure;
}

export class SnapshotChunks {
  private readonly windows: ChunkWindows;
  private readonly stream: StreamSide;
  private snapshotter: Snapshotter | null = null;
  /** Chunks read, waiting for their high watermark. */
  private readonly chunks = new Map<string, ChunkRead>();
  /** The topic appendRow() writes to. */
  private rowTopic = '';
  private readonly appendRow = (key: Buffer | null, value: Buffer | null): void => {
    this.stream.delivery.append({ topic: this.rowTopic, key, value });
  };

  constructor(windows: ChunkWindows, stream: StreamSide) {
    this.windows = windows;
    this.stream = stream;
  }

  attach(snapshotter: Snapshotter): void {
    this.snapshotter = snapshotter;
    this.windows.tracking = true;
  }

  detach(): void {
    this.snapshotter = null;
    this.chunks.clear();
    this.windows.clear();
    this.windows.tracking = false;
  }

  register(chunk: ChunkRead): void {
    this.chunks.set(chunk.id, chunk);
  }

  /** Every Begin, snapshot or not (windows.ts: the race check). */
  transaction(xid: number): void {
    this.windows.transaction(xid);
  }

  truncated(relationIds: number[]): void {
    for (const relationId of relationIds) this.windows.spoil(relationId);
  }

  /** A row change while a snapshot chunk of its table is between watermarks: note its keys. */
  change(message: InsertMessage | UpdateMessage | DeleteMessage): void {
    const { relationId } = message;
    if (!this.windows.watches(relationId)) return;
    const { translator } = this.stream;
    const keyed = translator.isKeyed(relationId);
    const keys: Array<string | null> = [];
    // Without a key, new row versions are recognised by their xmin (windows.ts); old ones by value.
    if (message.tag !== 'delete' && keyed) keys.push(translator.keyText(relationId, message.newTuple));
    if (message.tag !== 'insert' && message.oldTuple) keys.push(translator.keyText(relationId, message.oldTuple));
    else if (message.tag !== 'insert' && !keyed) keys.push(null);
    for (const key of new Set(keys)) {
      if (key === null) this.windows.spoil(relationId);
      else this.windows.touch(relationId, key);
    }
  }

  /**
   * A snapshot watermark: opens a chunk's window, or publishes the chunk: inside the high mark's
   * own transaction (whose commit completes the unit), or as a unit of its own.
   */
  async watermark(lsn: Lsn, content: Buffer, transactional: boolean): Promise<void> {
    const mark = this.windows.parse(content);
    if (!mark) return;
    if (mark.mark === 'low') {
      this.windows.low(mark.chunkId, mark.relationId);
      return;
    }
    const chunk = this.chunks.get(mark.chunkId);
    this.chunks.delete(mark.chunkId);
    const snapshotter = this.snapshotter;
    if (!chunk || !snapshotter) {
      this.windows.discard(mark.chunkId);
      return;
    }
    const { translator, delivery } = this.stream;
    await translator.snapshotTable(chunk.relationId);
    const rows = this.windows.high(chunk, (row) => translator.keyText(chunk.relationId, chunk.rows.tuple(row).values()) ?? '');
    if (rows === null) {
      snapshotter.retry(chunk);
      return;
    }
    if (rows.length > 0) await this.publishChunk(chunk, snapshotter, lsn, rows);
    if (!transactional) delivery.completeUnit({ lsn, txId: null });
    snapshotter.published(chunk, rows.length);
  }

  /**
   * A chunk's rows as op r events. Snapshot rows are held to the same rules as streamed ones: a
   * value that needs its column's widened shape widens the column (rows appended before it keep
   * the narrow shape, as in the stream), and a row that cannot be published goes by
   * WALCAST_ERRORS_TOLERANCE.
   */
  private async publishChunk(chunk: ChunkRead, snapshotter: Snapshotter, lsn: Lsn, kept: number[]): Promise<void> {
    const markers = snapshotter.markers(chunk, kept.length);
    const last = kept.length - 1;
    const markerOf = (i: number): string => (i === 0 ? markers.first : i === last ? markers.last : markers.middle);
    const { relationId, readAtMs, rows } = chunk;
    let at = 0;
    while (at < kept.length) {
      const table = await this.stream.translator.snapshotTable(relationId);
      at = await this.appendReads(table, lsn, rows, kept, at, markerOf, readAtMs);
      if (at >= kept.length) break;
      // the table's events are built as objects (JSON, or a shape the row writer does not know)
      const end = Math.min(at + SNAPSHOT_SLICE_ROWS, kept.length);
      const from = at;
      await this.publishSlice(relationId, lsn, kept.slice(from, end).map((row) => rows.tuple(row).values()), (i) => markerOf(from + i), readAtMs);
      at = end;
    }
  }

  /**
   * Rows kept[start..] written straight from their tuples by the encoder (no event objects; a
   * row's tuple is made only as it is written: made earlier, a chunk's tuples outlived the young
   * generation). Returns where it stopped: the end, or a row to take again with the table's
   * current shape (a column was widened for it, or its events are built as objects).
   */
  private async appendReads(table: TableSchema, lsn: Lsn, rows: CopyRows, kept: number[], start: number, markerOf: (i: number) => string, readAtMs: number): Promise<number> {
    const { translator, delivery, encoder } = this.stream;
    if (!encoder.encodeRead) return start;
    this.rowTopic = table.topic;
    for (let i = start; i < kept.length; i++) {
      const tuple = rows.tuple(kept[i]!);
      const read = translator.readRow(table, lsn, tuple, markerOf(i), readAtMs);
      if (!read) return i;
      if (!delivery.inTransaction) await delivery.begin();
      try {
        encoder.encodeRead(read, this.appendRow);
      } catch (error) {
        translator.uncountRead(table.relationId);
        const message: SnapshotRow = { tag: 'read', relationId: table.relationId, newTuple: tuple.values() };
        if (error instanceof ValueDecodeError) {
          const failure = await this.stream.decodeFailure(table, message, lsn);
          if (failure === null) throw error;
          if (failure === 'widened') return i;
          await this.stream.rowFailed(failure);
        } else if (error instanceof RecordTooLargeError || error instanceof AvroEncodeError) {
          await this.stream.rowFailed(this.stream.publishFailure(error, table, message, lsn));
        } else throw error;
        this.rowTopic = table.topic;
        continue;
      }
      const waiting = delivery.flushIfFull();
      if (waiting) await waiting;
    }
    return kept.length;
  }

  /** Rows as events, built first (one try per failure, not per row), then appended one by one. */
  private async publishSlice(relationId: number, lsn: Lsn, read: TupleValue[][], sliceMarkerOf: (i: number) => string, readAtMs: number): Promise<void> {
    const { translator } = this.stream;
    let rows = read;
    let markerOf = sliceMarkerOf;
    let events: ChangeEvent[] | null = null;
    while (events === null) {
      const table = await translator.snapshotTable(relationId);
      try {
        events = translator.readEvents(table, lsn, rows, markerOf, readAtMs);
      } catch (error) {
        if (!(error instanceof ValueDecodeError)) throw error;
        const at = rows.findIndex((row) => translator.diagnoseRow({ tag: 'read', relationId, newTuple: row }) !== null);
        if (at < 0) throw error;
        const message: SnapshotRow = { tag: 'read', relationId, newTuple: rows[at]! };
        const failure = await this.stream.decodeFailure(table, message, lsn);
        if (failure === null) throw error;
        if (failure === 'widened') continue;
        await this.stream.rowFailed(failure);
        // the rows after it keep their markers
        const previous = markerOf;
        markerOf = (i) => previous(i < at ? i : i + 1);
        rows = rows.filter((_, i) => i !== at);
        if (rows.length === 0) return;
      }
    }
    let i = 0;
    while (i < events.length) {
      try {
        for (; i < events.length; i++) {
          const waiting = this.stream.add([events[i]!]);
          if (waiting) await waiting;
        }
      } catch (error) {
        // A single event's record is refused before it is appended: nothing to roll back.
        if (!(error instanceof RecordTooLargeError || error instanceof AvroEncodeError)) throw error;
        const table = translator.table(relationId)!;
        const message: SnapshotRow = { tag: 'read', relationId, newTuple: rows[i]! };
        translator.uncountRead(relationId);
        await this.stream.rowFailed(this.stream.publishFailure(error, table, message, lsn));
        i += 1;
      }
    }
  }
}
