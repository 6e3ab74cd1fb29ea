/**
 * `walcast worker`: several connectors in one process, created and changed through Kafka
 * Connect's REST API (http/connect-admin.ts) and kept in the config topic (config-store.ts), so a
 * restarted worker resumes them. Each connector runs under its own supervisor
 * (worker/supervisor.ts), exactly as `walcast run` runs its one.
 *
 * A config is stored as written (provider references unresolved) and resolved at each start. It
 * is checked by its plugin before it is stored: an invalid config is refused with every problem
 * named, and never replaces a running one.
 */
import type { WorkerConfig } from '../config/load.ts';
import type { ConnectorStatus, ManagedConnector, TargetState } from '../connector.ts';
import type { ExitCodeValue } from '../errors.ts';
import type { Logger } from '../log.ts';
import { AdminError, type ConnectorAdmin, type ConnectorInfoBody, type PluginInfoBody, type TaskInfoBody } from './admin.ts';
import { resolveReferences, type ConfigProblem, type ConnectorConfigMap } from './config-providers.ts';
import { ConfigDecryptionError, isSecretKey, keepHiddenSecrets, maskConfig } from './config-secrets.ts';
import { ConfigRecordError, type ConfigStore, type StoredConnector } from './config-store.ts';
import { findPlugin, unsupportedSettings, validationBody, type Configured, type ConnectorPlugin, type PluginContext, type ValidationBody } from './plugins.ts';
import { Supervisor } from './supervisor.ts';

export interface WorkerOptions {
  store: ConfigStore;
  plugins: readonly ConnectorPlugin[];
  config: WorkerConfig;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/** One connector of the worker: its stored config, target state and what runs it now. */
class WorkerConnector implements ManagedConnector {
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

  status(): ConnectorStatus {
    if (this.stored.targetState === 'STOPPED') return { state: 'stopped', paused: false, lastError: null, restarts: 0, stats: null, stoppedByOperator: true };
    if (this.configError !== null || !this.supervisor) return { state: 'failed', paused: false, lastError: this.configError ?? 'not started', restarts: 0, stats: null };
    return this.supervisor.status();
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

function problemList(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.key && !p.message.includes(p.key) ? `${p.key}: ${p.message}` : p.message)).join('\n');
}

export class Worker implements ConnectorAdmin {
  private readonly options: WorkerOptions;
  private readonly connectors = new Map<string, WorkerConnector>();
  /** Changes run one at a time: two PUTs for one name must not start two connectors. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;

  constructor(options: WorkerOptions) {
    this.options = options;
  }

  private get context(): PluginContext {
    return { worker: this.options.config, env: this.options.env };
  }

  private serial<T>(change: () => Promise<T>): Promise<T> {
    const next = this.queue.then(change, change);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Reads the config topic and starts every connector in it, as its target state says. */
  async start(): Promise<void> {
    const stored = await this.loadStore();
    for (const [name, entry] of stored) {
      const plugin = findPlugin(this.options.plugins, entry.config['connector.class'] ?? '');
      if (!plugin) {
        this.options.log.error({ connector: name, class: entry.config['connector.class'] }, `connector ${name} in the config topic names a connector class this walcast does not have; it is not started`);
        continue;
      }
      const connector = new WorkerConnector(name, entry, plugin);
      this.connectors.set(name, connector);
      this.launch(connector);
    }
    this.options.log.info({ connectors: [...this.connectors.keys()], topic: this.options.config.worker.configStorageTopic }, 'worker resumed the connectors of its config topic');
  }

  /**
   * The config topic's connectors. Kafka is retried until WALCAST_STARTUP_TIMEOUT_MS (a topic just
   * created may have no leader yet); a record walcast cannot read is not retried.
   */
  private async loadStore(): Promise<Map<string, StoredConnector>> {
    const deadline = Date.now() + this.options.config.startupTimeoutMs;
    for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 5000)) {
      try {
        return await this.options.store.load();
      } catch (error) {
        if (error instanceof ConfigRecordError || error instanceof ConfigDecryptionError || Date.now() + delayMs > deadline) throw error;
        this.options.log.warn({ err: error, retryInMs: delayMs }, `reading ${this.options.config.worker.configStorageTopic} failed; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** Stops every connector (each finishes its open transaction) and closes the config topic. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.serial(async () => {
      await Promise.all([...this.connectors.values()].map((c) => this.halt(c)));
    });
    await this.options.store.close();
  }

  /** Every supervised connector, for /health, /ready and /metrics. */
  all(): readonly ManagedConnector[] {
    return [...this.connectors.values()];
  }

  /** The plugin's verdict on a config whose references are resolved here. */
  private configure(name: string, plugin: ConnectorPlugin, config: ConnectorConfigMap): Configured {
    const { resolved, problems } = resolveReferences(config, isSecretKey, this.options.env);
    problems.push(...unsupportedSettings(plugin, config));
    const configured = plugin.configure(name, resolved, this.context);
    return { problems: [...problems, ...configured.problems], ...(problems.length === 0 && configured.create ? { create: configured.create } : {}) };
  }

  private launch(connector: WorkerConnector): void {
    if (this.stopping || connector.stored.targetState === 'STOPPED') return;
    const { name } = connector;
    const configured = this.configure(name, connector.plugin, connector.stored.config);
    if (!configured.create) {
      connector.configError = `the stored config no longer configures a connector:\n${problemList(configured.problems)}`;
      this.options.log.error({ connector: name }, `connector ${name}: ${connector.configError}`);
      return;
    }
    connector.configError = null;
    const log = this.options.log.child({ connector: name });
    const supervisor = new Supervisor(configured.create(), { startupTimeoutMs: this.options.config.startupTimeoutMs, log });
    if (connector.stored.targetState === 'PAUSED') supervisor.pause();
    connector.supervisor = supervisor;
    connector.running = supervisor.run().then((code) => {
      log.info({ exitCode: code }, code === 0 ? `connector ${name} stopped` : `connector ${name} failed; POST /connectors/${name}/restart starts it again`);
      return code;
    });
  }

  private async halt(connector: WorkerConnector): Promise<void> {
    connector.supervisor?.stop();
    await connector.running;
    connector.running = null;
  }

  private find(name: string): WorkerConnector {
    const connector = this.connectors.get(name);
    if (!connector) throw new AdminError(404, `Connector ${name} not found`);
    return connector;
  }

  names(): string[] {
    return [...this.connectors.keys()].sort();
  }

  managed(name: string): ManagedConnector {
    return this.find(name);
  }

  info(name: string): ConnectorInfoBody {
    const connector = this.find(name);
    const tasks = connector.stored.targetState === 'STOPPED' ? [] : [{ connector: name, task: 0 }];
    return { name, config: maskConfig(connector.stored.config), tasks, type: connector.type };
  }

  tasks(name: string): TaskInfoBody[] {
    const info = this.info(name);
    return info.tasks.map((id) => ({ id, config: info.config }));
  }

  plugins(): PluginInfoBody[] {
    return this.options.plugins.map((p) => ({ class: p.className, type: p.type, version: p.version }));
  }

  private plugin(className: string | undefined): ConnectorPlugin {
    if (className === undefined || className.trim() === '') throw new AdminError(400, 'Missing required configuration "connector.class" which has no default value.');
    const plugin = findPlugin(this.options.plugins, className);
    if (!plugin) {
      throw new AdminError(400, `Failed to find any class that implements Connector and which name matches ${className}, available connectors are: ${this.options.plugins.map((p) => p.className).join(', ')}`);
    }
    return plugin;
  }

  validate(pluginName: string, config: ConnectorConfigMap): ValidationBody {
    const plugin = this.plugin(pluginName);
    const named = config['connector.class'];
    if (named !== undefined && findPlugin(this.options.plugins, named) !== plugin) {
      throw new AdminError(400, `Included connector type ${named} does not match request type ${pluginName}`);
    }
    const { problems } = this.configure(config.name ?? '', plugin, config);
    return validationBody(plugin, config, problems);
  }

  put(name: string, config: ConnectorConfigMap, mustBeNew: boolean): Promise<{ created: boolean; info: ConnectorInfoBody }> {
    return this.serial(async () => {
      const existing = this.connectors.get(name);
      if (existing && mustBeNew) throw new AdminError(409, `Connector ${name} already exists`);
      const full = keepHiddenSecrets({ ...config, name }, existing?.stored.config);
      await this.replace(name, full, existing?.stored.targetState ?? 'STARTED');
      return { created: !existing, info: this.info(name) };
    });
  }

  patch(name: string, changes: Record<string, string | null>): Promise<ConnectorInfoBody> {
    return this.serial(async () => {
      const existing = this.find(name);
      const merged: ConnectorConfigMap = { ...existing.stored.config };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      await this.replace(name, keepHiddenSecrets({ ...merged, name }, existing.stored.config), existing.stored.targetState);
      return this.info(name);
    });
  }

  /** Checks, stores, then swaps the running connector for one with the new config. */
  private async replace(name: string, config: ConnectorConfigMap, targetState: TargetState): Promise<void> {
    if (!validName(name)) throw new AdminError(400, `Connector name ${JSON.stringify(name)} is invalid: it must be non-empty and without control characters`);
    const plugin = this.plugin(config['connector.class']);
    const { problems } = this.configure(name, plugin, config);
    if (problems.length > 0) {
      throw new AdminError(
        400,
        `Connector configuration is invalid and contains the following ${problems.length} error(s):\n${problemList(problems)}\nYou can also find the above list of errors at the endpoint \`/connector-plugins/{connectorType}/config/validate\``,
      );
    }
    const stored: StoredConnector = { config, targetState };
    await this.options.store.put(name, stored);
    const previous = this.connectors.get(name);
    if (previous) await this.halt(previous);
    const connector = new WorkerConnector(name, stored, plugin);
    this.connectors.set(name, connector);
    this.options.log.info({ connector: name, class: plugin.className, targetState }, previous ? `connector ${name} reconfigured` : `connector ${name} created`);
    this.launch(connector);
  }

  remove(name: string): Promise<void> {
    return this.serial(async () => {
      const connector = this.find(name);
      await this.options.store.remove(name);
      this.connectors.delete(name);
      await this.halt(connector);
      this.options.log.info({ connector: name }, `connector ${name} deleted (its replication slot, topics and offsets stay)`);
    });
  }

  setTargetState(name: string, state: TargetState): Promise<void> {
    return this.serial(async () => {
      const connector = this.find(name);
      const previous = connector.stored.targetState;
      if (previous === state) return;
      connector.stored = { ...connector.stored, targetState: state };
      await this.options.store.put(name, connector.stored);
      this.options.log.info({ connector: name, from: previous, to: state }, `connector ${name}: ${state.toLowerCase()}`);
      if (state === 'STOPPED') await this.halt(connector);
      else if (previous === 'STOPPED') this.launch(connector);
      else if (state === 'PAUSED') connector.pause();
      else connector.resume();
    });
  }

  restart(name: string, options: { includeTasks: boolean; onlyFailed: boolean }): Promise<void> {
    return this.serial(async () => {
      const connector = this.find(name);
      if (connector.stored.targetState === 'STOPPED') return;
      const failed = connector.status().state === 'failed';
      if (options.onlyFailed && !failed) return;
      if (failed) {
        // A failed supervisor has ended its run: a new one starts from the last committed position.
        await this.halt(connector);
        this.launch(connector);
      } else {
        connector.restart();
      }
    });
  }
}

/** Connect refuses empty names and control characters. */
function validName(name: string): boolean {
  return name.trim() !== '' && ![...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}
