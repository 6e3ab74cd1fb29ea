/**
 * Source positions stored in Kafka, in the same transaction as the events they cover
 * (GUIDE, invariant 2). One compacted, single-partition topic; key = source identity.
 */
import type { Kafka } from 'kafkajs';
import { formatLsn, parseLsn, type Lsn } from '../pg/lsn.ts';
import type { KafkaRecord } from './producer.ts';
import type { TopicManager } from './topics.ts';
import { readPartitions } from './partition-reader.ts';

export interface SourceOffset {
  /** End LSN of the last PostgreSQL transaction whose events are committed in Kafka. */
  lsn: Lsn;
  txId: number | null;
  /** When the offset was written (ms since epoch). */
  tsMs: number;
}

/** A stored offset and where it was found, so a restart can be traced in the log. */
export interface StoredOffset extends SourceOffset {
  /** Kafka offset of the record in the offsets topic. */
  recordOffset: string;
  /** End of the offsets partition (last stable offset) when it was read. */
  partitionEnd: string;
}

interface OffsetJson {
  lsn: string;
  txId: number | null;
  tsMs: number;
}

export function offsetRecord(topic: string, sourceId: string, offset: SourceOffset): KafkaRecord {
  const json: OffsetJson = { lsn: formatLsn(offset.lsn), txId: offset.txId, tsMs: offset.tsMs };
  return { topic, key: Buffer.from(sourceId), value: Buffer.from(JSON.stringify(json)) };
}

export function parseOffset(value: Buffer): SourceOffset {
  const json = JSON.parse(value.toString('utf8')) as OffsetJson;
  return { lsn: parseLsn(json.lsn), txId: json.txId, tsMs: json.tsMs };
}

export async function ensureOffsetsTopic(topics: TopicManager, topic: string): Promise<void> {
  await topics.ensure([topic], {
    partitions: 1,
    configEntries: [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '0' },
    ],
  });
}

/**
 * Reads the latest committed offset of `sourceId`. Call only after the producer has fenced older
 * instances and settleOpenTransactions() has closed or waited out what was open on the topic: the
 * end offset read here is the last stable offset, and an open transaction would hide what follows it.
 */
export async function readOffset(kafka: Kafka, topic: string, sourceId: string, timeoutMs = 60_000): Promise<StoredOffset | null> {
  const admin = kafka.admin();
  await admin.connect();
  let end: bigint;
  try {
    const partitions = await admin.fetchTopicOffsets(topic);
    end = BigInt(partitions.find((p) => p.partition === 0)?.high ?? '0');
  } finally {
    await admin.disconnect();
  }
  if (end === 0n) return null;

  let latest: StoredOffset | null = null;
  await readPartitions(kafka, {
    purpose: 'offset reader',
    readUncommitted: false,
    ranges: [{ topic, partition: 0, end }],
    timeoutMs,
    onBatch: (batch) => {
      for (const message of batch.messages) {
        if (message.key?.toString('utf8') === sourceId && message.value) {
          latest = { ...parseOffset(message.value), recordOffset: message.offset, partitionEnd: end.toString() };
        }
      }
    },
  });
  return latest;
}
