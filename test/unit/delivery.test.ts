/**
 * The transactional delivery against a recording producer (the producer port's contract, no
 * Kafka): what goes into which transaction, the offset record last, commit/abort, fencing.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { emptyStats } from '../../src/connector.ts';
import { TransactionalDelivery } from '../../src/kafka/delivery.ts';
import { parseOffsetValue } from '../../src/kafka/offsets.ts';
import { ProducerFencedError, type KafkaRecord, type TransactionalProducer } from '../../src/kafka/producer.ts';
import { createLogger } from '../../src/log.ts';
import type { CompressionName } from '../../src/kafka/compression.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, RecordTooLargeError } from '../../src/kafka/record-limits.ts';

type Call = { op: 'begin' | 'commit' | 'abort' } | { op: 'send'; records: KafkaRecord[] };

class RecordingProducer implements TransactionalProducer {
  calls: Call[] = [];
  failSend: Error | null = null;
  failCommit: Error | null = null;
  async connect(): Promise<void> {}
  async begin(): Promise<void> {
    this.calls.push({ op: 'begin' });
  }
  async send(records: KafkaRecord[]): Promise<void> {
    this.calls.push({ op: 'send', records });
    if (this.failSend) throw this.failSend;
  }
  async commit(): Promise<void> {
    this.calls.push({ op: 'commit' });
    if (this.failCommit) throw this.failCommit;
  }
  async abort(): Promise<void> {
    this.calls.push({ op: 'abort' });
  }
  async disconnect(): Promise<void> {}
  producerId(): string {
    return '1';
  }
  async endOpenTransaction(): Promise<void> {}
  /** The records of every send, in order. */
  sent(): KafkaRecord[] {
    return this.calls.flatMap((c) => (c.op === 'send' ? c.records : []));
  }
}

function setup(sendChunkEvents = 1000, compression: CompressionName = 'none') {
  const producer = new RecordingProducer();
  const stats = emptyStats();
  const delivery = new TransactionalDelivery<{ n: number }>({
    producer,
    offsetsTopic: 'offsets',
    sourceId: 'src-1',
    sendChunkEvents,
    positionJson: (p) => ({ n: p.n }),
    stats,
    log: createLogger('silent'),
    compression,
  });
  return { producer, stats, delivery };
}

const record = (i: number): KafkaRecord => ({ topic: 't', key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) });

describe('TransactionalDelivery', () => {
  test('commit: the events, then the offset record of the last complete unit, in one transaction', async () => {
    const { producer, stats, delivery } = setup();
    await delivery.begin();
    for (let i = 0; i < 3; i++) delivery.append(record(i));
    delivery.completeUnit({ n: 1 });
    delivery.append(record(3));
    delivery.completeUnit({ n: 2 });
    const result = await delivery.commit();
    assert.deepEqual(result, { position: { n: 2 }, recorded: true });
    assert.deepEqual(producer.calls.map((c) => c.op), ['begin', 'send', 'commit']);
    const sent = producer.sent();
    assert.deepEqual(sent.slice(0, 4).map((r) => r.value!.toString()), ['v0', 'v1', 'v2', 'v3']);
    const offset = sent.at(-1)!;
    assert.equal(offset.topic, 'offsets');
    assert.equal(offset.key!.toString(), 'src-1');
    assert.deepEqual(parseOffsetValue(offset.value!).position, { n: 2 });
    assert.equal(parseOffsetValue(offset.value!).version, 2);
    assert.equal(stats.eventsSent, 4);
    assert.equal(stats.transactionsDelivered, 2);
    assert.equal(stats.kafkaCommits, 1);
    assert.ok(delivery.empty, 'a committed batch leaves nothing behind');
  });

  test('chunking: a produce request per sendChunkEvents records, the offset record in the last one', async () => {
    const { producer, delivery } = setup(2);
    await delivery.begin();
    for (let i = 0; i < 5; i++) {
      delivery.append(record(i));
      await delivery.flushIfFull();
    }
    delivery.completeUnit({ n: 7 });
    await delivery.commit();
    const sends = producer.calls.filter((c) => c.op === 'send').map((c) => c.records.map((r) => r.topic));
    assert.deepEqual(sends, [['t', 't'], ['t', 't'], ['t', 'offsets']]);
    assert.equal(producer.calls.at(-1)!.op, 'commit');
  });

  test('while a request is in flight the next one grows instead of waiting, and goes out as soon as the answer is in', async () => {
    const { producer, delivery } = setup(100);
    const answers: Array<() => void> = [];
    producer.send = async (records: KafkaRecord[]): Promise<void> => {
      producer.calls.push({ op: 'send', records });
      await new Promise<void>((resolve) => answers.push(resolve));
    };
    await delivery.begin();
    const appendAll = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        delivery.append(record(i));
        const waiting = delivery.flushIfFull();
        if (waiting) await waiting;
      }
    };
    await appendAll(0, 350);
    // the first 100 went at once; the 250 after them wait for its answer without blocking the caller
    assert.deepEqual(producer.calls.filter((c) => c.op === 'send').map((c) => (c as { records: KafkaRecord[] }).records.length), [100]);
    answers.shift()!();
    await new Promise((resolve) => setImmediate(resolve)); // the answer arrives while the caller yields
    await appendAll(350, 351);
    const sizes = producer.calls.filter((c) => c.op === 'send').map((c) => (c as { records: KafkaRecord[] }).records.length);
    assert.deepEqual(sizes, [100, 251], 'everything built meanwhile goes in one request');
    const committing = (delivery.completeUnit({ n: 1 }), delivery.commit());
    await new Promise((resolve) => setImmediate(resolve));
    answers.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    answers.shift()!();
    await committing;
    assert.deepEqual(producer.sent().map((r) => r.value?.toString() ?? r.topic).slice(0, 351), Array.from({ length: 351 }, (_, i) => `v${i}`), 'in order, none lost or repeated');
    assert.equal(producer.sent().at(-1)!.topic, 'offsets');
  });

  test('a chunk full by bytes waits for the request in flight (memory stays bounded)', async () => {
    const { producer, delivery } = setup(1_000_000);
    delivery.setTopicLimit('t', 50_000);
    const pending: { answer: (() => void) | null } = { answer: null };
    producer.send = async (records: KafkaRecord[]): Promise<void> => {
      producer.calls.push({ op: 'send', records });
      await new Promise<void>((resolve) => (pending.answer = resolve));
    };
    await delivery.begin();
    const sends = (): number => producer.calls.filter((c) => c.op === 'send').length;
    let waited: Promise<void> | undefined;
    for (let i = 0; i < 1_000 && !waited; i++) {
      delivery.append(sized('t', 1_000));
      waited = delivery.flushIfFull();
    }
    // the sealed chunk went at once; the record after it waits for that request's answer
    assert.ok(waited, 'a chunk full by bytes is sent');
    assert.equal(sends(), 1);
    let done = false;
    void waited.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false, 'the caller waits for the answer: what it buffers stays within one chunk');
    pending.answer!();
    await waited;
    assert.equal(sends(), 2);
  });

  test('flushIfFull: no promise below the chunk size (the hot path stays synchronous)', async () => {
    const { delivery } = setup(10);
    await delivery.begin();
    delivery.append(record(0));
    assert.equal(delivery.flushIfFull(), undefined);
  });

  test('nothing complete: commit() writes nothing', async () => {
    const { producer, delivery } = setup();
    await delivery.begin();
    delivery.append(record(0));
    assert.equal(await delivery.commit(), null);
    assert.deepEqual(producer.calls.map((c) => c.op), ['begin']);
  });

  test('units without records: committed without a Kafka transaction, reported as not recorded', async () => {
    const { producer, stats, delivery } = setup();
    delivery.completeUnit({ n: 3 });
    assert.deepEqual(await delivery.commit(), { position: { n: 3 }, recorded: false });
    assert.deepEqual(producer.calls, []);
    assert.equal(stats.transactionsDelivered, 1);
    assert.equal(stats.kafkaCommits, 0);
  });

  test('firstUnitSince: the first unit\'s own arrival time when the source gives one, else its completion; reset by commit', async () => {
    const { delivery } = setup();
    const arrived = Date.now() - 40;
    delivery.completeUnit({ n: 1 }, arrived);
    delivery.completeUnit({ n: 2 }, Date.now() - 1000);
    assert.equal(delivery.firstUnitSince, arrived, 'the batch waits since its first unit arrived; later units do not move it');
    assert.ok(delivery.firstUnitAt >= arrived + 40, 'firstUnitAt (for batch.maxAgeMs) stays the completion time');
    await delivery.commit();
    assert.equal(delivery.firstUnitSince, 0);
    delivery.completeUnit({ n: 3 });
    assert.equal(delivery.firstUnitSince, delivery.firstUnitAt);
  });

  test('commitPosition: a transaction holding only the offset record', async () => {
    const { producer, stats, delivery } = setup();
    await delivery.commitPosition({ n: 9 });
    assert.deepEqual(producer.calls.map((c) => c.op), ['begin', 'send', 'commit']);
    assert.deepEqual(producer.sent().map((r) => r.topic), ['offsets']);
    assert.deepEqual(parseOffsetValue(producer.sent()[0]!.value!).position, { n: 9 });
    assert.equal(stats.eventsSent, 0);
    await assert.rejects(async () => {
      await delivery.begin();
      delivery.append(record(0));
      await delivery.commitPosition({ n: 10 });
    }, /batch open/);
  });

  test('abort: the open transaction is aborted and the batch dropped, even with a send in flight that failed', async () => {
    const { producer, delivery } = setup(1);
    producer.failSend = new Error('broker gone');
    await delivery.begin();
    delivery.append(record(0));
    await delivery.flushIfFull();
    delivery.completeUnit({ n: 1 });
    await assert.rejects(delivery.commit(), /broker gone/);
    await delivery.abort();
    assert.equal(producer.calls.at(-1)!.op, 'abort');
    assert.ok(delivery.empty);
    assert.equal(await delivery.commit(), null, 'nothing of the aborted batch is committed later');
  });

  test('fenced: the error reaches the caller as ProducerFencedError, nothing counted as delivered', async () => {
    const { producer, stats, delivery } = setup();
    producer.failCommit = new ProducerFencedError(new Error('INVALID_PRODUCER_EPOCH'));
    await delivery.begin();
    delivery.append(record(0));
    delivery.completeUnit({ n: 1 });
    await assert.rejects(delivery.commit(), ProducerFencedError);
    assert.equal(stats.eventsSent, 0);
    assert.equal(stats.transactionsDelivered, 0);
  });

  test('statistics: commit latency per Kafka commit, row counts exported only once committed, lag from the source commit time', async () => {
    const { producer, stats, delivery } = setup();
    const counts = stats.tableEvents.forTable('public', 'orders');
    // A batch that fails: its counts are discarded with it (it is redelivered and counted then).
    producer.failCommit = new Error('broker gone');
    await delivery.begin();
    counts.count('c');
    delivery.append(record(0));
    delivery.completeUnit({ n: 1 });
    await assert.rejects(delivery.commit(), /broker gone/);
    await delivery.abort();
    assert.equal(counts.committed.c, 0);
    assert.equal(stats.kafkaCommitLatency.count, 0);
    // The redelivery commits.
    producer.failCommit = null;
    stats.lastCommitTimeMicros = BigInt(Date.now() - 250) * 1000n;
    await delivery.begin();
    counts.count('c');
    delivery.append(record(0));
    delivery.completeUnit({ n: 1 });
    await delivery.commit();
    assert.equal(counts.committed.c, 1);
    assert.equal(stats.kafkaCommitLatency.count, 1);
    assert.ok(stats.millisBehindSource! >= 250 && stats.millisBehindSource! < 5000, `behind the source: ${stats.millisBehindSource} ms`);
    assert.ok(stats.lastEventAt! > Date.now() - 5000);
    // A position-only commit is a Kafka commit too, but carries no events.
    const lastEventAt = stats.lastEventAt;
    await delivery.commitPosition({ n: 2 });
    assert.equal(stats.kafkaCommitLatency.count, 2);
    assert.equal(stats.lastEventAt, lastEventAt);
  });

  const sized = (topic: string, bytes: number, fill = 'x'): KafkaRecord => ({ topic, key: Buffer.from('k'), value: Buffer.alloc(bytes, fill) });
  /** Incompressible bytes (a fixed pseudo-random sequence). */
  const noise = (topic: string, bytes: number): KafkaRecord => {
    const value = Buffer.alloc(bytes);
    for (let i = 0, x = 2463534242; i < bytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      value[i] = x & 0xff;
    }
    return { topic, key: null, value };
  };

  test('a record over its topic\'s max.message.bytes: RecordTooLargeError, nothing appended, nothing sent', async () => {
    const { producer, delivery } = setup();
    delivery.setTopicLimit('small', 10_000);
    await delivery.begin();
    delivery.append(sized('small', 9_000));
    assert.throws(() => delivery.append(sized('small', 12_000)), (e: unknown) => {
      assert.ok(e instanceof RecordTooLargeError);
      assert.equal(e.code, 'WALCAST_RECORD_TOO_LARGE');
      assert.equal(e.topic, 'small');
      assert.equal(e.limit, 10_000);
      assert.ok(e.bytes > 12_000);
      assert.equal(e.compressedBytes, null);
      return true;
    });
    // A topic without a known limit has Kafka's default.
    assert.throws(() => delivery.append(sized('other', DEFAULT_MAX_MESSAGE_BYTES)), RecordTooLargeError);
    delivery.append(sized('other', 500_000));
    delivery.completeUnit({ n: 1 });
    await delivery.commit();
    assert.deepEqual(producer.sent().map((r) => r.value?.length), [9_000, 500_000, producer.sent().at(-1)!.value!.length]);
  });

  test('with compression, an oversized record that compresses below the limit passes; one that does not is refused', async () => {
    const { delivery } = setup(1000, 'zstd');
    delivery.setTopicLimit('t', 100_000);
    await delivery.begin();
    delivery.append(sized('t', 3_000_000, 'a'));
    assert.throws(() => delivery.append(noise('t', 150_000)), (e: unknown) => e instanceof RecordTooLargeError && e.compression === 'zstd' && e.compressedBytes! > 100_000);
  });

  test('chunks are sealed before they outgrow the smallest limit: every produce request fits it', async () => {
    const { producer, delivery } = setup();
    delivery.setTopicLimit('t', 50_000);
    await delivery.begin();
    for (let i = 0; i < 20; i++) {
      delivery.append(sized('t', 1_000 + i * 1_000));
      await delivery.flushIfFull();
    }
    delivery.completeUnit({ n: 1 });
    await delivery.commit();
    const sends = producer.calls.filter((c) => c.op === 'send').map((c) => (c as { records: KafkaRecord[] }).records);
    assert.ok(sends.length > 5);
    for (const records of sends) assert.ok(records.reduce((n, r) => n + (r.value?.length ?? 0), 0) < 50_000);
    assert.deepEqual(sends.flat().slice(0, 20).map((r) => r.value!.length), Array.from({ length: 20 }, (_, i) => 1_000 + i * 1_000));
  });

  test('rollbackRow: what the failed row appended goes, sealed chunks included; what came before stays', async () => {
    const { producer, stats, delivery } = setup();
    delivery.setTopicLimit('t', 30_000);
    await delivery.begin();
    delivery.append(sized('t', 20_000));
    delivery.markRow();
    delivery.append(sized('t', 20_000)); // seals the first chunk
    assert.throws(() => delivery.append(sized('t', 40_000)), RecordTooLargeError);
    delivery.rollbackRow();
    assert.equal(delivery.events, 1);
    assert.equal(delivery.flushIfFull(), undefined, 'back to one chunk, not full');
    delivery.markRow();
    delivery.appendDeadLetter({ topic: 'dlq', key: null, value: Buffer.from('{}'), headers: { h: Buffer.from('v') } });
    delivery.completeUnit({ n: 1 });
    await delivery.commit();
    assert.deepEqual(producer.sent().map((r) => r.topic), ['t', 'dlq', 'offsets']);
    assert.equal(stats.eventsSent, 1);
    assert.equal(stats.deadLettered, 1);
  });
});
