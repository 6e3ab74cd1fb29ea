/**
 * The connector contract: what a kind of connector (the CDC source with its snapshots, the polling
 * source, the sink) implements so that one supervisor can start, restart, pause and stop any of them.
 *
 * A kind implements one *session*: everything from connecting to the services to streaming, run
 * until the session's signal is aborted (stop, restart, delete) or a fault ends it. The supervisor
 * (worker/supervisor.ts) owns the rest: the start deadline, restarts with backoff, the operator's
 * pause, the state the management API reports.
 */
import type { ExitCodeValue } from './errors.ts';
import type { Logger } from './log.ts';
import { LatencyHistogram } from './stats/latency-histogram.ts';
import { TableEventCounters } from './stats/table-events.ts';
import type { SinkStats } from './sink/stats.ts';

export type ConnectorType = 'source' | 'sink';

/** `waiting`: another owner holds the connector's resource (a replication slot in use); it stands by. */
export type ConnectorState = 'starting' | 'running' | 'retrying' | 'waiting' | 'stopping' | 'stopped' | 'failed';

/**
 * What the operator asked a worker's connector to be (Kafka Connect's target state), kept with its
 * config: STOPPED runs nothing at all, PAUSED runs it paused.
 */
export type TargetState = 'STARTED' | 'PAUSED' | 'STOPPED';

/** Why the supervisor aborted a session's signal. */
export type AbortReason = 'stop' | 'restart';

/** How the supervisor treats an error that ended a session. */
export interface ErrorVerdict {
  /** true: FAILED with exitCode, no retry (fix the setup); false: retry with backoff. */
  permanent: boolean;
  exitCode: ExitCodeValue;
  /** The cause in words, for the log and the status API; never a secret. */
  message: string;
  /**
   * The searchable WALCAST_* code (docs/operations.md, "Error codes") when the error itself does
   * not carry it: a library's error that walcast recognised (a refused SASL login, an untrusted
   * PostgreSQL certificate).
   */
  code?: string;
  /**
   * Another owner holds the resource (a replication slot in use): stand by and try again every
   * owner poll interval, indefinitely; the start deadline applies again from when it is free.
   */
  waitForOwner?: boolean;
}

/**
 * Progress counters a connector reports for /status and /metrics. Continued across sessions, so
 * the counters stay monotonic when a session restarts.
 */
export interface ConnectorStats {
  eventsSent: number;
  /** Rows (or messages) sent to the dead-letter topic instead of their change topic, committed. */
  deadLettered: number;
  /** Source transactions (PostgreSQL transactions, snapshot chunks, polls) delivered to Kafka. */
  transactionsDelivered: number;
  kafkaCommits: number;
  /** Position acknowledged to the source (for CDC: the slot's confirmed LSN). */
  ackedLsn: bigint;
  /** Highest position received from the source. */
  receivedLsn: bigint;
  lastCommitTimeMicros: bigint | null;
  lastKafkaCommitAt: number | null;
  /** Source messages received and not yet processed. */
  bufferedMessages: number;
  /** The source is paused by backpressure (not by the operator). */
  paused: boolean;
  tables: number;
  /** A snapshot in progress (for /status), or null. */
  snapshot: (() => SnapshotSummary) | null;
  /** Tables the include list selects that walcast left out of its publication (they would block writes). */
  excludedTables: string[];
  /** Tables and partitions whose UPDATEs and DELETEs PostgreSQL rejects because the publication lists them. */
  unwritableTables: string[];
  /** Committed change events by table and operation. */
  tableEvents: TableEventCounters;
  /** Time of each Kafka commit: the last chunk's flush, the offset record and EndTxn. */
  kafkaCommitLatency: LatencyHistogram;
  /** When a Kafka transaction with events last committed (ms since epoch); before the first, when streaming began. */
  lastEventAt: number | null;
  /**
   * Milliseconds between the source commit of the last delivered transaction and its Kafka
   * commit (Debezium's MilliSecondsBehindSource); kept while nothing new arrives.
   */
  millisBehindSource: number | null;
  /** WAL the slot keeps on the source (pg_current_wal_lsn() - restart_lsn, bytes) at the last poll. */
  retainedWalBytes: number | null;
  /** Above this, walcast warns (WALCAST_RETAINED_WAL_WARN_BYTES; 0: never). */
  retainedWalWarnBytes: number;
  /** A sink's progress (null for sources). */
  sink: SinkStats | null;
}

export interface SnapshotSummary {
  tablesDone: number;
  tables: number;
  rows: number;
  blocksDone: number;
  blocks: number;
}

export function emptyStats(): ConnectorStats {
  return {
    eventsSent: 0,
    deadLettered: 0,
    transactionsDelivered: 0,
    kafkaCommits: 0,
    ackedLsn: 0n,
    receivedLsn: 0n,
    lastCommitTimeMicros: null,
    lastKafkaCommitAt: null,
    bufferedMessages: 0,
    paused: false,
    tables: 0,
    snapshot: null,
    excludedTables: [],
    unwritableTables: [],
    tableEvents: new TableEventCounters(),
    kafkaCommitLatency: new LatencyHistogram(),
    lastEventAt: null,
    millisBehindSource: null,
    retainedWalBytes: null,
    retainedWalWarnBytes: 0,
    sink: null,
  };
}

/** What a session sees of its supervisor. */
export interface SessionContext {
  /** Aborted on stop or restart (`signal.reason` is an AbortReason): finish cleanly and resolve. */
  readonly signal: AbortSignal;
  log: Logger;
  /** The counters to update; the same object across sessions. */
  stats: ConnectorStats;
  /** Names what the session is doing, so an error says which service and setting to check. */
  stage(description: string): void;
  /** Call once the connector does its work (streaming): the start deadline no longer applies. */
  running(): void;
  /** The operator's pause (management API): true until resumed. */
  isPaused(): boolean;
  /** Called whenever the operator pauses or resumes; returns the unsubscribe function. */
  onPauseChange(listener: (paused: boolean) => void): () => void;
}

/** An incremental snapshot asked for (management API, CLI, Debezium's execute-snapshot signal). */
export interface SnapshotRequest {
  /** schema.table names, as in Debezium's data-collections. */
  tables: string[];
  /** Per table, an SQL condition on its rows (Debezium's additional-conditions). */
  filters: Record<string, string>;
}

/** A request refused, with the HTTP status Kafka Connect would answer (the REST layer sends it). */
export class RefusedRequestError<S extends number = number> extends Error {
  readonly status: S;
  constructor(status: S, message: string) {
    super(message);
    this.status = status;
  }
}

/** A snapshot request the connector cannot take. */
export class SnapshotRequestError extends RefusedRequestError<400 | 404 | 409 | 503> {
  readonly code = 'WALCAST_SNAPSHOT_REQUEST';
}

/** Snapshots a running connector takes on request. */
export interface SnapshotControl {
  /** Starts an incremental snapshot; resolves with its id once it is planned. */
  execute(request: SnapshotRequest): Promise<{ id: string; tables: string[] }>;
  /** Stops the running snapshot (what it published stays); false when none runs. */
  stop(): boolean;
  /** Pauses or resumes handing out chunks; false when none runs. */
  pause(paused: boolean): boolean;
}

export interface Connector {
  readonly name: string;
  readonly type: ConnectorType;
  /** Present for kinds that take snapshots on request. */
  readonly snapshots?: SnapshotControl;
  /**
   * One session: connect, prepare, run. Resolves when the signal is aborted and the session has
   * finished cleanly, or with 'finished' when the connector's work is done (the supervisor then
   * stops it, exit code 0); rejects on any fault (the supervisor asks classify() what to do).
   */
  runSession(context: SessionContext): Promise<void | 'finished'>;
  classify(error: unknown): ErrorVerdict;
  /** Undo what a first start created in the services when the connector never ran (called once, at the end). */
  cleanup(log: Logger): Promise<void>;
}

/** What the management API reads of a supervised connector. */
export interface ConnectorStatus {
  state: ConnectorState;
  /** The operator paused it (PUT /connectors/<name>/pause). */
  paused: boolean;
  lastError: string | null;
  restarts: number;
  stats: ConnectorStats | null;
  /** Stopped by the operator (PUT /connectors/<name>/stop): Connect's STOPPED, with no tasks. */
  stoppedByOperator?: boolean;
  /** The worker that runs it, when another worker of the group does (its status comes from the status topic). */
  workerId?: string;
  /**
   * Connect's tasks, in order (task 0 first), when the connector runs several (a worker's
   * `tasks.max`); absent: one task, in the connector's own state.
   */
  tasks?: TaskStatus[];
}

/** One task of a connector, as the status API shows it. */
export interface TaskStatus {
  state: ConnectorState;
  paused: boolean;
  lastError: string | null;
}

/** What the management API may do with a supervised connector. */
export interface ManagedConnector {
  readonly name: string;
  readonly type: ConnectorType;
  status(): ConnectorStatus;
  pause(): void;
  resume(): void;
  restart(): void;
  readonly snapshots?: SnapshotControl;
}
