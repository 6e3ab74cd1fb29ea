/**
 * Source positions stored in Kafka, in the same transaction as the events they cover
 * (GUIDE, invariant 2). One compacted, single-partition topic; key = source identity.
 *
 * The position itself is opaque here: each kind of source stores what it needs to resume (a
 * replication LSN, a snapshot's progress, a polling cursor) as a JSON object. The record's value
 * is versioned JSON:
 *   version 2: {"v":2,"position":{...},"tsMs":<ms>}
 *   version 1 (earlier builds, CDC only): {"lsn":"0/16B3748","txId":<xid>|null,"tsMs":<ms>}, read as
 *   the position {"lsn","txId"}
 */
import type { Kafka } from 'kafkajs';
import type { KafkaRecord } from './producer.ts';
import type { TopicManager } from './topics.ts';
import { readCompacted } from './compacted-topic.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What a source needs to resume; its shape belongs to the source. */
export type SourcePosition = { [key: string]: JsonValue };

export const OFFSET_RECORD_VERSION = 2;

export interface OffsetValue {
  /** Format version the record was written in (1: earlier builds). */
  version: number;
  position: SourcePosition;
  /** When the record was written (ms since epoch). */
  tsMs: number;
}

/** A stored position and where it was found, so a restart can be traced in the log. */
export interface StoredOffset extends OffsetValue {
  /** Kafka offset of the record in the offsets topic. */
  recordOffset: string;
  /** End of the offsets partition (last stable offset) when it was read. */
  partitionEnd: string;
}

export class OffsetRecordError extends Error {
  readonly code = 'WALCAST_OFFSET_RECORD';
}

export function offsetRecord(topic: string, sourceId: string, position: SourcePosition, tsMs = Date.now()): KafkaRecord {
  return { topic, key: Buffer.from(sourceId), value: Buffer.from(JSON.stringify({ v: OFFSET_RECORD_VERSION, position, tsMs })) };
}

function isObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseOffsetValue(value: Buffer): OffsetValue {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new OffsetRecordError(`offset record is not JSON: ${JSON.stringify(value.toString('utf8').slice(0, 200))}`, { cause: error });
  }
  if (isObject(json) && json.v === OFFSET_RECORD_VERSION && isObject(json.position)) {
    return { version: OFFSET_RECORD_VERSION, position: json.position, tsMs: Number(json.tsMs ?? 0) };
  }
  if (isObject(json) && json.v === undefined && typeof json.lsn === 'string') {
    return { version: 1, position: { lsn: json.lsn, txId: json.txId ?? null }, tsMs: Number(json.tsMs ?? 0) };
  }
  const version = isObject(json) ? json.v : undefined;
  throw new OffsetRecordError(
    `offset record of an unknown format${version !== undefined ? ` (version ${JSON.stringify(version)}, newer than this walcast?)` : ''}: ${JSON.stringify(value.toString('utf8').slice(0, 200))}`,
  );
}

export async function ensureOffsetsTopic(topics: TopicManager, topic: string): Promise<void> {
  await topics.ensureCompacted(topic);
}

/**
 * Reads the latest committed position of `sourceId`. Call only after the producer has fenced older
 * instances and settleOpenTransactions() has closed or waited out what was open on the topic: the
 * end offset read here is the last stable offset, and an open transaction would hide what follows it.
 */
export async function readOffset(kafka: Kafka, topic: string, sourceId: string, timeoutMs = 60_000): Promise<StoredOffset | null> {
  const { latest, end } = await readCompacted(kafka, topic, 'offset reader', timeoutMs, (key) => key === sourceId);
  const record = latest.get(sourceId);
  if (!record) return null;
  return { ...parseOffsetValue(record.value), recordOffset: record.offset, partitionEnd: end.toString() };
}

/**
 * The latest committed positions of every key `wanted` accepts (a source keeping one record per
 * table), by key. The same preconditions as readOffset.
 */
export async function readOffsets(kafka: Kafka, topic: string, wanted: (key: string) => boolean, timeoutMs = 60_000): Promise<Map<string, StoredOffset>> {
  const { latest, end } = await readCompacted(kafka, topic, 'offset reader', timeoutMs, wanted);
  const out = new Map<string, StoredOffset>();
  for (const [key, record] of latest) out.set(key, { ...parseOffsetValue(record.value), recordOffset: record.offset, partitionEnd: end.toString() });
  return out;
}
