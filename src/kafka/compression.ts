/**
 * Producer compression (WALCAST_KAFKA_COMPRESSION) and the codecs behind it, registered with
 * kafkajs for producing and for reading (the offsets topic, `walcast tail`), so walcast reads
 * batches that other producers compressed with any of Kafka's codecs too.
 *
 * kafkajs ships gzip only. zstd comes from Node's own zlib (Node >= 22.15); snappy and LZ4 from
 * two small pure-JavaScript packages (snappyjs, lz4js: no native build, no dependencies), wrapped
 * here in the framings Kafka's own clients use:
 * - snappy: records are raw snappy (what Java's xerial SnappyInputStream and librdkafka read);
 *   reading also accepts the xerial framing Java producers write;
 * - LZ4: an LZ4 frame with independent blocks (what Java's Lz4BlockInputStream requires: it
 *   decompresses each block on its own), version 01, header checksum, no content checksum.
 * The broker decompresses every batch it accepts to validate it, so a batch the broker took is
 * one Java consumers can read.
 */
// kafkajs' internals must be replaced before kafkajs loads (kafkajs-patch.ts), and the
// configuration imports this module early.
import './kafkajs-patch.ts';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';

export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

const require = createRequire(import.meta.url);
// A CommonJS module whose codec table Node's named-export detection does not see.
const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Lz4js {
  compressBound(n: number): number;
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompress(src: Uint8Array): Uint8Array;
}
interface Snappyjs {
  compress(input: Buffer): Buffer;
  uncompress(input: Buffer): Buffer;
}
const lz4 = require('lz4js') as Lz4js;
const xxh32 = require('lz4js/xxh32.js') as { hash(seed: number, src: Uint8Array, index: number, length: number): number };
const snappy = require('snappyjs') as Snappyjs;

/** kafkajs' numeric compression type for a setting value. */
export function kafkajsCompression(name: CompressionName): number {
  switch (name) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      return CompressionTypes.Snappy;
    case 'lz4':
      return CompressionTypes.LZ4;
    case 'zstd':
      return CompressionTypes.ZSTD;
  }
}

// ---------------------------------------------------------------------------------------------
// LZ4 frames

const LZ4_MAGIC = 0x184d2204;
/** FLG: version 01, block independence. */
const LZ4_FLG = 0x60;
/** BD: 4 MiB blocks (Kafka readers accept 64 KiB .. 4 MiB); walcast's chunks fit one block. */
const LZ4_BD = 7 << 4;
const LZ4_BLOCK_BYTES = 4 * 1024 * 1024;
const LZ4_UNCOMPRESSED_BLOCK = 0x80000000;

export function lz4Frame(input: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(input.length / LZ4_BLOCK_BYTES));
  const out = Buffer.allocUnsafe(7 + blocks * 4 + lz4.compressBound(input.length) + 4);
  out.writeUInt32LE(LZ4_MAGIC, 0);
  out[4] = LZ4_FLG;
  out[5] = LZ4_BD;
  out[6] = (xxh32.hash(0, out, 4, 2) >>> 8) & 0xff;
  let pos = 7;
  const scratch = new Uint8Array(lz4.compressBound(Math.min(LZ4_BLOCK_BYTES, input.length)));
  const hashTable = new Uint32Array(1 << 16);
  for (let start = 0; start < input.length; start += LZ4_BLOCK_BYTES) {
    const length = Math.min(LZ4_BLOCK_BYTES, input.length - start);
    // A fresh table per block: no match reaches into an earlier block (independent blocks).
    hashTable.fill(0);
    const compressed = lz4.compressBlock(input, scratch, start, length, hashTable);
    if (compressed === 0 || compressed >= length) {
      out.writeUInt32LE((LZ4_UNCOMPRESSED_BLOCK | length) >>> 0, pos);
      out.set(input.subarray(start, start + length), pos + 4);
      pos += 4 + length;
    } else {
      out.writeUInt32LE(compressed, pos);
      out.set(scratch.subarray(0, compressed), pos + 4);
      pos += 4 + compressed;
    }
  }
  out.writeUInt32LE(0, pos); // end mark
  return out.subarray(0, pos + 4);
}

// ---------------------------------------------------------------------------------------------
// snappy, raw or in xerial's framing

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

export function snappyUncompress(input: Buffer): Buffer {
  if (input.length < 16 || !input.subarray(0, 8).equals(XERIAL_MAGIC)) return snappy.uncompress(input);
  // Magic, version and compatible version (4 bytes each), then blocks of [length][raw snappy].
  const parts: Buffer[] = [];
  for (let pos = 16; pos < input.length; ) {
    const length = input.readUInt32BE(pos);
    parts.push(snappy.uncompress(input.subarray(pos + 4, pos + 4 + length)));
    pos += 4 + length;
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Registration

const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const codecs: Record<number, KafkajsCodec> = {
  [CompressionTypes.Snappy]: {
    compress: async (encoder) => snappy.compress(encoder.buffer),
    decompress: async (buffer) => snappyUncompress(buffer),
  },
  [CompressionTypes.LZ4]: {
    compress: async (encoder) => lz4Frame(encoder.buffer),
    decompress: async (buffer) => Buffer.from(lz4.decompress(buffer)),
  },
  [CompressionTypes.ZSTD]: {
    compress: (encoder) => zstdCompress(encoder.buffer),
    decompress: (buffer) => zstdDecompress(buffer),
  },
};
for (const [type, codec] of Object.entries(codecs)) {
  (CompressionCodecs as unknown as Record<number, () => KafkajsCodec>)[Number(type)] = () => codec;
}

/**
 * Bytes `data` takes compressed with `name` (synchronously: only called for a record over its
 * topic's size limit, to tell whether compression lets it through).
 */
export function compressedSize(name: CompressionName, data: Buffer): number {
  switch (name) {
    case 'none':
      return data.length;
    case 'gzip':
      return zlib.gzipSync(data).length;
    case 'snappy':
      return snappy.compress(data).length;
    case 'lz4':
      return lz4Frame(data).length;
    case 'zstd':
      return zlib.zstdCompressSync(data).length;
  }
}
