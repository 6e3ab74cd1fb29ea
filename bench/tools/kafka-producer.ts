/**
 * "Kafka alone" with kafkajs: walcast's own producer module (src/kafka/producer.ts: kafkajs 2.2.4
 * with walcast's encoding patches and retry settings) sending `count` records of the given
 * key/value sizes, shaped like walcast's output (transactions of `txnRecords`, produce requests of
 * `chunkRecords`, one request in flight while the next is built, acks=all), with no source and
 * no encoding: what walcast could reach if reading and encoding cost nothing.
 * Run as a child process by bench/run.ts so its CPU and memory are its own:
 *
 *   node bench/tools/kafka-producer.ts '<json options>'
 *
 * Prints one JSON line: {records, seconds, cpuSeconds, peakRssMb, transactions}.
 */
import { randomBytes } from 'node:crypto';
import { createKafka, KafkajsTransactionalProducer, type KafkaRecord } from '../../src/kafka/producer.ts';
import { PLAINTEXT } from '../../src/kafka/security.ts';
import { createLogger } from '../../src/log.ts';
import type { KafkajsAloneOptions } from '../systems.ts';

type Options = KafkajsAloneOptions & { brokers: string[] };

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const kafka = createKafka({ clientId: 'walcast-bench-kafka-alone', brokers: options.brokers, security: PLAINTEXT, log: createLogger('warn') });
const producer = new KafkajsTransactionalProducer({ kafka, transactionalId: options.transactionalId, transactionTimeoutMs: 60_000 });

// Distinct keys (like primary keys), values of the measured size: random bytes, so compression
// (none by default anyway) would not flatter the figure.
const value = randomBytes(Math.max(0, options.valueBytes));
function key(i: number): Buffer {
  const k = Buffer.alloc(Math.max(8, options.keyBytes));
  k.writeBigInt64BE(BigInt(i), 0);
  return k;
}

// Fences and initialises outside the timed window, as walcast does at start.
await producer.connect();

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent = 0;
let transactions = 0;
while (sent < options.count) {
  await producer.begin();
  const end = Math.min(options.count, sent + options.txnRecords);
  let inflight: Promise<void> | null = null;
  while (sent < end) {
    const n = Math.min(options.chunkRecords, end - sent);
    const records = new Array<KafkaRecord>(n);
    for (let j = 0; j < n; j++) records[j] = { topic: options.topic, key: key(sent + j), value };
    if (inflight) await inflight;
    inflight = producer.send(records);
    sent += n;
  }
  if (inflight) await inflight;
  await producer.commit();
  transactions += 1;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await producer.disconnect();
process.stdout.write(
  JSON.stringify({ records: sent, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024, transactions }) + '\n',
);
