/** A worker connector's tasks (tasks.max): how many each kind runs, and how their states show. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectorStatus, ManagedConnector } from '../../src/connector.ts';
import { connectorStatusBody } from '../../src/http/connectors.ts';
import { SinkStats } from '../../src/sink/stats.ts';
import { partitionOfOffsetKey, pollOffsetKey, pollTransactionalId, spreadTables } from '../../src/source/poll/tasks.ts';
import { checkTasksMax } from '../../src/worker/plugins.ts';
import { combinedStatus } from '../../src/worker/worker-connector.ts';

const status = (state: ConnectorStatus['state'], lastError: string | null = null, restarts = 0): ConnectorStatus => ({ state, paused: false, lastError, restarts, stats: null });

function managed(current: ConnectorStatus): ManagedConnector {
  return { name: 'c', type: 'sink', status: () => current, pause: () => undefined, resume: () => undefined, restart: () => undefined };
}

test('tasks.max: 1 by default, an integer from 1 to 64', () => {
  for (const [text, expected] of [[undefined, 1], ['3', 3], [' 2 ', 2], ['64', 64]] as const) {
    const problems: Array<{ key: string; message: string }> = [];
    assert.equal(checkTasksMax(text === undefined ? {} : { 'tasks.max': text }, problems), expected);
    assert.deepEqual(problems, []);
  }
  for (const text of ['0', '-1', 'two', '1.5', '65']) {
    const problems: Array<{ key: string; message: string }> = [];
    assert.equal(checkTasksMax({ 'tasks.max': text }, problems), 1);
    assert.equal(problems[0]?.key, 'tasks.max', text);
  }
});

test('a connector of several tasks: RUNNING while any task runs, each task with its own state and trace', () => {
  const combined = combinedStatus([status('running', null, 1), status('failed', 'task 1 broke', 2)]);
  assert.equal(combined.state, 'running');
  assert.equal(combined.restarts, 3);
  assert.equal(combined.lastError, 'task 1 broke');
  const body = connectorStatusBody(managed(combined), 'w:8083');
  assert.deepEqual(body.connector, { state: 'RUNNING', worker_id: 'w:8083' });
  assert.deepEqual(body.tasks, [
    { id: 0, state: 'RUNNING', worker_id: 'w:8083' },
    { id: 1, state: 'FAILED', worker_id: 'w:8083', trace: 'task 1 broke' },
  ]);
  // None running: the state they share, else FAILED when one failed.
  assert.equal(combinedStatus([status('retrying'), status('retrying')]).state, 'retrying');
  assert.equal(combinedStatus([status('retrying'), status('failed', 'x')]).state, 'failed');
  // Another worker's (from the status topic): its worker_id on every task.
  const remote = connectorStatusBody(managed({ ...combinedStatus([status('running'), status('running')]), workerId: 'other:8083' }), 'w:8083');
  assert.deepEqual(remote.tasks.map((t) => [t.id, t.state, t.worker_id]), [[0, 'RUNNING', 'other:8083'], [1, 'RUNNING', 'other:8083']]);
  // A connector of one task (walcast run, the CDC source): task 0 in the connector's state.
  assert.deepEqual(connectorStatusBody(managed(status('failed', 'boom')), 'w:8083').tasks, [{ id: 0, state: 'FAILED', worker_id: 'w:8083', trace: 'boom' }]);
  // Stopped: no tasks.
  assert.deepEqual(connectorStatusBody(managed({ ...status('stopped'), stoppedByOperator: true }), 'w:8083').tasks, []);
});

test("sink tasks share counters: the partitions are every task's, a task's lost partitions lose their lag", () => {
  const stats = new SinkStats();
  stats.assign('h/1/task-0', ['t/0', 't/1']);
  stats.lagRecords.set('t/0', 5).set('t/1', 7);
  stats.assign('h/1/task-1', ['u/0']);
  stats.lagRecords.set('u/0', 1);
  assert.deepEqual(stats.partitions, ['t/0', 't/1', 'u/0']);
  // Rebalance: task 0 keeps t/0, task 1 gets t/1; t/1's lag is now task 1's to report.
  stats.assign('h/1/task-0', ['t/0']);
  assert.deepEqual(stats.partitions, ['t/0', 'u/0']);
  assert.deepEqual([...stats.lagRecords.keys()].sort(), ['t/0', 'u/0']);
  stats.assign('h/1/task-1', ['t/1', 'u/0']);
  assert.deepEqual(stats.partitions, ['t/0', 't/1', 'u/0']);
  assert.equal(stats.totalLag(), 6);
});

test("the polling source's tables spread over tasks as the JDBC connector groups them", () => {
  assert.deepEqual(spreadTables(['a', 'b', 'c', 'd', 'e'], 2), [['a', 'b', 'c'], ['d', 'e']]);
  assert.deepEqual(spreadTables(['a', 'b'], 5), [['a'], ['b']]);
  assert.deepEqual(spreadTables(['a', 'b', 'c'], 1), [['a', 'b', 'c']]);
  assert.deepEqual(spreadTables([], 3), [[]]);
});

test('a polled table keeps its cursor under a key of its own, found again by connector name only', () => {
  const key = pollOffsetKey('src', 'public.users', false);
  assert.equal(key, 'jdbc-source:["src",{"table":"public.users"}]');
  assert.equal(partitionOfOffsetKey('src', key), 'public.users');
  assert.equal(partitionOfOffsetKey('src', pollOffsetKey('src', 'query', true)), 'query');
  // Another connector's, even one whose name starts alike or holds the separator characters.
  assert.equal(partitionOfOffsetKey('src', pollOffsetKey('src2', 'public.users', false)), null);
  assert.equal(partitionOfOffsetKey('src', pollOffsetKey('src",{"table":"x"}]', 'public.users', false)), null);
  assert.equal(partitionOfOffsetKey('a"b', pollOffsetKey('a"b', 's.t', false)), 's.t');
  assert.equal(pollTransactionalId('src', 1), 'walcast-jdbc-src-1');
});
