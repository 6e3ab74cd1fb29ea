/**
 * Kafka's murmur2 key hash (Java client `Utils.murmur2`), which decides a key's partition.
 * kafkajs computes it with 64-bit BigInt arithmetic per step (5% of walcast's CPU); the result
 * is only the low 32 bits, which 32-bit integer arithmetic gives directly.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(key: Buffer | string | unknown): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}
