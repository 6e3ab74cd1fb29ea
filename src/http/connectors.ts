/**
 * Kafka Connect's connector routes, by name: `GET /connectors`, `GET /connectors/<name>/status`,
 * `PUT /connectors/<name>/pause` and `/resume` (202), `POST /connectors/<name>/restart` (204); an
 * unknown name answers 404 `Connector <name> not found`. Names are percent-encoded in paths.
 */
import type { ConnectorState, ConnectorType, ManagedConnector, SnapshotSummary } from '../connector.ts';
import type { Logger } from '../log.ts';
import { formatLsn } from '../pg/lsn.ts';
import type { SinkStats } from '../sink/stats.ts';
import type { LatencyHistogram } from '../stats/latency-histogram.ts';
import { ROW_OPS, type RowOp, type TableEventCounters } from '../stats/table-events.ts';
import { errorReply, methodNotAllowed, type Reply } from './reply.ts';

export interface ConnectorRoutesContext {
  connectors: () => readonly ManagedConnector[];
  /** Connect's `worker_id`: the address this API listens on. */
  workerId: string;
  log: Logger;
}

/** Connect's connector and task states. */
export type ConnectState = 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'RESTARTING' | 'UNASSIGNED';

export interface TaskStatusBody {
  id: number;
  state: ConnectState;
  worker_id: string;
  /** The last error, while the connector is not RUNNING. */
  trace?: string;
}

/** `GET /connectors/<name>/status`: Connect's shape, plus walcast's progress in `walcast`. */
export interface ConnectorStatusBody {
  name: string;
  connector: { state: ConnectState; worker_id: string };
  tasks: TaskStatusBody[];
  type: ConnectorType;
  walcast: {
    acknowledged_lsn: string;
    received_lsn: string;
    events: number;
    dead_lettered: number;
    transactions: number;
    buffered_messages: number;
    paused_by_backpressure: boolean;
    restarts: number;
    /** WAL the slot makes PostgreSQL keep (bytes), null before the first reading. */
    retained_wal_bytes: number | null;
    retained_wal_warn_bytes: number;
    milliseconds_behind_source: number | null;
    seconds_since_last_event: number | null;
    /** Kafka commit latency: count, mean and the histogram buckets holding the median and the 99th percentile. */
    kafka_commit_ms: { count: number; mean: number | null; p50_at_most: number | null; p99_at_most: number | null };
    /** Committed row changes by table and operation. */
    events_by_table: Record<string, Partial<Record<RowOp, number>>>;
    /** Tables left out of walcast's publication, and tables the publication makes unwritable. */
    publication: { excluded_tables: string[]; unwritable_tables: string[] };
    /** Present while a snapshot runs. */
    snapshot?: { tables_done: number; tables: number; rows: number; percent: number };
    /** Present for a sink. */
    sink?: SinkStatusBody;
  } | null;
}

/** A sink's progress in the status body. */
export interface SinkStatusBody {
  records: number;
  changes_applied: number;
  rows_written: number;
  batches: number;
  fenced_batches: number;
  partitions: string[];
  lag_records: number;
  lag_records_by_partition: Record<string, number>;
  milliseconds_behind_source: number | null;
  seconds_since_last_batch: number | null;
  apply_ms: { count: number; mean: number | null; p50_at_most: number | null; p99_at_most: number | null };
  changes_by_table: Record<string, Partial<Record<RowOp, number>>>;
}

function latencySummary(h: LatencyHistogram): { count: number; mean: number | null; p50_at_most: number | null; p99_at_most: number | null } {
  return { count: h.count, mean: h.count === 0 ? null : ms(h.sumSeconds / h.count), p50_at_most: ms(h.quantileUpperBound(0.5)), p99_at_most: ms(h.quantileUpperBound(0.99)) };
}

function sinkStatus(s: SinkStats): SinkStatusBody {
  return {
    records: s.recordsConsumed,
    changes_applied: s.changesApplied,
    rows_written: s.rowsWritten,
    batches: s.batches,
    fenced_batches: s.fencedBatches,
    partitions: s.partitions,
    lag_records: s.totalLag(),
    lag_records_by_partition: Object.fromEntries(s.lagRecords),
    milliseconds_behind_source: s.millisBehindSource,
    seconds_since_last_batch: s.lastAppliedAt === null ? null : Math.floor((Date.now() - s.lastAppliedAt) / 1000),
    apply_ms: latencySummary(s.applyLatency),
    changes_by_table: countsByTable(s.tables),
  };
}

function snapshotStatus(s: SnapshotSummary): { tables_done: number; tables: number; rows: number; percent: number } {
  return { tables_done: s.tablesDone, tables: s.tables, rows: s.rows, percent: s.blocks === 0 ? 100 : Math.floor((100 * s.blocksDone) / s.blocks) };
}

/** Seconds to milliseconds, rounded to a microsecond; Infinity (beyond every bucket) as null. */
function ms(seconds: number | null): number | null {
  return seconds === null || !Number.isFinite(seconds) ? null : Math.round(seconds * 1e6) / 1e3;
}

function countsByTable(counters: TableEventCounters): Record<string, Partial<Record<RowOp, number>>> {
  const out: Record<string, Partial<Record<RowOp, number>>> = {};
  for (const counts of counters.all()) {
    const ops: Partial<Record<RowOp, number>> = {};
    for (const op of ROW_OPS) if (counts.committed[op] > 0) ops[op] = counts.committed[op];
    if (Object.keys(ops).length > 0) out[counts.table] = ops;
  }
  return out;
}

function connectState(state: ConnectorState): ConnectState {
  switch (state) {
    case 'running':
      return 'RUNNING';
    case 'failed':
      return 'FAILED';
    // waiting: a standby, the slot is another instance's (Connect's state for a task no worker runs).
    case 'waiting':
    case 'stopped':
    case 'stopping':
      return 'UNASSIGNED';
    default:
      return 'RESTARTING';
  }
}

/** The operator's pause shows only once it holds a running task; a retrying one is RESTARTING. */
function shownState(status: { state: ConnectorState; paused: boolean }): ConnectState {
  return status.paused && status.state === 'running' ? 'PAUSED' : connectState(status.state);
}

export function connectorStatusBody(connector: ManagedConnector, workerId: string): ConnectorStatusBody {
  const status = connector.status();
  const state = status.stoppedByOperator ? 'STOPPED' : shownState(status);
  const stats = status.stats;
  const worker = status.workerId ?? workerId;
  const tasks = (status.tasks ?? [status]).map((task, id): TaskStatusBody => {
    const taskState = shownState(task);
    return { id, state: taskState, worker_id: worker, ...(task.lastError && taskState !== 'RUNNING' ? { trace: task.lastError } : {}) };
  });
  return {
    name: connector.name,
    connector: { state, worker_id: worker },
    // A stopped connector has no tasks (Connect's STOPPED).
    tasks: state === 'STOPPED' ? [] : tasks,
    type: connector.type,
    walcast: stats
      ? {
          acknowledged_lsn: formatLsn(stats.ackedLsn),
          received_lsn: formatLsn(stats.receivedLsn),
          events: stats.eventsSent,
          dead_lettered: stats.deadLettered,
          transactions: stats.transactionsDelivered,
          buffered_messages: stats.bufferedMessages,
          paused_by_backpressure: stats.paused,
          restarts: status.restarts,
          retained_wal_bytes: stats.retainedWalBytes,
          retained_wal_warn_bytes: stats.retainedWalWarnBytes,
          milliseconds_behind_source: stats.millisBehindSource,
          seconds_since_last_event: stats.lastEventAt === null ? null : Math.floor((Date.now() - stats.lastEventAt) / 1000),
          kafka_commit_ms: latencySummary(stats.kafkaCommitLatency),
          events_by_table: countsByTable(stats.tableEvents),
          publication: { excluded_tables: stats.excludedTables, unwritable_tables: stats.unwritableTables },
          ...(stats.snapshot ? { snapshot: snapshotStatus(stats.snapshot()) } : {}),
          ...(stats.sink ? { sink: sinkStatus(stats.sink) } : {}),
        }
      : null,
  };
}

type Action = 'status' | 'pause' | 'resume' | 'restart';

const METHODS: Readonly<Record<Action, string>> = { status: 'GET', pause: 'PUT', resume: 'PUT', restart: 'POST' };

function isAction(segment: string | undefined): segment is Action {
  return segment !== undefined && Object.hasOwn(METHODS, segment);
}

/** The connector a path segment names (percent-encoded), or the 400/404 reply. */
export function findConnector(encodedName: string, path: string, connectors: readonly ManagedConnector[]): ManagedConnector | Reply {
  let name: string;
  try {
    name = decodeURIComponent(encodedName);
  } catch {
    return errorReply(400, `malformed percent-encoding in ${path}`);
  }
  return connectors.find((c) => c.name === name) ?? errorReply(404, `Connector ${name} not found`);
}

/** The reply for a connector route, or null when the path is not one (the caller answers 404). */
export function routeConnectors(method: string, path: string, context: ConnectorRoutesContext): Reply | null {
  if (path === '/connectors') {
    return method === 'GET' ? { status: 200, body: context.connectors().map((c) => c.name) } : methodNotAllowed(method, path);
  }
  const [root, collection, encodedName, action, ...rest] = path.split('/');
  if (root !== '' || collection !== 'connectors' || encodedName === undefined || !isAction(action) || rest.length > 0) return null;
  if (method !== METHODS[action]) return methodNotAllowed(method, path);
  const connector = findConnector(encodedName, path, context.connectors());
  if (!('name' in connector)) return connector;
  const { name } = connector;
  switch (action) {
    case 'status':
      return { status: 200, body: connectorStatusBody(connector, context.workerId) };
    case 'pause':
      connector.pause();
      context.log.info({ connector: name, action }, 'management API');
      return { status: 202 };
    case 'resume':
      connector.resume();
      context.log.info({ connector: name, action }, 'management API');
      return { status: 202 };
    case 'restart':
      connector.restart();
      context.log.info({ connector: name, action }, 'management API');
      return { status: 204 };
  }
}
