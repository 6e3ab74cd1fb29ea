/** Backpressure of the replication queue: data counts toward the limits, keepalives do not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyStats } from '../../src/connector.ts';
import { ReplicationQueue } from '../../src/source/cdc/replication-queue.ts';
import type { ReplicationItem } from '../../src/source/cdc/replication-stream.ts';

const message = (lsn: bigint, size = 100): ReplicationItem => ({ kind: 'message', lsn, size, frame: Buffer.alloc(size) });
const keepalive = (walEnd: bigint): ReplicationItem => ({ kind: 'keepalive', walEnd, replyRequested: false });

function queue(maxMessages: number, maxBytes = 1 << 30) {
  const flow = { paused: 0, resumed: 0, pause() { this.paused += 1; }, resume() { this.resumed += 1; } };
  const stats = emptyStats();
  const q = new ReplicationQueue({ maxMessages, maxBytes }, stats);
  q.attach(flow);
  return { q, flow, stats };
}

test('keepalives do not count toward the buffered-message limit', () => {
  const { q, flow, stats } = queue(4);
  for (let i = 0; i < 100; i++) q.push(keepalive(BigInt(i)));
  assert.equal(flow.paused, 0, '100 keepalives with a limit of 4 messages must not pause the stream');
  assert.equal(stats.bufferedMessages, 0);
  for (let i = 0; i < 3; i++) q.push(message(BigInt(i)));
  assert.equal(flow.paused, 0);
  q.push(message(3n));
  assert.equal(flow.paused, 1, 'the fourth message pauses the stream');
  assert.equal(stats.bufferedMessages, 4);
  assert.equal(stats.paused, true);
});

test('paused until the messages halve; order kept, keepalives included', () => {
  const { q, flow, stats } = queue(4);
  q.push(message(1n));
  q.push(keepalive(10n));
  for (let i = 2; i <= 4; i++) q.push(message(BigInt(i)));
  assert.equal(flow.paused, 1);
  const order: string[] = [];
  for (let item = q.take(); item; item = q.take()) {
    order.push(item.kind === 'message' ? `m${item.lsn}` : `k${item.walEnd}`);
    if (order.length === 2) assert.equal(flow.resumed, 0, 'one message taken: still above half');
  }
  assert.deepEqual(order, ['m1', 'k10', 'm2', 'm3', 'm4']);
  assert.equal(flow.resumed, 1);
  assert.equal(stats.paused, false);
  assert.equal(stats.receivedLsn, 4n);
  assert.ok(q.empty);
});

test('the byte limit pauses whatever the message count', () => {
  const { q, flow } = queue(1000, 1000);
  q.push(message(1n, 600));
  assert.equal(flow.paused, 0);
  q.push(message(2n, 600));
  assert.equal(flow.paused, 1);
});

test('wait() resolves at the next push', async () => {
  const { q } = queue(10);
  const waiting = q.wait(null);
  q.push(keepalive(1n));
  await waiting;
  assert.equal(q.take()?.kind, 'keepalive');
});

test('busySince: set when an empty queue receives an item, kept while items wait', async () => {
  const { q } = queue(10);
  q.push(message(1n));
  const first = q.busySince;
  assert.ok(first > 0 && first <= Date.now());
  await new Promise((resolve) => setTimeout(resolve, 5));
  q.push(message(2n));
  assert.equal(q.busySince, first, 'a push behind a waiting item does not move it: that item waits since then');
  q.take();
  q.take();
  await new Promise((resolve) => setTimeout(resolve, 5));
  q.push(message(3n));
  assert.ok(q.busySince > first, 'the next item into an empty queue starts a new stretch');
});

test('frames are copied out of the parser\'s buffer, kept intact across slabs, ring growth and a reused source buffer', () => {
  const { q } = queue(1 << 30);
  const parserBuffer = Buffer.alloc(70_000);
  const sizes = [1, 17, 300, 4096, 65_000, 70_000 - 25, 0, 2048];
  const expected: Buffer[] = [];
  // 6,000 frames: over 1 MB of bytes (several slabs) and past the ring's first capacities.
  for (let n = 0; n < 6000; n++) {
    const size = sizes[n % sizes.length]!;
    parserBuffer.fill(n & 0xff, 25, 25 + size);
    parserBuffer.writeUInt32BE(n, 25);
    const copy = Buffer.from(parserBuffer.subarray(25, 25 + size));
    expected.push(copy);
    q.message(BigInt(n) + (1n << 40n), parserBuffer.subarray(0, 25 + size), 25);
    if (n % 7 === 0) q.keepalive(BigInt(n), n % 14 === 0);
  }
  let n = 0;
  let keepalives = 0;
  for (let item = q.take(); item; item = q.take()) {
    if (item.kind === 'keepalive') {
      assert.equal(item.replyRequested, Number(item.walEnd) % 14 === 0);
      keepalives += 1;
      continue;
    }
    assert.equal(item.lsn, BigInt(n) + (1n << 40n));
    assert.equal(item.size, expected[n]!.length);
    assert.ok(item.frame.equals(expected[n]!), `frame ${n} intact`);
    n += 1;
  }
  assert.equal(n, 6000);
  assert.equal(keepalives, Math.ceil(6000 / 7));
});

test('a frame taken stays intact while later frames arrive (a row handled again after a widening)', () => {
  const { q } = queue(1 << 30);
  const parserBuffer = Buffer.alloc(1000);
  parserBuffer.fill(7);
  q.message(1n, parserBuffer, 0);
  const held = q.take();
  assert.ok(held?.kind === 'message');
  for (let n = 0; n < 2000; n++) {
    parserBuffer.fill(n & 0xff);
    q.message(BigInt(n + 2), parserBuffer, 0);
    q.take();
  }
  assert.ok(held.frame.every((b) => b === 7));
});
