/**
 * kafkajs 2.2.4's Produce request (v3, which v4-v7 reuse) built in one pass into one buffer.
 *
 * kafkajs builds every record in its own zero-filled 512-byte Encoder, every varint through
 * `Buffer.from([...])`, then copies records into the batch, the batch into the partition, the
 * partition into the topic and the topic into the request, doubling buffers as they grow: 15% of
 * walcast's CPU and much of its garbage at 2,000 records per request (--cpu-prof). Here the sizes
 * are computed first and each byte is written once. Compressed batches are written the same way,
 * their records through the codec. The bytes are identical to kafkajs' (unit test against its own
 * modules); anything walcast never sends (headers, timestamps, string keys) goes through kafkajs'
 * own encoder.
 */
import { crc32c } from './crc32c.ts';

export interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
}

export interface ProducePartitionData {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}

export interface ProduceTopicData {
  topic: string;
  partitions: ProducePartitionData[];
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  /** kafkajs' Long (a wrapper holding a bigint), a bigint or a number. */
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: ProduceTopicData[];
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL_ATTRIBUTE = 16;
/** The low three bits of a batch's attributes: its codec (0 none, 1 gzip, 2 snappy, 3 LZ4, 4 zstd). */
const COMPRESSION_CODEC_MASK = 0x07;
/** RecordBatch fields after Length up to and including the record count. */
const BATCH_HEADER_AFTER_LENGTH = 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** From the start of a RecordBatch to its Attributes field, where the CRC's coverage begins. */
const CRC_COVERAGE_START = 8 + 4 + 4 + 1 + 4;

function varIntSize(zigZagged: number): number {
  if (zigZagged < 0x80) return 1;
  if (zigZagged < 0x4000) return 2;
  if (zigZagged < 0x200000) return 3;
  if (zigZagged < 0x10000000) return 4;
  return 5;
}

/** Zig-zag encoding of a non-negative int32 (lengths, offsets); -1 (null) is 1. */
function zigZag(value: number): number {
  return value >= 0 ? value * 2 : -2 * value - 1;
}

function writeUVarInt(buf: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

function isPlainMessage(message: ProduceMessage): boolean {
  const { key, value, headers, timestamp } = message;
  if (timestamp != null) return false;
  if (key != null && !Buffer.isBuffer(key)) return false;
  if (value != null && !Buffer.isBuffer(value)) return false;
  if (headers != null) {
    for (const name in headers as object) return false;
  }
  return true;
}

/**
 * Whether the one-pass encoders write exactly what kafkajs would for these messages (compressed
 * or not: kafkajs-patch.ts picks the encoder by `args.compression`).
 */
export function supportsFastEncoding(args: ProduceRequestArgs): boolean {
  for (const topic of args.topicData) {
    for (const partition of topic.partitions) {
      if (partition.messages.length === 0) return false;
      for (const message of partition.messages) if (!isPlainMessage(message)) return false;
    }
  }
  return true;
}

function bytesSize(bytes: Buffer | null | undefined): number {
  if (bytes == null) return 1;
  return varIntSize(zigZag(bytes.length)) + bytes.length;
}

function recordBodySize(message: ProduceMessage, offsetDelta: number): number {
  // attributes, timestampDelta (always 0 here), offsetDelta, key, value, header count (0)
  return 1 + 1 + varIntSize(zigZag(offsetDelta)) + bytesSize(message.key as Buffer | null) + bytesSize(message.value as Buffer | null) + 1;
}

/** Bytes of a partition's records; each record's body size goes to `bodySizes` from `at` on. */
function recordsSize(messages: ProduceMessage[], bodySizes: Int32Array, at: number): number {
  let size = 0;
  for (let i = 0; i < messages.length; i++) {
    const body = recordBodySize(messages[i]!, i);
    bodySizes[at + i] = body;
    size += varIntSize(zigZag(body)) + body;
  }
  return size;
}

function writeBytes(buf: Buffer, offset: number, bytes: Buffer | null | undefined): number {
  if (bytes == null) {
    buf[offset] = 1;
    return offset + 1;
  }
  offset = writeUVarInt(buf, offset, zigZag(bytes.length));
  bytes.copy(buf, offset);
  return offset + bytes.length;
}

function writeInt64(buf: Buffer, offset: number, value: number): void {
  buf.writeInt32BE(Math.floor(value / 4294967296), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function producerIdOf(value: unknown): bigint {
  if (value == null) return -1n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  const wrapped = (value as { value?: unknown }).value;
  if (typeof wrapped === 'bigint') return wrapped;
  return BigInt(String(value));
}

/** Room the request needs before its record batches: transactional id, acks, timeout, topic names. */
function requestLayout(args: ProduceRequestArgs): { transactionalIdBytes: number; topicNameBytes: number[]; size: number } {
  const transactionalId = args.transactionalId ?? null;
  const transactionalIdBytes = transactionalId === null ? 0 : Buffer.byteLength(transactionalId, 'utf8');
  let size = 2 + transactionalIdBytes + 2 + 4 + 4;
  const topicNameBytes: number[] = [];
  for (const topic of args.topicData) {
    const nameBytes = Buffer.byteLength(topic.topic, 'utf8');
    topicNameBytes.push(nameBytes);
    size += 2 + nameBytes + 4;
  }
  return { transactionalIdBytes, topicNameBytes, size };
}

/** Writes a partition's records (uncompressed) at `offset`; their body sizes are `bodySizes` from `at` on. */
function writeRecords(buf: Buffer, offset: number, messages: ProduceMessage[], bodySizes: Int32Array, at: number): number {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    offset = writeUVarInt(buf, offset, zigZag(bodySizes[at + i]!));
    buf[offset++] = 0; // attributes
    buf[offset++] = 0; // timestampDelta
    offset = writeUVarInt(buf, offset, zigZag(i));
    offset = writeBytes(buf, offset, message.key as Buffer | null);
    offset = writeBytes(buf, offset, message.value as Buffer | null);
    buf[offset++] = 0; // header count
  }
  return offset;
}

/**
 * The request around its record batches: `recordsBytes[i]` is the size of the i-th partition's
 * records section (compressed or not), written by `writeRecordsOf(buf, offset, i)`.
 */
function writeRequest(
  args: ProduceRequestArgs,
  now: number,
  headroom: number,
  codec: number,
  recordsBytes: number[],
  writeRecordsOf: (buf: Buffer, offset: number, batchIndex: number) => number,
): Buffer {
  const transactionalId = args.transactionalId ?? null;
  const producerId = BigInt.asIntN(64, producerIdOf(args.producerId));
  const producerEpoch = args.producerEpoch ?? 0;
  // kafkajs marks the batch transactional for a non-empty id only.
  const attributes = (transactionalId ? TRANSACTIONAL_ATTRIBUTE : 0) | (codec & COMPRESSION_CODEC_MASK);
  const layout = requestLayout(args);
  let size = layout.size + headroom;
  for (const records of recordsBytes) size += 4 + 4 + 8 + 4 + BATCH_HEADER_AFTER_LENGTH + records;

  const buf = Buffer.allocUnsafe(size);
  let offset = headroom;
  if (transactionalId === null) {
    offset = buf.writeInt16BE(-1, offset);
  } else {
    offset = buf.writeInt16BE(layout.transactionalIdBytes, offset);
    offset += buf.write(transactionalId, offset, 'utf8');
  }
  offset = buf.writeInt16BE(args.acks, offset);
  offset = buf.writeInt32BE(args.timeout, offset);
  offset = buf.writeInt32BE(args.topicData.length, offset);
  let batchIndex = 0;
  for (let t = 0; t < args.topicData.length; t++) {
    const topic = args.topicData[t]!;
    offset = buf.writeInt16BE(layout.topicNameBytes[t]!, offset);
    offset += buf.write(topic.topic, offset, 'utf8');
    offset = buf.writeInt32BE(topic.partitions.length, offset);
    for (const partition of topic.partitions) {
      const records = recordsBytes[batchIndex]!;
      const count = partition.messages.length;
      offset = buf.writeInt32BE(partition.partition, offset);
      offset = buf.writeInt32BE(8 + 4 + BATCH_HEADER_AFTER_LENGTH + records, offset);
      const batchStart = offset;
      offset = buf.writeInt32BE(0, offset); // FirstOffset, high bits
      offset = buf.writeInt32BE(0, offset); // FirstOffset, low bits
      offset = buf.writeInt32BE(BATCH_HEADER_AFTER_LENGTH + records, offset);
      offset = buf.writeInt32BE(0, offset); // PartitionLeaderEpoch
      buf[offset++] = MAGIC_BYTE;
      const crcAt = offset;
      offset += 4;
      offset = buf.writeInt16BE(attributes, offset);
      offset = buf.writeInt32BE(count - 1, offset);
      writeInt64(buf, offset, now);
      writeInt64(buf, offset + 8, now);
      offset += 16;
      offset = buf.writeBigInt64BE(producerId, offset);
      offset = buf.writeInt16BE(producerEpoch, offset);
      offset = buf.writeInt32BE(partition.firstSequence ?? 0, offset);
      offset = buf.writeInt32BE(count, offset);
      const recordsEnd = offset + records;
      offset = writeRecordsOf(buf, offset, batchIndex++);
      if (offset !== recordsEnd) throw new Error(`internal: records section is ${offset - recordsEnd + records} bytes, computed ${records}`);
      buf.writeUInt32BE(crc32c(buf.subarray(batchStart + CRC_COVERAGE_START, offset)), crcAt);
    }
  }
  if (offset !== size) throw new Error(`internal: produce request is ${offset} bytes, computed ${size}`);
  return buf;
}

/**
 * The Produce v3 request body (what kafkajs' `encode()` returns the bytes of), uncompressed, after
 * `headroom` unwritten bytes: room for the request's framing (kafkajs-patch.ts' frameRequest),
 * which then costs no copy of the body.
 */
export function encodeProduceRequest(args: ProduceRequestArgs, now = Date.now(), headroom = 0): Buffer {
  let messageCount = 0;
  for (const topic of args.topicData) for (const partition of topic.partitions) messageCount += partition.messages.length;
  // Computed while sizing the request, written while filling it.
  const bodySizes = new Int32Array(messageCount);
  const recordsBytes: number[] = [];
  const firstBody: number[] = [];
  const messagesOf: ProduceMessage[][] = [];
  let sized = 0;
  for (const topic of args.topicData) {
    for (const partition of topic.partitions) {
      firstBody.push(sized);
      messagesOf.push(partition.messages);
      recordsBytes.push(recordsSize(partition.messages, bodySizes, sized));
      sized += partition.messages.length;
    }
  }
  return writeRequest(args, now, headroom, 0, recordsBytes, (buf, offset, i) => writeRecords(buf, offset, messagesOf[i]!, bodySizes, firstBody[i]!));
}

/** Compresses a record batch's records section (Kafka's codec for the batch's compression attribute). */
export type RecordsCompressor = (records: Buffer) => Promise<Buffer>;

/**
 * The same request with each partition's records compressed by `compress` (the codec of
 * `args.compression`): the records are written once into a section of their own, compressed
 * (every partition at once: Node's zlib codecs run off the main thread), and the compressed bytes
 * copied into the request. A compressed batch is what the broker stores and the socket carries, so
 * a few times fewer bytes leave walcast than uncompressed.
 */
export async function encodeCompressedProduceRequest(args: ProduceRequestArgs, compress: RecordsCompressor, now = Date.now(), headroom = 0): Promise<Buffer> {
  const sections: Array<Promise<Buffer>> = [];
  for (const topic of args.topicData) {
    for (const { messages } of topic.partitions) {
      const bodySizes = new Int32Array(messages.length);
      const records = Buffer.allocUnsafe(recordsSize(messages, bodySizes, 0));
      writeRecords(records, 0, messages, bodySizes, 0);
      sections.push(compress(records));
    }
  }
  const compressed = await Promise.all(sections);
  return writeRequest(args, now, headroom, args.compression ?? 0, compressed.map((c) => c.length), (buf, offset, i) => offset + compressed[i]!.copy(buf, offset));
}
