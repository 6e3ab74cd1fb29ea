/**
 * kafkajs 2.2.4 internals replaced by equivalent, faster ones (measured with --cpu-prof):
 * - grouping a produce request's messages by partition used
 *   `Object.assign(result, { [p]: [...current, message] })`, quadratic in the messages per request
 *   (12% of walcast's CPU at 2,000 messages per request);
 * - the record-batch CRC-32C went a byte at a time (6%); slicing-by-8 does eight (crc32c.ts);
 * - the Produce request was built record by record in zero-filled buffers and copied four times
 *   (15%); produce-request.ts writes it once, compressed batches too;
 * - every request was copied twice more to prepend its header; now once;
 * - the partitioner's murmur2 hash ran on BigInt (5%); murmur2.ts uses 32-bit integers.
 * The replacements enter the CommonJS module cache before kafkajs loads: import this module
 * before anything imports kafkajs.
 */
import { createRequire } from 'node:module';
import { crc32c } from './crc32c.ts';
import { murmur2 } from './murmur2.ts';
import { encodeCompressedProduceRequest, encodeProduceRequest, supportsFastEncoding, type ProduceRequestArgs } from './produce-request.ts';

interface GroupArgs<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}

export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupArgs<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  // walcast's topics mostly have one partition: then the group is a single copy, not an array
  // grown a push at a time. The partitioner is still asked (a custom one may refuse a message);
  // its argument object is one per request, not one per message (it is read, not kept: kafkajs'
  // partitioners destructure it).
  const partitions = new Int32Array(messages.length);
  const args = { topic, partitionMetadata, message: messages[0]! };
  let single = true;
  for (let i = 0; i < messages.length; i++) {
    args.message = messages[i]!;
    partitions[i] = partitioner(args);
    if (partitions[i] !== partitions[0]) single = false;
  }
  if (single && messages.length > 0) {
    result[partitions[0]!] = messages.slice();
    return result;
  }
  for (let i = 0; i < messages.length; i++) (result[partitions[i]!] ??= []).push(messages[i]!);
  return result;
}

const require = createRequire(import.meta.url);
function replaceModule(specifier: string, exports: unknown): void {
  const modulePath = require.resolve(specifier);
  if (!require.cache[modulePath]) {
    require.cache[modulePath] = { id: modulePath, filename: modulePath, loaded: true, exports } as unknown as NodeJS.Module;
  }
}
replaceModule('kafkajs/src/producer/groupMessagesPerPartition.js', groupMessagesPerPartition);
replaceModule('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js', crc32c);
replaceModule('kafkajs/src/producer/partitioners/default/murmur2.js', murmur2);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  /** walcast's Produce bodies: unwritten bytes before the body in `buf`, for frameRequest. */
  headroom?: number;
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as { prototype: KafkajsEncoder };

/** A kafkajs Encoder holding these bytes, for code that expects one (`writeEncoder`, `.buffer`). */
function encoderHolding(buf: Buffer): KafkajsEncoder {
  const encoder = Object.create(Encoder.prototype) as KafkajsEncoder;
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}

/** As a kafkajs Encoder's, `.buffer` of a body written after headroom is the body alone. */
const HeadroomEncoder = Object.create(Encoder.prototype, {
  buffer: {
    get(this: KafkajsEncoder): Buffer {
      return this.buf.subarray(this.headroom, this.offset);
    },
  },
}) as KafkajsEncoder;

/** An Encoder of a body that starts `headroom` bytes into `buf` (encodeProduceRequest's headroom). */
function bodyAfterHeadroom(buf: Buffer, headroom: number): KafkajsEncoder {
  const encoder = Object.create(HeadroomEncoder) as KafkajsEncoder;
  encoder.buf = buf;
  encoder.offset = buf.length;
  encoder.headroom = headroom;
  return encoder;
}

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<KafkajsEncoder>;
}

/** Room left before a Produce body for its framing: the framing's fixed 14 bytes and a client id. */
const PRODUCE_HEADROOM = 256;

/**
 * kafkajs' request framing (size, api key and version, correlation id, client id, body): written
 * in the room before a Produce body (no copy of the records), or in one copy.
 */
export async function frameRequest({ correlationId, clientId, request }: { correlationId: number; clientId: string | null; request: KafkajsRequest }): Promise<KafkajsEncoder> {
  const encoded = await request.encode();
  const headroom = encoded.headroom ?? 0;
  const body = headroom > 0 ? null : encoded.buffer;
  const clientIdBytes = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
  const header = 4 + 2 + 2 + 4 + 2 + clientIdBytes;
  const bodyLength = body ? body.length : encoded.offset - headroom;
  const size = header - 4 + bodyLength;
  const inPlace = body === null && header <= headroom;
  const buf = inPlace ? encoded.buf.subarray(headroom - header, encoded.offset) : Buffer.allocUnsafe(4 + size);
  let offset = buf.writeInt32BE(size, 0);
  offset = buf.writeInt16BE(request.apiKey, offset);
  offset = buf.writeInt16BE(request.apiVersion, offset);
  offset = buf.writeInt32BE(correlationId, offset);
  if (clientId == null) {
    offset = buf.writeInt16BE(-1, offset);
  } else {
    offset = buf.writeInt16BE(clientIdBytes, offset);
    offset += buf.write(clientId, offset, 'utf8');
  }
  if (body) body.copy(buf, offset);
  else if (!inPlace) encoded.buf.copy(buf, offset, headroom, encoded.offset);
  return encoderHolding(buf);
}
replaceModule('kafkajs/src/protocol/request.js', frameRequest);

type ProduceRequestFactory = (args: ProduceRequestArgs) => KafkajsRequest;
/** kafkajs' codec table (compression.ts registers snappy, LZ4 and zstd in it). */
const kafkajsCodecs = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null;
};
/** kafkajs' Produce v3 request (v4-v7 reuse it), encoded in one pass when produce-request.ts covers the arguments. */
const produceV3Path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
if (!require.cache[produceV3Path]) {
  const kafkajsProduceV3 = require(produceV3Path) as ProduceRequestFactory;
  require.cache[produceV3Path]!.exports = (args: ProduceRequestArgs): KafkajsRequest => {
    const request = kafkajsProduceV3(args);
    if (!supportsFastEncoding(args)) return request;
    const compression = args.compression ?? 0;
    if (compression === 0) {
      return { ...request, encode: () => Promise.resolve(bodyAfterHeadroom(encodeProduceRequest(args, Date.now(), PRODUCE_HEADROOM), PRODUCE_HEADROOM)) };
    }
    // A codec kafkajs does not know: its own encoder throws its own error.
    const codec = kafkajsCodecs.lookupCodec(compression);
    if (!codec) return request;
    const compress = (records: Buffer): Promise<Buffer> => codec.compress({ buffer: records });
    return { ...request, encode: async () => bodyAfterHeadroom(await encodeCompressedProduceRequest(args, compress, Date.now(), PRODUCE_HEADROOM), PRODUCE_HEADROOM) };
  };
}

/** The parts of kafkajs' transaction manager walcast needs to end a transaction Kafka left open. */
export interface EosManagerInternals {
  getProducerId(): unknown;
  addPartitionsToTransaction(topicData: Array<{ topic: string; partitions: Array<{ partition: number }> }>): Promise<void>;
}

const eosManagers = new Map<string, EosManagerInternals>();

/** The transaction manager of the latest kafkajs producer created with this transactional id. */
export function eosManagerFor(transactionalId: string): EosManagerInternals | undefined {
  return eosManagers.get(transactionalId);
}

// kafkajs keeps its transaction manager private; adding a partition to a transaction without
// producing to it is the only way to write a marker that closes a transaction the broker left open.
const eosManagerPath = require.resolve('kafkajs/src/producer/eosManager/index.js');
if (!require.cache[eosManagerPath]) {
  const createEosManager = require(eosManagerPath) as (options: { transactionalId?: string }) => EosManagerInternals;
  require.cache[eosManagerPath]!.exports = (options: { transactionalId?: string }): EosManagerInternals => {
    const manager = createEosManager(options);
    if (options.transactionalId) eosManagers.set(options.transactionalId, manager);
    return manager;
  };
}
