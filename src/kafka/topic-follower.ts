/**
 * Follows whole topics from their beginning for as long as the process runs: every record, in
 * offset order per partition, to one handler. A worker follows its config and status topics this
 * way, so a change any worker writes reaches every worker. kafkajs offers only a group consumer:
 * the follower uses a group of its own (a fresh id, nothing committed), so it gets every partition.
 *
 * `caughtUp()` resolves once everything written before the follower started has been handled;
 * `handled(topic, partition, offset)` once a given record has been (a writer waits for its own
 * record to come back, so it answers with the state every worker converges to).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../log.ts';
import { retryUntil } from './retry-until.ts';

export interface FollowedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | null;
  /** null: a tombstone. */
  value: Buffer | null;
}

interface Waiter {
  topic: string;
  partition: number;
  /** Resolve once the position passes this offset. */
  offset: bigint;
  resolve(): void;
}

const positionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class TopicFollower {
  private readonly kafka: Kafka;
  private readonly topics: readonly string[];
  private readonly purpose: string;
  private readonly onRecord: (record: FollowedRecord) => Promise<void> | void;
  private readonly log: Logger;
  private consumer: Consumer | null = null;
  /** Next offset to handle, by topic and partition. */
  private readonly positions = new Map<string, bigint>();
  private waiters: Waiter[] = [];

  constructor(options: { kafka: Kafka; topics: readonly string[]; purpose: string; log: Logger; onRecord: (record: FollowedRecord) => Promise<void> | void }) {
    this.kafka = options.kafka;
    this.topics = options.topics;
    this.purpose = options.purpose;
    this.onRecord = options.onRecord;
    this.log = options.log;
  }

  /** Starts following; resolves once the records that were in the topics at the start are handled. */
  async start(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const ends = await retryUntil(started + timeoutMs, () => this.endOffsets(), (error, delayMs) => this.log.warn({ err: error, retryInMs: delayMs }, `reading the end of ${this.topics.join(', ')} failed; retrying`));
    const consumer = this.kafka.consumer({ groupId: `walcast-${this.purpose.replace(/\W+/g, '-')}-${randomUUID()}`, maxWaitTimeInMs: 100, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 } });
    this.consumer = consumer;
    // Control records and compacted gaps move the position without a message.
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => this.advance(event.payload.topic, event.payload.partition, BigInt(event.payload.lastOffset) + 1n));
    consumer.on(consumer.events.CRASH, (event) => this.log.warn({ err: event.payload.error, restart: event.payload.restart }, `following ${this.topics.join(', ')} failed; kafkajs restarts the reader`));
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const offset = BigInt(message.offset);
        await this.onRecord({ topic, partition, offset, key: message.key?.toString('utf8') ?? null, value: message.value });
        this.advance(topic, partition, offset + 1n);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(ends.filter((e) => e.end > 0n).map((e) => this.handled(e.topic, e.partition, e.end - 1n))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms reading ${this.topics.join(', ')} (${this.purpose})`)), Math.max(0, started + timeoutMs - Date.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async endOffsets(): Promise<Array<{ topic: string; partition: number; end: bigint }>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends: Array<{ topic: string; partition: number; end: bigint }> = [];
      for (const topic of this.topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition: p.partition, end: BigInt(p.high) });
      }
      return ends;
    } finally {
      await admin.disconnect();
    }
  }

  /** Resolves once the record at `offset` of the partition (or a later one) has been handled. */
  handled(topic: string, partition: number, offset: bigint): Promise<void> {
    if ((this.positions.get(positionKey(topic, partition)) ?? 0n) > offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ topic, partition, offset, resolve }));
  }

  private advance(topic: string, partition: number, next: bigint): void {
    const key = positionKey(topic, partition);
    if ((this.positions.get(key) ?? 0n) >= next) return;
    this.positions.set(key, next);
    this.waiters = this.waiters.filter((w) => {
      if (w.topic !== topic || w.partition !== partition || w.offset >= next) return true;
      w.resolve();
      return false;
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
