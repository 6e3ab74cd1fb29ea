/**
 * The CDC source's position in the offsets topic: the end LSN of the last PostgreSQL transaction
 * whose events are committed in Kafka (or, after an idle period, the WAL position the slot was
 * confirmed up to, with nothing left to deliver below it).
 */
import type { SourcePosition } from '../../kafka/offsets.ts';
import { OffsetRecordError } from '../../kafka/offsets.ts';
import { formatLsn, parseLsn, type Lsn } from '../../pg/lsn.ts';
import { parseProgress, type SnapshotProgress } from '../snapshot/progress.ts';

export interface CdcPosition {
  lsn: Lsn;
  /** xid of the last delivered transaction; null after an idle confirmation or a logical message. */
  txId: number | null;
}

export function toSourcePosition(position: CdcPosition): SourcePosition {
  return { lsn: formatLsn(position.lsn), txId: position.txId };
}

/** A stored position: where the stream resumes, and the snapshot still in progress, if any. */
export interface CdcStoredPosition extends CdcPosition {
  snapshot: SnapshotProgress | null;
}

export function fromSourcePosition(position: SourcePosition): CdcStoredPosition {
  const { lsn, txId } = position;
  if (typeof lsn !== 'string') throw new OffsetRecordError(`the stored position has no LSN: ${JSON.stringify(position)}`);
  let parsed: Lsn;
  try {
    parsed = parseLsn(lsn);
  } catch (error) {
    throw new OffsetRecordError(`the stored position's LSN is malformed: ${JSON.stringify(position)}`, { cause: error });
  }
  return { lsn: parsed, txId: typeof txId === 'number' ? txId : null, snapshot: position.snapshot === undefined ? null : parseProgress(position.snapshot) };
}
