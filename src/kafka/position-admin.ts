/**
 * A source's stored position read and rewritten from outside the source (the worker's offsets
 * REST API), exactly once.
 *
 * A rewrite goes through the same prelude as a starting source (delivery.ts openDelivery): it
 * takes the source's own transactional id, whose InitProducerId fences every older instance
 * (a zombie still running on a worker that has not seen the stop can no longer commit, and its
 * open transaction is aborted), settles what was left open, reads the position, and writes the new
 * one (or a tombstone) in a transaction of its own. An instance started afterwards fences this
 * writer in turn and reads the new position first: it resumes from it, and nothing older can
 * overwrite it.
 */
import { emptyStats } from '../connector.ts';
import type { Logger } from '../log.ts';
import { openDelivery } from './delivery.ts';
import { offsetRecord, readOffset, type SourcePosition } from './offsets.ts';
import { createKafka, KafkajsTransactionalProducer, sendInOwnTransaction } from './producer.ts';
import type { KafkaSecurity } from './security.ts';
import { TopicManager } from './topics.ts';

export interface PositionAdminOptions {
  brokers: string[];
  clientId: string;
  security: KafkaSecurity;
  /** The source's transactional id: writing under it fences the source's instances. */
  transactionalId: string;
  offsetsTopic: string;
  /** The key of the source's record in the offsets topic. */
  sourceId: string;
  /** As openDelivery: the source's topics, whose open transactions are settled before reading. */
  topicPrefix: string;
  extraTopics: string[];
  openTransactionWaitMs: number;
  log: Logger;
}

/** The committed position, or null (none, or no offsets topic yet). Fences nothing: a running source is not disturbed. */
export async function readPosition(options: PositionAdminOptions): Promise<SourcePosition | null> {
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, security: options.security, log: options.log, retries: 5 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(options.offsetsTopic)) return null;
  } finally {
    await admin.disconnect();
  }
  return (await readOffset(kafka, options.offsetsTopic, options.sourceId))?.position ?? null;
}

/**
 * Fences the source's instances, then replaces its position with `change(current)` (null: a
 * tombstone, the source starts as new). Resolves once the change is committed.
 */
export async function rewritePosition(options: PositionAdminOptions, change: (current: SourcePosition | null) => SourcePosition | null): Promise<void> {
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, security: options.security, log: options.log, retries: 5 });
  const topics = new TopicManager(kafka, { partitions: 1, replicationFactor: -1 });
  const producer = new KafkajsTransactionalProducer({ kafka, transactionalId: options.transactionalId, transactionTimeoutMs: 60_000 });
  try {
    const { stored } = await openDelivery<SourcePosition>({
      kafka,
      topics,
      producer,
      brokers: options.brokers,
      offsetsTopic: options.offsetsTopic,
      sourceId: options.sourceId,
      topicPrefix: options.topicPrefix,
      extraTopics: options.extraTopics,
      openTransactionWaitMs: options.openTransactionWaitMs,
      sendChunkEvents: 1,
      positionJson: (position) => position,
      stats: emptyStats(),
      log: options.log,
      stage: () => undefined,
    });
    const next = change(stored?.position ?? null);
    const record = next === null ? { topic: options.offsetsTopic, key: Buffer.from(options.sourceId), value: null } : offsetRecord(options.offsetsTopic, options.sourceId, next);
    await sendInOwnTransaction(producer, [record]);
  } finally {
    await producer.disconnect().catch(() => undefined);
    await topics.disconnect().catch(() => undefined);
  }
}
