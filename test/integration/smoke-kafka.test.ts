// Smoke test of the local Kafka (scripts/services.sh): transactions work, and a read_committed
// consumer sees committed records only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Consumer, Producer } from 'kafkajs';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';

const services = loadServices();

test('a read_committed consumer sees the committed transaction and not the aborted one', async () => {
  const suffix = uniqueSuffix();
  const topic = `walcast-smoke-${suffix}`;
  // Retriable broker answers (coordinator loading, CONCURRENT_TRANSACTIONS) are logged by kafkajs at
  // ERROR level although it retries them; real failures still surface as exceptions.
  const kafka = new Kafka({ clientId: `walcast-smoke-${suffix}`, brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  try {
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);

    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: `walcast-smoke-${suffix}`,
      retry: { retries: 20, initialRetryTime: 10, maxRetryTime: 1000 },
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: 'committed' }] });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();

    // A second committed record after the aborted one: once the consumer has it, it has read past
    // the aborted record, so its absence is proven without a fixed sleep.
    const sentinel = await producer.transaction();
    await sentinel.send({ topic, messages: [{ key: 'k', value: 'sentinel' }] });
    await sentinel.commit();

    // A short fetch wait: disconnect() waits for the in-flight fetch (5 s by default).
    consumer = kafka.consumer({ groupId: `walcast-smoke-${suffix}`, readUncommitted: false, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value?.toString() ?? '<null>');
      },
    });
    await waitFor('the sentinel record', () => (seen.includes('sentinel') ? true : undefined), 60_000);
    assert.deepEqual(seen, ['committed', 'sentinel']);

    // The log holds the aborted record too (plus transaction markers): it was written, then aborted.
    const [offsets] = await admin.fetchTopicOffsets(topic);
    assert.ok(Number(offsets?.high) >= 5, `high watermark ${offsets?.high} should cover 3 records and 3 markers`);
  } finally {
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
});
