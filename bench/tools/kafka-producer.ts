/**
 * "Kafka alone" with kafkajs: a bare transactional producer sending `count` records of the given
 * key/value sizes, shaped like walcast's output (transactions of `txnRecords`, produce requests of
 * `chunkRecords`, acks=all, the GUIDE's retry settings), with no source and no encoding.
 * Run as a child process by bench/run.ts so its CPU and memory are its own:
 *
 *   node bench/tools/kafka-producer.ts '<json options>'
 *
 * Prints one JSON line: {records, seconds, cpuSeconds, peakRssMb, transactions}.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { KafkajsAloneOptions } from '../systems.ts';

type Options = KafkajsAloneOptions & { brokers: string[] };

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const kafka = new Kafka({ clientId: 'walcast-bench-kafka-alone', brokers: options.brokers, logLevel: logLevel.WARN, retry: { retries: 30, initialRetryTime: 10, maxRetryTime: 1000 } });
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  transactionalId: options.transactionalId,
  createPartitioner: Partitioners.DefaultPartitioner,
  retry: { retries: 30, initialRetryTime: 10, maxRetryTime: 1000 },
});

// Distinct keys (like primary keys), values of the measured size: random bytes, so compression
// (none by default anyway) would not flatter the figure.
const value = randomBytes(Math.max(0, options.valueBytes));
function key(i: number): Buffer {
  const k = Buffer.alloc(Math.max(8, options.keyBytes));
  k.writeBigInt64BE(BigInt(i), 0);
  return k;
}

await producer.connect();
// Fence/init outside the timed window, as walcast does at start.
const init = await producer.transaction();
await init.abort();

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent = 0;
let transactions = 0;
while (sent < options.count) {
  const txn = await producer.transaction();
  const end = Math.min(options.count, sent + options.txnRecords);
  while (sent < end) {
    const n = Math.min(options.chunkRecords, end - sent);
    const messages = new Array<{ key: Buffer; value: Buffer }>(n);
    for (let j = 0; j < n; j++) messages[j] = { key: key(sent + j), value };
    await txn.send({ topic: options.topic, acks: -1, messages });
    sent += n;
  }
  await txn.commit();
  transactions += 1;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await producer.disconnect();
process.stdout.write(
  JSON.stringify({ records: sent, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024, transactions }) + '\n',
);
