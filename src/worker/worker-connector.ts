/**
 * One connector of a worker (worker.ts): its stored config and target state, the supervisor that
 * runs it here (if this worker runs it), and the status the REST API shows for it.
 */
import type { ConnectorStatus, ManagedConnector } from '../connector.ts';
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
  supervisor: Supervisor | null = null;
  /** Resolves when the current supervisor's run ends (stopped, or failed for good). */
  running: Promise<ExitCodeValue> | null = null;
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

  status(): ConnectorStatus {
    if (this.stored.targetState === 'STOPPED') return { state: 'stopped', paused: false, lastError: null, restarts: 0, stats: null, stoppedByOperator: true };
    if (this.supervisor) return this.supervisor.status();
    if (this.configError !== null) return { state: 'failed', paused: false, lastError: this.configError, restarts: 0, stats: null };
    // Not run here: as the worker running it published it; UNASSIGNED until one does.
    return this.remote() ?? { state: 'waiting', paused: false, lastError: null, restarts: 0, stats: null };
  }

  pause(): void {
    this.supervisor?.pause();
  }

  resume(): void {
    this.supervisor?.resume();
  }

  restart(): void {
    this.supervisor?.restart();
  }

  get snapshots(): ManagedConnector['snapshots'] {
    return this.supervisor?.snapshots;
  }
}

export function problemList(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.key && !p.message.includes(p.key) ? `${p.key}: ${p.message}` : p.message)).join('\n');
}

export function sameConfig(a: ConnectorConfigMap, b: ConnectorConfigMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

