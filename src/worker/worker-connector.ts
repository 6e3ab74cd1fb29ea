/**
 * One connector of a worker (worker.ts): its stored config and target state, the supervisors of
 * its tasks here (if this worker runs it), and the status the REST API shows for it.
 *
 * A connector runs as many tasks as its kind can use of `tasks.max` (worker/plugins.ts), each
 * under a supervisor of its own (started, restarted and failed on its own, as Connect's tasks),
 * all sharing one set of progress counters, so /status and /metrics count the connector whole.
 */
import type { ConnectorState, ConnectorStatus, ManagedConnector, TaskStatus } from '../connector.ts';
import type { ExitCodeValue } from '../errors.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import type { StoredConnector } from './config-store.ts';
import type { ConnectorPlugin } from './plugins.ts';
import type { Supervisor } from './supervisor.ts';

/** One connector of the worker: its stored config, target state and what runs it now. */
export class WorkerConnector implements ManagedConnector {
  readonly name: string;
  stored: StoredConnector;
  plugin: ConnectorPlugin;
  /** The tasks run here, in order (task 0 first); empty when this worker does not run the connector. */
  tasks: TaskRun[] = [];
  /** How many tasks its config makes it run (what GET .../tasks lists, wherever it runs). */
  taskCount = 1;
  /** Why the stored config does not configure a connector now (e.g. a reference that no longer resolves). */
  configError: string | null = null;

  constructor(name: string, stored: StoredConnector, plugin: ConnectorPlugin) {
    this.name = name;
    this.stored = stored;
    this.plugin = plugin;
  }

  get type(): ConnectorPlugin['type'] {
    return this.plugin.type;
  }

  /** Another worker's status of it (from the status topic), while this one does not run it. */
  remote: () => ConnectorStatus | null = () => null;

  /** Tasks run here now. */
  get running(): boolean {
    return this.tasks.length > 0;
  }

  status(): ConnectorStatus {
    if (this.stored.targetState === 'STOPPED') return { state: 'stopped', paused: false, lastError: null, restarts: 0, stats: null, stoppedByOperator: true };
    if (this.tasks.length === 1) return this.tasks[0]!.supervisor.status();
    if (this.tasks.length > 1) return combinedStatus(this.tasks.map((t) => t.supervisor.status()));
    if (this.configError !== null) return { state: 'failed', paused: false, lastError: this.configError, restarts: 0, stats: null };
    // Not run here: as the worker running it published it; UNASSIGNED until one does.
    return this.remote() ?? { state: 'waiting', paused: false, lastError: null, restarts: 0, stats: null };
  }

  pause(): void {
    for (const task of this.tasks) task.supervisor.pause();
  }

  resume(): void {
    for (const task of this.tasks) task.supervisor.resume();
  }

  restart(): void {
    for (const task of this.tasks) task.supervisor.restart();
  }

  /** A task here has failed for good (its supervisor's run ended). */
  get anyTaskFailed(): boolean {
    return this.tasks.some((t) => t.supervisor.status().state === 'failed');
  }

  get snapshots(): ManagedConnector['snapshots'] {
    // Snapshots are the CDC source's, which runs one task.
    return this.tasks[0]?.supervisor.snapshots;
  }
}

/** One task run here. */
export interface TaskRun {
  supervisor: Supervisor;
  /** Resolves when the supervisor's run ends (stopped, or failed for good). */
  done: Promise<ExitCodeValue>;
}

/**
 * The connector's status over its tasks: RUNNING while any task runs (as Connect keeps a connector
 * RUNNING beside a FAILED task, which its own entry shows), otherwise the state they share, or
 * FAILED when one failed; counters shared, restarts summed.
 */
export function combinedStatus(tasks: readonly ConnectorStatus[]): ConnectorStatus {
  const states = new Set<ConnectorState>(tasks.map((t) => t.state));
  const state: ConnectorState = states.size === 1 ? tasks[0]!.state : states.has('running') ? 'running' : states.has('failed') ? 'failed' : tasks[0]!.state;
  const taskStatuses: TaskStatus[] = tasks.map((t) => ({ state: t.state, paused: t.paused, lastError: t.lastError }));
  return {
    state,
    paused: tasks.every((t) => t.paused),
    lastError: tasks.find((t) => t.lastError !== null)?.lastError ?? null,
    restarts: tasks.reduce((n, t) => n + t.restarts, 0),
    stats: tasks.find((t) => t.stats !== null)?.stats ?? null,
    tasks: taskStatuses,
  };
}

export function problemList(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.key && !p.message.includes(p.key) ? `${p.key}: ${p.message}` : p.message)).join('\n');
}

export function sameConfig(a: ConnectorConfigMap, b: ConnectorConfigMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

