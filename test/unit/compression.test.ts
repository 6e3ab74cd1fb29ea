// The codecs behind WALCAST_KAFKA_COMPRESSION (src/kafka/compression.ts), registered with kafkajs:
// each round-trips any bytes through kafkajs' own codec table; LZ4 frames have the flags Kafka's
// Java reader needs (version 01, independent blocks, a valid header checksum); snappy also reads
// the xerial framing Java producers write. (Producing to the real broker, which decompresses every
// batch to validate it, is in test/integration/row-errors.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { compressedSize, kafkajsCompression, lz4Frame, snappyUncompress, COMPRESSION_NAMES } from '../../src/kafka/compression.ts';

const require = createRequire(import.meta.url);
const codecs = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> } | null;
};
const xxh32 = require('lz4js/xxh32.js') as { hash(seed: number, src: Uint8Array, index: number, length: number): number };
const snappy = require('snappyjs') as { compress(input: Buffer): Buffer };

/** Mostly compressible bytes with a random stretch, so both block kinds occur. */
const payload = fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 200_000 }), fc.constantFrom('a', 'abc', 'walcast ')).map(
  ([noise, repeats, unit]) => Buffer.concat([Buffer.from(noise), Buffer.from(unit.repeat(repeats))]),
);

test('every setting maps to kafkajs\' compression type, and each registered codec round-trips', async () => {
  assert.deepEqual(COMPRESSION_NAMES.map(kafkajsCompression), [0, 1, 2, 3, 4]);
  await fc.assert(
    fc.asyncProperty(payload, async (data) => {
      for (const name of COMPRESSION_NAMES.slice(1)) {
        const codec = codecs.lookupCodec(kafkajsCompression(name))!;
        const compressed = await codec.compress({ buffer: data });
        assert.deepEqual(await codec.decompress(compressed), data, name);
        assert.equal(compressedSize(name, data) > 0, true);
      }
      assert.equal(compressedSize('none', data), data.length);
    }),
    { numRuns: 60 },
  );
});

test('LZ4 frames: version 01 with independent blocks, 4 MiB blocks, a valid header checksum, an end mark', () => {
  for (const size of [0, 10, 70_000, 5 * 1024 * 1024]) {
    const data = Buffer.alloc(size, 'kafka');
    const frame = lz4Frame(data);
    assert.equal(frame.readUInt32LE(0), 0x184d2204);
    assert.equal(frame[4], 0x60, 'FLG: version 01, block independence, no checksums');
    assert.equal(frame[5], 0x70, 'BD: 4 MiB blocks');
    assert.equal(frame[6], (xxh32.hash(0, frame, 4, 2) >>> 8) & 0xff);
    assert.equal(frame.readUInt32LE(frame.length - 4), 0);
  }
});

test('snappy: raw blocks and xerial\'s framing (Java producers) both decompress', () => {
  const data = Buffer.from('walcast '.repeat(10_000));
  assert.deepEqual(snappyUncompress(snappy.compress(data)), data);
  const blocks = [data.subarray(0, 30_000), data.subarray(30_000)].map((part) => snappy.compress(part));
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const framed = Buffer.concat([header, ...blocks.flatMap((b) => [Buffer.from([b.length >>> 24, (b.length >>> 16) & 0xff, (b.length >>> 8) & 0xff, b.length & 0xff]), b])]);
  assert.deepEqual(snappyUncompress(framed), data);
});
