import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { frameRequest, groupMessagesPerPartition } from '../../src/kafka/kafkajs-patch.ts';
import { crc32c, nativeCrc32c, portableCrc32c } from '../../src/kafka/crc32c.ts';
import { murmur2 } from '../../src/kafka/murmur2.ts';
import { walcastPartitioner } from '../../src/kafka/producer.ts';
import { Partitioners } from 'kafkajs';
import { encodeCompressedProduceRequest, encodeProduceRequest, supportsFastEncoding, type ProduceRequestArgs } from '../../src/kafka/produce-request.ts';
// Registers snappy, LZ4 and zstd with kafkajs (both encoders compress through kafkajs' codec table).
import '../../src/kafka/compression.ts';

// kafkajs' own implementations, loaded from their files (not from the module cache the patch fills).
const require = createRequire(import.meta.url);
const original = (path: string): unknown => {
  const file = require.resolve(path);
  const module = { exports: {} as unknown };
  new Function('module', 'exports', 'require', require('node:fs').readFileSync(file, 'utf8'))(module, module.exports, createRequire(file));
  return module.exports;
};
const kafkajsCrc32c = original('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
const kafkajsGroup = original('kafkajs/src/producer/groupMessagesPerPartition.js') as typeof groupMessagesPerPartition;
const kafkajsMurmur2 = original('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: unknown) => number;
interface EncoderLike { buffer: Buffer }
type KafkajsRequestFactory = (args: ProduceRequestArgs) => { apiKey: number; apiVersion: number; encode(): Promise<EncoderLike> };
const kafkajsProduceV3 = original('kafkajs/src/protocol/requests/produce/v3/request.js') as KafkajsRequestFactory;
const kafkajsFrame = original('kafkajs/src/protocol/request.js') as (args: { correlationId: number; clientId: string | null; request: unknown }) => Promise<EncoderLike>;
// What walcast's producer gets for Produce requests: the patched module from kafkajs' module cache.
const patchedProduceV7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as KafkajsRequestFactory;
const kafkajsCodecs = require('kafkajs/src/protocol/message/compression/index.js') as { lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null };
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: bigint): unknown };

async function withClock<T>(now: number, run: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => now;
  try {
    return await run();
  } finally {
    Date.now = realNow;
  }
}

const bytes = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 8100, max: 17000 }).map((n) => Buffer.alloc(n, n & 0xff)) },
);
const produceArgs = fc.record({
  acks: fc.constantFrom(-1, 0, 1),
  timeout: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  transactionalId: fc.option(fc.string({ unit: 'grapheme', maxLength: 30 }), { nil: null }),
  producerId: fc.bigInt({ min: -1n, max: 2n ** 63n - 1n }).map((id) => Long.fromValue(id)),
  producerEpoch: fc.integer({ min: 0, max: 32767 }),
  compression: fc.constant(0),
  topicData: fc.array(
    fc.record({
      topic: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      partitions: fc.array(
        fc.record({
          partition: fc.integer({ min: 0, max: 1000 }),
          firstSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          messages: fc.array(fc.record({ key: bytes, value: bytes }), { minLength: 1, maxLength: 150 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

test('the one-pass Produce request has exactly kafkajs\' bytes for any topics, partitions, keys and values', async () => {
  await fc.assert(fc.asyncProperty(produceArgs, fc.integer({ min: 0, max: 2 ** 42 }), async (args, now) => {
    assert.ok(supportsFastEncoding(args));
    const expected = await withClock(now, async () => (await kafkajsProduceV3(args).encode()).buffer);
    assert.deepEqual(encodeProduceRequest(args, now), expected);
    // and the module kafkajs' producer loads (v7 on Kafka 4) sends the same bytes
    const sent = await withClock(now, async () => (await patchedProduceV7(args).encode()).buffer);
    assert.deepEqual(sent, expected);
  }), { numRuns: 300 });
});

test('a compressed Produce request (gzip, snappy, LZ4, zstd) has exactly kafkajs\' bytes', async () => {
  const compressedArgs = fc.tuple(produceArgs, fc.constantFrom(1, 2, 3, 4)).map(([args, compression]) => ({ ...args, compression }));
  await fc.assert(fc.asyncProperty(compressedArgs, fc.integer({ min: 0, max: 2 ** 42 }), async (args, now) => {
    assert.ok(supportsFastEncoding(args));
    const expected = await withClock(now, async () => (await kafkajsProduceV3(args).encode()).buffer);
    const codec = kafkajsCodecs.lookupCodec(args.compression)!;
    assert.deepEqual(await encodeCompressedProduceRequest(args, (records) => codec.compress({ buffer: records }), now), expected);
    const sent = await withClock(now, async () => (await patchedProduceV7(args).encode()).buffer);
    assert.deepEqual(sent, expected);
    // the batch says which codec (attributes' low three bits): the first batch's attributes follow
    // the request's header, the topic's name and the batch's fixed fields
    const topicBytes = Buffer.byteLength(args.topicData[0]!.topic, 'utf8');
    const idBytes = args.transactionalId === null ? 0 : Buffer.byteLength(args.transactionalId, 'utf8');
    const attributesAt = 2 + idBytes + 2 + 4 + 4 + 2 + topicBytes + 4 + 4 + 4 + 8 + 4 + 4 + 1 + 4;
    assert.equal(sent.readInt16BE(attributesAt) & 7, args.compression);
  }), { numRuns: 150 });
});

test('a Produce request is framed in the room left before its body: the bytes kafkajs frames', async () => {
  await fc.assert(fc.asyncProperty(produceArgs, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.option(fc.string({ unit: 'grapheme', maxLength: 120 }), { nil: null }), async (args, correlationId, clientId) => {
    const now = 1_750_000_000_000;
    const expected = await withClock(now, async () => (await kafkajsFrame({ correlationId, clientId, request: kafkajsProduceV3(args) })).buffer);
    const framed = await withClock(now, async () => (await frameRequest({ correlationId, clientId, request: patchedProduceV7(args) as never })).buffer);
    assert.deepEqual(framed.subarray(8), expected.subarray(8), 'after the api key and version (v7 here, v3 there)');
    assert.deepEqual(framed.subarray(0, 4), expected.subarray(0, 4), 'size');
  }), { numRuns: 200 });
});

test('Produce requests the one-pass encoder does not cover are encoded by kafkajs itself', async () => {
  const base = { acks: -1, timeout: 30000, transactionalId: 'tx', producerId: Long.fromValue(7n), producerEpoch: 1, topicData: [] as ProduceRequestArgs['topicData'] };
  const message = { key: Buffer.from('k'), value: Buffer.from('v') };
  const uncovered: ProduceRequestArgs[] = [
    { ...base, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ ...message, headers: { h: 'x' } }] }] }] },
    { ...base, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ ...message, timestamp: 1700000000000 }] }] }] },
    { ...base, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'text key', value: message.value }] }] }] },
  ];
  for (const args of uncovered) {
    assert.equal(supportsFastEncoding(args), false);
    const now = 1_750_000_000_000;
    const expected = await withClock(now, async () => (await kafkajsProduceV3(args).encode()).buffer);
    const sent = await withClock(now, async () => (await patchedProduceV7(args).encode()).buffer);
    assert.deepEqual(sent, expected);
  }
});

test('request framing equals kafkajs\' for any api, correlation id, client id and body', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.option(fc.string({ unit: 'grapheme', maxLength: 30 }), { nil: null }), fc.uint8Array({ maxLength: 3000 }),
    async (apiKey, apiVersion, correlationId, clientId, body) => {
      const holder = { buf: Buffer.from(body), buffer: Buffer.from(body) };
      const request = { apiKey, apiVersion, encode: () => Promise.resolve(holder) };
      const expected = (await kafkajsFrame({ correlationId, clientId, request })).buffer;
      const framed = await frameRequest({ correlationId, clientId, request: request as never });
      assert.deepEqual(framed.buffer, expected);
    },
  ), { numRuns: 300 });
});

test('crc32c (native and portable) equals kafkajs\' byte-at-a-time CRC-32C for any bytes, views included', () => {
  // The binding is an optional dependency with a binary for this platform: it must have loaded here.
  assert.ok(nativeCrc32c, '@node-rs/crc32 did not load');
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the standard check value
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(20), (bytes, skip) => {
    const expected = kafkajsCrc32c(Buffer.from(bytes));
    assert.equal(crc32c(Buffer.from(bytes)), expected);
    assert.equal(portableCrc32c(bytes), expected);
    // a view into a larger buffer (as the Produce encoder passes), and a plain Uint8Array
    const padded = Buffer.alloc(bytes.length + skip + 3, 0xa5);
    padded.set(bytes, skip);
    assert.equal(crc32c(padded.subarray(skip, skip + bytes.length)), expected);
    assert.equal(crc32c(new Uint8Array(padded.buffer, padded.byteOffset + skip, bytes.length)), expected);
  }), { numRuns: 2000 });
});

test('linear grouping by partition equals kafkajs\' for any messages and partitioner', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }), fc.boolean(), (partitions, noMetadata) => {
    const messages = partitions.map((p, i) => ({ p, i }));
    const args = { topic: 't', partitionMetadata: noMetadata ? [] : [{}], messages, partitioner: ({ message }: { message: { p: number } }) => message.p };
    assert.deepEqual(groupMessagesPerPartition(args), kafkajsGroup(args));
  }), { numRuns: 500 });
});

test('walcast\'s partitioner picks what kafkajs\' DefaultPartitioner picks, for any key and partitions', () => {
  const metadata = fc.oneof(
    fc.constant([{ partitionId: 0, leader: 1 }]),
    fc.constant([{ partitionId: 0, leader: -1 }]),
    fc.integer({ min: 2, max: 6 }).map((n) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: i % 3 === 2 ? -1 : 1 }))),
  );
  const message = fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), { nil: null }),
    value: fc.constant(Buffer.from('v')),
    partition: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  });
  fc.assert(fc.property(metadata, message, (partitionMetadata, msg) => {
    const args = { topic: 't', partitionMetadata: partitionMetadata as never, message: msg };
    const ours = walcastPartitioner()(args);
    // a keyless record on several partitions goes round robin from a random start: only its range is fixed
    if (msg.key === null && msg.partition === undefined && partitionMetadata.length > 1) {
      assert.ok(partitionMetadata.some((p) => p.partitionId === ours));
      return;
    }
    assert.equal(ours, Partitioners.DefaultPartitioner()(args));
  }), { numRuns: 2000 });
});

test('32-bit murmur2 equals kafkajs\' BigInt murmur2 (and so the Java client\'s partition) for any key', () => {
  // Known values of Kafka's Java Utils.murmur2 (its UtilsTest).
  assert.equal(murmur2(Buffer.from('21')), -973932308);
  assert.equal(murmur2(Buffer.from('foobar')), -790332482);
  assert.equal(murmur2(Buffer.from('a-little-bit-long-string')), -985981536);
  assert.equal(murmur2(Buffer.from('a-little-bit-longer-string')), -1486304829);
  assert.equal(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')), -58897971);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
    assert.equal(murmur2(Buffer.from(bytes)), kafkajsMurmur2(Buffer.from(bytes)));
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (text) => {
    assert.equal(murmur2(text), kafkajsMurmur2(text));
  }), { numRuns: 500 });
});
