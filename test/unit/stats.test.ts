/**
 * The pipeline's own statistics: the commit-latency histogram's buckets and quantile bounds, and
 * per-table counts that only count what a committed Kafka transaction holds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/stats/latency-histogram.ts';
import { TableEventCounters } from '../../src/stats/table-events.ts';

describe('LatencyHistogram', () => {
  test('cumulative buckets, +Inf, sum, count and quantile bounds', () => {
    const h = new LatencyHistogram([0.01, 0.1, 1]);
    assert.equal(h.quantileUpperBound(0.5), null);
    for (const s of [0.005, 0.01, 0.05, 0.5, 3]) h.observe(s);
    assert.deepEqual(h.cumulative(), [
      { le: 0.01, count: 2 },
      { le: 0.1, count: 3 },
      { le: 1, count: 4 },
      { le: '+Inf', count: 5 },
    ]);
    assert.equal(h.count, 5);
    assert.ok(Math.abs(h.sumSeconds - 3.565) < 1e-9);
    assert.equal(h.quantileUpperBound(0.4), 0.01);
    assert.equal(h.quantileUpperBound(0.6), 0.1);
    assert.equal(h.quantileUpperBound(0.99), Infinity);
  });
});

describe('TableEventCounters', () => {
  test('pending counts become committed at commit, vanish at discard; one object per table across shapes', () => {
    const counters = new TableEventCounters();
    const orders = counters.forTable('public', 'orders');
    assert.equal(counters.forTable('public', 'orders'), orders, 'the same counters for a new shape of the table');
    orders.count('c');
    orders.count('c');
    counters.forTable('public', 'lines').count('d');
    assert.deepEqual(orders.committed, { c: 0, u: 0, d: 0, t: 0, r: 0 });
    counters.commit();
    assert.deepEqual(orders.committed, { c: 2, u: 0, d: 0, t: 0, r: 0 });
    assert.equal(counters.forTable('public', 'lines').committed.d, 1);
    orders.count('u');
    counters.discard();
    counters.commit();
    assert.deepEqual(orders.committed, { c: 2, u: 0, d: 0, t: 0, r: 0 }, 'an aborted transaction is not counted');
    orders.count('t');
    counters.commit();
    assert.equal(orders.committed.t, 1);
    assert.deepEqual([...counters.all()].map((c) => c.table), ['public.orders', 'public.lines']);
  });
});
