/**
 * Reads given partitions up to given end offsets and stops: walcast's own position and the records
 * of transactions left open are read this way at start. kafkajs offers only a group consumer, so
 * each read uses a throwaway group and never commits.
 */
import { randomUUID } from 'node:crypto';
import type { Batch, Kafka } from 'kafkajs';

export interface PartitionRange {
  topic: string;
  partition: number;
  /** First offset to read; undefined: from the beginning of the partition. */
  from?: bigint;
  /** Read until the offset before this one has been passed. */
  end: bigint;
}

export interface PartitionReadOptions {
  /** Names the read in the consumer group id and in errors. */
  purpose: string;
  readUncommitted: boolean;
  ranges: PartitionRange[];
  timeoutMs: number;
  onBatch(batch: Batch): void;
}

// A crash (e.g. the group coordinator still loading after a broker restart) must reach the caller,
// which retries the whole session: kafkajs' own restart runs outside any promise walcast awaits,
// and its failure would be an unhandled rejection that kills the process.
const noRestartRetry = { retries: 5, restartOnFailure: async (): Promise<boolean> => false };

const rangeKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export async function readPartitions(kafka: Kafka, options: PartitionReadOptions): Promise<void> {
  const pending = new Map(options.ranges.filter((r) => r.end > (r.from ?? 0n)).map((r) => [rangeKey(r.topic, r.partition), r]));
  if (pending.size === 0) return;
  const consumer = kafka.consumer({
    groupId: `walcast-${options.purpose.replace(/\W+/g, '-')}-${randomUUID()}`,
    readUncommitted: options.readUncommitted,
    maxWaitTimeInMs: 100,
    retry: noRestartRetry,
  });
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A crash or the timeout may reject before `done` is awaited (during consumer.run()).
  done.catch(() => undefined);
  // lastOffset covers control records and aborted batches too, unlike the messages themselves.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const key = rangeKey(event.payload.topic, event.payload.partition);
    const range = pending.get(key);
    if (range && BigInt(event.payload.lastOffset) + 1n >= range.end) pending.delete(key);
    if (pending.size === 0) resolveDone();
  });
  consumer.on(consumer.events.CRASH, (event) => rejectDone(event.payload.error));
  const timer = setTimeout(
    () => rejectDone(new Error(`timed out after ${options.timeoutMs} ms reading ${[...pending.values()].map((r) => `${r.topic}-${r.partition} up to offset ${r.end}`).join(', ')} (${options.purpose})`)),
    options.timeoutMs,
  );
  try {
    await consumer.connect();
    // Other partitions of the same topics start at their end: nothing of theirs is read.
    const fromBeginning = options.ranges.some((r) => r.from === undefined);
    await consumer.subscribe({ topics: [...new Set(options.ranges.map((r) => r.topic))], fromBeginning });
    await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => options.onBatch(batch) });
    for (const r of options.ranges) {
      if (r.from !== undefined) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.from.toString() });
    }
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
