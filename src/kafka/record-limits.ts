/**
 * The broker refuses a record batch larger than its topic's `max.message.bytes` (the broker's
 * `message.max.bytes` unless the topic overrides it; 1 MiB + 12 bytes by default), with
 * MESSAGE_TOO_LARGE. Retrying cannot help, so walcast knows each topic's limit and checks every
 * record against it before it sends anything: a record that cannot fit is a permanent error of
 * that row (WALCAST_ERRORS_TOLERANCE decides), never a fault to retry forever.
 */
import type { Admin } from 'kafkajs';
import { compressedSize, type CompressionName } from './compression.ts';
import type { KafkaRecord } from './producer.ts';

/** Kafka's default max.message.bytes: assumed for a topic until its own limit is known. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1048588;

/** A record batch's header (61 bytes) plus one record's framing (attributes, varints), rounded up. */
export const BATCH_OVERHEAD_BYTES = 100;

/** Bytes of a record's headers on the wire (names, values, their lengths). */
export function headerBytes(record: KafkaRecord): number {
  let bytes = 0;
  if (record.headers) for (const [name, value] of Object.entries(record.headers)) bytes += 10 + Buffer.byteLength(name) + value.length;
  return bytes;
}

/** What a record would take as the only record of its batch, uncompressed. */
export function recordBatchBytes(record: KafkaRecord): number {
  return (record.key?.length ?? 0) + (record.value?.length ?? 0) + headerBytes(record) + BATCH_OVERHEAD_BYTES;
}

/** A record larger than its topic accepts, even alone in its batch (and compressed, when configured). */
export class RecordTooLargeError extends Error {
  readonly code = 'WALCAST_RECORD_TOO_LARGE';
  readonly topic: string;
  /** The record alone in a batch, uncompressed. */
  readonly bytes: number;
  /** The topic's max.message.bytes. */
  readonly limit: number;
  readonly compression: CompressionName;
  /** The batch compressed with `compression` (null without compression). */
  readonly compressedBytes: number | null;

  constructor(topic: string, bytes: number, limit: number, compression: CompressionName, compressedBytes: number | null) {
    super(
      `a record of ${bytes} bytes${compressedBytes === null ? '' : ` (${compressedBytes} compressed with ${compression})`} ` +
        `exceeds the ${limit} bytes topic ${topic} accepts (max.message.bytes)`,
    );
    this.name = 'RecordTooLargeError';
    this.topic = topic;
    this.bytes = bytes;
    this.limit = limit;
    this.compression = compression;
    this.compressedBytes = compressedBytes;
  }
}

/**
 * Whether `record` fits `limit` as the only record of its batch; throws RecordTooLargeError when
 * it does not. With compression the batch is measured compressed, as the broker measures it.
 */
export function checkRecordFits(record: KafkaRecord, topicLimit: number, compression: CompressionName): void {
  const bytes = recordBatchBytes(record);
  if (bytes <= topicLimit) return;
  if (compression === 'none') throw new RecordTooLargeError(record.topic, bytes, topicLimit, compression, null);
  const parts: Buffer[] = [];
  if (record.key) parts.push(record.key);
  if (record.value) parts.push(record.value);
  const compressed = compressedSize(compression, Buffer.concat(parts)) + headerBytes(record) + BATCH_OVERHEAD_BYTES;
  if (compressed > topicLimit) throw new RecordTooLargeError(record.topic, bytes, topicLimit, compression, compressed);
}

/** Each topic's max.message.bytes as the broker reports it (its own setting or the broker's default). */
export async function describeMaxMessageBytes(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const limits = new Map<string, number>();
  if (topics.length === 0) return limits;
  // kafkajs' ConfigResourceTypes.TOPIC is 2.
  const result = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })),
  });
  for (const resource of result.resources) {
    const entry = resource.configEntries.find((e) => e.configName === 'max.message.bytes');
    const value = Number(entry?.configValue);
    if (Number.isSafeInteger(value) && value > 0) limits.set(resource.resourceName, value);
  }
  return limits;
}
