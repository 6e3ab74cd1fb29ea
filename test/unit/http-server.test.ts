// The management API over two in-memory connectors: Kafka Connect's connector routes by name,
// health and readiness over every connector, one labelled metric series per connector.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { emptyStats, type ConnectorStatus, type ConnectorType, type ManagedConnector } from '../../src/connector.ts';
import { startHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import { parseLsn } from '../../src/pg/lsn.ts';

/** A connector whose status the test sets and whose control calls it records. */
class FakeConnector implements ManagedConnector {
  readonly name: string;
  readonly type: ConnectorType;
  readonly calls: string[] = [];
  current: ConnectorStatus;
  constructor(name: string, type: ConnectorType, status: ConnectorStatus) {
    this.name = name;
    this.type = type;
    this.current = status;
  }
  status(): ConnectorStatus {
    return this.current;
  }
  pause(): void {
    this.calls.push('pause');
    this.current = { ...this.current, paused: true };
  }
  resume(): void {
    this.calls.push('resume');
    this.current = { ...this.current, paused: false };
  }
  restart(): void {
    this.calls.push('restart');
  }
}

const inventoryStats = {
  ...emptyStats(),
  eventsSent: 42,
  transactionsDelivered: 7,
  kafkaCommits: 5,
  ackedLsn: parseLsn('0/16B3748'),
  receivedLsn: parseLsn('0/16B37A0'),
  lastCommitTimeMicros: 1_709_210_096_500_000n,
  bufferedMessages: 3,
  paused: true,
  excludedTables: ['public.events_log'],
  unwritableTables: [],
  retainedWalBytes: 123_456_789,
  retainedWalWarnBytes: 1_073_741_824,
  millisBehindSource: 12,
  lastEventAt: Date.now() - 30_000,
};
// Three commits of 0.8, 3 and 40 ms; committed counts per table and op, and one pending (not exported).
for (const seconds of [0.0008, 0.003, 0.04]) inventoryStats.kafkaCommitLatency.observe(seconds);
const orderCounts = inventoryStats.tableEvents.forTable('public', 'orders');
for (const op of ['c', 'c', 'u', 'd'] as const) orderCounts.count(op);
inventoryStats.tableEvents.commit();
inventoryStats.tableEvents.forTable('public', 'lines').count('c');
const inventory = new FakeConnector('inventory', 'source', { state: 'running', paused: false, lastError: null, restarts: 2, stats: inventoryStats });
// A name that must be percent-encoded in a path, still starting, with no stats yet.
const orders = new FakeConnector('orders eu', 'sink', { state: 'retrying', paused: false, lastError: 'broker 127.0.0.1:1 unreachable', restarts: 1, stats: null });
const connectors = [inventory, orders];

const server = await startHttpServer({ host: '127.0.0.1', port: 0, connectors: () => connectors, log: createLogger('silent') });
after(() => server.close());
const port = (server.address() as AddressInfo).port;
const base = `http://127.0.0.1:${port}`;
const workerId = `127.0.0.1:${port}`;

async function call(path: string, method = 'GET'): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${base}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

async function json(path: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  const res = await call(path, method);
  assert.equal(res.type, 'application/json', `${method} ${path}`);
  return { status: res.status, body: JSON.parse(res.body) };
}

function clearCalls(): void {
  inventory.calls.length = 0;
  orders.calls.length = 0;
}

test('GET / names the version; GET /connectors lists the names', async () => {
  const root = await json('/');
  assert.equal(root.status, 200);
  assert.deepEqual(Object.keys(root.body as object), ['version', 'node']);
  assert.deepEqual(await json('/connectors'), { status: 200, body: ['inventory', 'orders eu'] });
});

test('status by name keeps Connect\'s shape with walcast\'s progress', async () => {
  assert.deepEqual(await json('/connectors/inventory/status'), {
    status: 200,
    body: {
      name: 'inventory',
      connector: { state: 'RUNNING', worker_id: workerId },
      tasks: [{ id: 0, state: 'RUNNING', worker_id: workerId }],
      type: 'source',
      walcast: {
        acknowledged_lsn: '0/16B3748',
        received_lsn: '0/16B37A0',
        events: 42,
        dead_lettered: 0,
        transactions: 7,
        buffered_messages: 3,
        paused_by_backpressure: true,
        restarts: 2,
        retained_wal_bytes: 123_456_789,
        retained_wal_warn_bytes: 1_073_741_824,
        milliseconds_behind_source: 12,
        seconds_since_last_event: 30,
        kafka_commit_ms: { count: 3, mean: 14.6, p50_at_most: 5, p99_at_most: 50 },
        events_by_table: { 'public.orders': { c: 2, u: 1, d: 1 } },
        publication: { excluded_tables: ['public.events_log'], unwritable_tables: [] },
      },
    },
  });
  assert.deepEqual(await json('/connectors/orders%20eu/status'), {
    status: 200,
    body: {
      name: 'orders eu',
      connector: { state: 'RESTARTING', worker_id: workerId },
      tasks: [{ id: 0, state: 'RESTARTING', worker_id: workerId, trace: 'broker 127.0.0.1:1 unreachable' }],
      type: 'sink',
      walcast: null,
    },
  });
});

test('pause, resume and restart reach the named connector only', async () => {
  const state = async (path: string): Promise<string> => ((await json(path)).body as { connector: { state: string } }).connector.state;
  clearCalls();
  const paused = await call('/connectors/inventory/pause', 'PUT');
  assert.deepEqual(paused, { status: 202, type: null, body: '' });
  assert.deepEqual(inventory.calls, ['pause']);
  assert.deepEqual(orders.calls, []);
  assert.equal(await state('/connectors/inventory/status'), 'PAUSED');
  assert.deepEqual(((await json('/connectors/inventory/status')).body as { tasks: Array<{ state: string }> }).tasks.map((t) => t.state), ['PAUSED']);

  // Paused while not running: the state says why it is not running.
  assert.equal((await call('/connectors/orders%20eu/pause', 'PUT')).status, 202);
  assert.deepEqual(orders.calls, ['pause']);
  assert.equal(await state('/connectors/orders%20eu/status'), 'RESTARTING');

  assert.equal((await call('/connectors/inventory/resume', 'PUT')).status, 202);
  assert.equal(await state('/connectors/inventory/status'), 'RUNNING');
  assert.equal((await call('/connectors/orders%20eu/resume', 'PUT')).status, 202);

  const restarted = await call('/connectors/orders%20eu/restart', 'POST');
  assert.deepEqual(restarted, { status: 204, type: null, body: '' });
  assert.deepEqual(inventory.calls, ['pause', 'resume']);
  assert.deepEqual(orders.calls, ['pause', 'resume', 'restart']);
});

test('unknown names, routes and methods answer Connect\'s error body', async () => {
  clearCalls();
  for (const [path, method] of [['/connectors/nope/status', 'GET'], ['/connectors/nope/pause', 'PUT'], ['/connectors/nope/resume', 'PUT'], ['/connectors/nope/restart', 'POST']] as const) {
    assert.deepEqual(await json(path, method), { status: 404, body: { error_code: 404, message: 'Connector nope not found' } }, `${method} ${path}`);
  }
  // Names are decoded: the encoded form of one connector's name is not another name.
  assert.deepEqual(await json('/connectors/orders%2520eu/status'), { status: 404, body: { error_code: 404, message: 'Connector orders%20eu not found' } });
  assert.deepEqual(await json('/nope'), { status: 404, body: { error_code: 404, message: 'no route for /nope' } });
  assert.deepEqual(await json('/connectors/inventory/tasks'), { status: 404, body: { error_code: 404, message: 'no route for /connectors/inventory/tasks' } });
  assert.deepEqual(await json('/connectors/inventory/pause'), { status: 405, body: { error_code: 405, message: 'GET /connectors/inventory/pause not supported' } });
  assert.deepEqual(await json('/connectors/inventory/restart', 'PUT'), { status: 405, body: { error_code: 405, message: 'PUT /connectors/inventory/restart not supported' } });
  assert.deepEqual(await json('/metrics', 'POST'), { status: 405, body: { error_code: 405, message: 'POST /metrics not supported' } });
  assert.deepEqual(await json('/connectors/%E0%A4%A/status'), { status: 400, body: { error_code: 400, message: 'malformed percent-encoding in /connectors/%E0%A4%A/status' } });
  assert.deepEqual(inventory.calls, []);
  assert.deepEqual(orders.calls, []);
});

test('metrics: one series per connector, labelled with its name', async () => {
  const res = await call('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type ?? '', /^text\/plain; version=0\.0\.4/);
  const expected: Record<string, [string, number, number]> = {
    walcast_events_total: ['Change events committed to Kafka', 42, 0],
    walcast_source_transactions_total: ['PostgreSQL transactions delivered to Kafka', 7, 0],
    walcast_kafka_transactions_total: ['Kafka transactions committed', 5, 0],
    walcast_acknowledged_lsn: ['LSN acknowledged to the replication slot (bytes)', 0x16b3748, 0],
    walcast_received_lsn: ['Highest LSN received from PostgreSQL (bytes)', 0x16b37a0, 0],
    walcast_buffered_messages: ['Replication messages received and not yet processed', 3, 0],
    walcast_replication_paused: ['1 while the replication stream is paused by backpressure', 1, 0],
    walcast_last_source_commit_timestamp_seconds: ['Commit time of the last PostgreSQL transaction delivered to Kafka', 1_709_210_096.5, 0],
    walcast_up: ['1 while streaming', 1, 0],
    walcast_restarts_total: ['Streaming sessions restarted after a transient fault', 2, 1],
  };
  const lines = res.body.split('\n');
  for (const [name, [help, inventoryValue, ordersValue]] of Object.entries(expected)) {
    assert.ok(lines.includes(`# HELP ${name} ${help}`), `${name} help`);
    const series = lines.filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    assert.deepEqual(series, [`${name}{connector="inventory"} ${inventoryValue}`, `${name}{connector="orders eu"} ${ordersValue}`], name);
  }
  // Known only once a connector runs: no series for the one without stats.
  const only = (name: string, value: string): void => {
    assert.deepEqual(lines.filter((l) => l.startsWith(`${name}{`)), [`${name}{connector="inventory"} ${value}`], name);
  };
  only('walcast_slot_retained_wal_bytes', '123456789');
  only('walcast_retained_wal_warn_bytes', '1073741824');
  only('walcast_milliseconds_behind_source', '12');
  only('walcast_publication_excluded_tables', '1');
  only('walcast_publication_unwritable_tables', '0');
  const since = Number(lines.find((l) => l.startsWith('walcast_seconds_since_last_event{'))!.split(' ')[1]);
  assert.ok(since >= 30 && since < 40, `seconds since the last event: ${since}`);
  assert.deepEqual(lines.filter((l) => l.startsWith('walcast_table_events_total{')), [
    'walcast_table_events_total{connector="inventory",table="public.orders",op="c"} 2',
    'walcast_table_events_total{connector="inventory",table="public.orders",op="u"} 1',
    'walcast_table_events_total{connector="inventory",table="public.orders",op="d"} 1',
  ]);
  assert.ok(lines.includes('# TYPE walcast_kafka_commit_seconds histogram'));
  const buckets = lines.filter((l) => l.startsWith('walcast_kafka_commit_seconds_bucket{connector="inventory"'));
  assert.deepEqual(buckets.slice(0, 4), [
    'walcast_kafka_commit_seconds_bucket{connector="inventory",le="0.001"} 1',
    'walcast_kafka_commit_seconds_bucket{connector="inventory",le="0.0025"} 1',
    'walcast_kafka_commit_seconds_bucket{connector="inventory",le="0.005"} 2',
    'walcast_kafka_commit_seconds_bucket{connector="inventory",le="0.01"} 2',
  ]);
  assert.equal(buckets.at(-1), 'walcast_kafka_commit_seconds_bucket{connector="inventory",le="+Inf"} 3');
  assert.ok(lines.includes('walcast_kafka_commit_seconds_count{connector="inventory"} 3'));
  assert.match(res.body, /^walcast_kafka_commit_seconds_sum\{connector="inventory"\} 0\.0438/m);
  // Node's default process metrics, unlabelled as before.
  assert.match(res.body, /^walcast_process_cpu_user_seconds_total \d/m);
  assert.match(res.body, /^walcast_nodejs_heap_size_used_bytes \d/m);
});

test('health and readiness over every connector', async () => {
  // inventory running, orders retrying.
  assert.deepEqual(await json('/health'), { status: 200, body: { status: 'retrying' } });
  assert.deepEqual(await json('/ready'), { status: 503, body: { status: 'retrying' } });
  // A standby (the slot is another instance's): alive and ready, UNASSIGNED in Connect's terms.
  orders.current = { ...orders.current, state: 'waiting', lastError: 'replication slot s is in use' };
  assert.deepEqual(await json('/health'), { status: 200, body: { status: 'waiting' } });
  assert.deepEqual(await json('/ready'), { status: 200, body: { status: 'waiting' } });
  const standby = (await json('/connectors/orders%20eu/status')).body as { connector: { state: string }; tasks: Array<{ trace?: string }> };
  assert.equal(standby.connector.state, 'UNASSIGNED');
  assert.equal(standby.tasks[0]?.trace, 'replication slot s is in use');
  assert.match((await call('/metrics')).body, /^walcast_standby\{connector="orders eu"\} 1$/m);
  orders.current = { ...orders.current, state: 'running' };
  assert.deepEqual(await json('/health'), { status: 200, body: { status: 'running' } });
  assert.deepEqual(await json('/ready'), { status: 200, body: { status: 'running' } });
  orders.current = { ...orders.current, state: 'failed', lastError: 'password authentication failed' };
  assert.deepEqual(await json('/health'), { status: 503, body: { status: 'failed' } });
  assert.deepEqual(await json('/ready'), { status: 503, body: { status: 'failed' } });
  const failed = (await json('/connectors/orders%20eu/status')).body as { connector: { state: string }; tasks: Array<{ trace?: string }> };
  assert.equal(failed.connector.state, 'FAILED');
  assert.equal(failed.tasks[0]?.trace, 'password authentication failed');
  // The failed connector's metrics follow: down, while the other stays up.
  const metrics = (await call('/metrics')).body;
  assert.match(metrics, /^walcast_up\{connector="inventory"\} 1$/m);
  assert.match(metrics, /^walcast_up\{connector="orders eu"\} 0$/m);
});

test('a connector that throws answers 500 without the error\'s text', async () => {
  const broken: ManagedConnector = {
    name: 'broken',
    type: 'source',
    status: () => {
      throw new Error('connect to postgres://walcast:hunter2@db failed');
    },
    pause: () => undefined,
    resume: () => undefined,
    restart: () => undefined,
  };
  const other = await startHttpServer({ host: '127.0.0.1', port: 0, connectors: () => [broken], log: createLogger('silent') });
  try {
    const otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    for (const path of ['/connectors/broken/status', '/metrics', '/health', '/ready']) {
      const res = await fetch(`${otherBase}${path}`);
      assert.equal(res.status, 500, path);
      assert.deepEqual(await res.json(), { error_code: 500, message: 'internal error; see the walcast log' }, path);
    }
  } finally {
    other.close();
  }
});
