/**
 * Reading a compacted single-partition topic (positions, connector configs) the way compaction
 * means it: the last record of each key counts, a tombstone removes the key. Read up to the end
 * as it was when the read began (the last stable offset: committed records only).
 */
import type { Kafka } from 'kafkajs';
import { readPartitions } from './partition-reader.ts';

export interface LatestRecord {
  value: Buffer;
  /** Kafka offset of the record. */
  offset: string;
}

export interface CompactedRead {
  /** Each key's last record (keys whose last record is a tombstone are absent). */
  latest: Map<string, LatestRecord>;
  /** End of partition 0 when the read began. */
  end: bigint;
}

export async function readCompacted(kafka: Kafka, topic: string, purpose: string, timeoutMs = 60_000, wanted?: (key: string) => boolean): Promise<CompactedRead> {
  const admin = kafka.admin();
  await admin.connect();
  let end: bigint;
  try {
    const partitions = await admin.fetchTopicOffsets(topic);
    end = BigInt(partitions.find((p) => p.partition === 0)?.high ?? '0');
  } finally {
    await admin.disconnect();
  }
  const latest = new Map<string, LatestRecord>();
  if (end === 0n) return { latest, end };
  await readPartitions(kafka, {
    purpose,
    readUncommitted: false,
    ranges: [{ topic, partition: 0, end }],
    timeoutMs,
    onBatch: (batch) => {
      for (const message of batch.messages) {
        const key = message.key?.toString('utf8');
        if (key === undefined || (wanted && !wanted(key))) continue;
        if (message.value) latest.set(key, { value: message.value, offset: message.offset });
        else latest.delete(key);
      }
    },
  });
  return { latest, end };
}
