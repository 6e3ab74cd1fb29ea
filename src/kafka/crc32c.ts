/**
 * CRC-32C for Kafka record batches; kafkajs computes it a byte at a time.
 *
 * @node-rs/crc32's prebuilt N-API binding uses the CPU's CRC32 instructions (SSE 4.2, ARMv8):
 * the batch CRC was 4% of walcast's CPU in slicing-by-8 JavaScript (bench (a), --cpu-prof). On a
 * platform without a prebuilt binary (its optional dependencies), the JavaScript one is used.
 */
import { createRequire } from 'node:module';

const CASTAGNOLI = 0x82f63b78;
const crcTables = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + i]!;
      t[s * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/** CRC-32C (Castagnoli), slicing-by-8 in JavaScript; same results as kafkajs' crc32C(buffer). */
export function portableCrc32c(buf: Uint8Array): number {
  const t = crcTables;
  let crc = -1;
  let i = 0;
  const n = buf.length;
  for (; i + 8 <= n; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      t[7 * 256 + (a & 0xff)]! ^ t[6 * 256 + ((a >>> 8) & 0xff)]! ^ t[5 * 256 + ((a >>> 16) & 0xff)]! ^ t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + buf[i + 4]!]! ^ t[2 * 256 + buf[i + 5]!]! ^ t[256 + buf[i + 6]!]! ^ t[buf[i + 7]!]!;
  }
  for (; i < n; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

type NativeCrc32c = (input: Buffer, initialState?: number) => number;

function loadNative(): NativeCrc32c | null {
  try {
    const binding = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc32c };
    return typeof binding.crc32c === 'function' ? binding.crc32c : null;
  } catch {
    return null;
  }
}

/** The native binding, or null where it has no binary. */
export const nativeCrc32c: NativeCrc32c | null = loadNative();

/** Below this many bytes the call into the binding costs more than the JavaScript loop. */
const NATIVE_FROM_BYTES = 64;

/** CRC-32C (Castagnoli) of `buf`, as kafkajs' crc32C(buffer) computes it. */
export function crc32c(buf: Uint8Array): number {
  if (nativeCrc32c === null || buf.length < NATIVE_FROM_BYTES) return portableCrc32c(buf);
  return nativeCrc32c(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
}
