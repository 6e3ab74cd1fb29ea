/**
 * `walcast worker`: several connectors in one process, created and changed through Kafka
 * Connect's REST API (http/connect-admin.ts) and kept in the config topic (config-store.ts). Each
 * connector runs under its own supervisor (worker/supervisor.ts), exactly as `walcast run` runs
 * its one.
 *
 * Workers sharing the config topic form a group (membership.ts): each runs the connectors whose
 * slot Kafka's group protocol gives it, and every worker follows the config and status topics, so
 * any of them answers for any connector. The topic is the truth: a REST change is checked, written,
 * and applied only when it comes back from the topic, by every worker alike (one path, in topic
 * order); the call answers once its own worker has applied it.
 *
 * A config is stored as written (provider references unresolved) and resolved at each start. It
 * is checked by its plugin before it is stored: an invalid config is refused with every problem
 * named, and never replaces a running one.
 */
import type { Kafka } from 'kafkajs';
import type { WorkerConfig } from '../config/load.ts';
import { OffsetsRequestError, type ConnectorOffset, type ConnectorOffsets } from '../connector-offsets.ts';
import { emptyStats, type ManagedConnector, type TargetState } from '../connector.ts';
import { ExitCode } from '../errors.ts';
import { retryUntil } from '../kafka/retry-until.ts';
import { TopicFollower, type FollowedRecord } from '../kafka/topic-follower.ts';
import type { TopicManager } from '../kafka/topics.ts';
import type { Logger } from '../log.ts';
import { AdminError, type ConnectorAdmin, type ConnectorInfoBody, type PluginInfoBody, type TaskInfoBody } from './admin.ts';
import { resolveReferences, type ConnectorConfigMap } from './config-providers.ts';
import { ConfigDecryptionError, isSecretKey, keepHiddenSecrets, maskConfig } from './config-secrets.ts';
import { ConfigRecordError, type ConfigStore, type RestartRequest, type StoredConnector } from './config-store.ts';
import { slotOf, WorkerMembership } from './membership.ts';
import { findPlugin, pluginsNamed, unsupportedSettings, validationBody, type Configured, type ConnectorPlugin, type PluginContext, type ValidationBody } from './plugins.ts';
import type { StatusStore } from './status-store.ts';
import { Supervisor } from './supervisor.ts';
import { problemList, sameConfig, WorkerConnector, type TaskRun } from './worker-connector.ts';

export interface WorkerOptions {
  store: ConfigStore;
  statuses: StatusStore;
  kafka: Kafka;
  topics: TopicManager;
  /** Connect's worker_id: the address of this worker's REST API. */
  workerId: string;
  plugins: readonly ConnectorPlugin[];
  config: WorkerConfig;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/** How often the states of the connectors run here are compared with what the status topic holds. */
const STATUS_PUBLISH_INTERVAL_MS = 500;
/** Before a fenced connector this worker still owns starts again (it stands by for its resource). */
const FENCED_RELAUNCH_DELAY_MS = 1000;

export class Worker implements ConnectorAdmin {
  private readonly options: WorkerOptions;
  /** Every connector of the config topic, run here or not. */
  private readonly connectors = new Map<string, WorkerConnector>();
  /** Changes run one at a time: two records for one name must not start two connectors. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private readonly follower: TopicFollower;
  private readonly membership: WorkerMembership;
  /** The assignment topic's partitions this worker holds (none until it has joined the group). */
  private slots: ReadonlySet<number> = new Set();
  private statusTimer: NodeJS.Timeout | null = null;
  /** The config topic has been read to where it ended at start. */
  private caughtUp = false;
  /** A record that cannot be read, met while catching up. */
  private startError: Error | null = null;

  constructor(options: WorkerOptions) {
    this.options = options;
    const { kafka, config, log } = options;
    this.follower = new TopicFollower({
      kafka,
      topics: [config.worker.configStorageTopic, config.worker.statusStorageTopic],
      purpose: 'worker config reader',
      log,
      onRecord: (record) => this.onRecord(record),
    });
    this.membership = new WorkerMembership({
      kafka,
      topics: options.topics,
      groupId: config.worker.groupId,
      sessionTimeoutMs: config.worker.sessionTimeoutMs,
      log,
      onAssignment: (slots) => void this.serial(() => this.reassign(slots)).catch((error: unknown) => log.error({ err: error }, 'applying the worker group assignment failed')),
    });
  }

  private get context(): PluginContext {
    return { worker: this.options.config, env: this.options.env };
  }

  private serial<T>(change: () => Promise<T>): Promise<T> {
    const next = this.queue.then(change, change);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Reads the config and status topics to their end, then joins the worker group: the connectors
   * of the slots it is given start as their target state says.
   */
  async start(): Promise<void> {
    const { config, log } = this.options;
    const deadline = Date.now() + config.startupTimeoutMs;
    await retryUntil(
      deadline,
      async () => {
        await this.options.store.ensureTopic();
        await this.options.topics.ensureCompacted(config.worker.statusStorageTopic);
      },
      (error, delayMs) => log.warn({ err: error, retryInMs: delayMs }, `creating ${config.worker.configStorageTopic} failed; retrying`),
    );
    await this.follower.start(Math.max(0, deadline - Date.now()));
    if (this.startError) throw this.startError;
    this.caughtUp = true;
    log.info({ connectors: this.names(), topic: config.worker.configStorageTopic }, 'worker read the connectors of its config topic');
    await this.membership.start(deadline);
    this.statusTimer = setInterval(() => void this.publishStatuses(), STATUS_PUBLISH_INTERVAL_MS);
  }

  /** Stops every connector run here (each finishes its open transaction), leaves the group and closes the topics. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.serial(async () => {
      await Promise.all([...this.connectors.values()].map((c) => this.halt(c)));
    });
    await this.membership.stop().catch((error: unknown) => this.options.log.warn({ err: error }, 'leaving the worker group failed'));
    await this.follower.stop().catch(() => undefined);
    await this.options.statuses.close();
    await this.options.store.close();
  }

  /** The connectors this worker runs (or would, were they not stopped), for /health, /ready and /metrics. */
  all(): readonly ManagedConnector[] {
    return [...this.connectors.values()].filter((c) => this.owns(c.name));
  }

  private owns(name: string): boolean {
    return this.slots.has(slotOf(name, this.membership.partitions));
  }

  /** A record of the config or status topic, in topic order. */
  private async onRecord(record: FollowedRecord): Promise<void> {
    if (record.topic === this.options.config.worker.statusStorageTopic) {
      this.options.statuses.read(record.key, record.value);
      return;
    }
    let decoded;
    try {
      decoded = this.options.store.decodeRecord(record.key, record.value);
    } catch (error) {
      if (!(error instanceof ConfigRecordError) && !(error instanceof ConfigDecryptionError) && !(error instanceof SyntaxError)) throw error;
      // At start, as before any connector runs, it stops the worker (the key is missing or wrong);
      // later, one record written by another walcast must not stop the others.
      if (!this.caughtUp) this.startError ??= error as Error;
      else this.options.log.error({ err: error, key: record.key, offset: String(record.offset) }, `a record of ${record.topic} cannot be read; its connector is left as it was`);
      return;
    }
    if (!decoded) return;
    const change = decoded;
    await this.serial(() => (change.kind === 'connector' ? this.apply(change.name, change.stored) : this.restartHere(change.name, change.request)));
  }

  /** Brings one connector to what the config topic says of it. */
  private async apply(name: string, stored: StoredConnector | null): Promise<void> {
    const existing = this.connectors.get(name);
    if (stored === null) {
      if (!existing) return;
      this.connectors.delete(name);
      const ranHere = existing.running;
      await this.halt(existing);
      if (ranHere) await this.options.statuses.remove(name).catch((error: unknown) => this.options.log.warn({ err: error, connector: name }, 'removing the status failed'));
      this.options.log.info({ connector: name }, `connector ${name} deleted (its replication slot, topics and offsets stay)`);
      return;
    }
    if (existing && sameConfig(existing.stored.config, stored.config)) {
      const previous = existing.stored.targetState;
      existing.stored = stored;
      if (previous === stored.targetState) return;
      this.options.log.info({ connector: name, from: previous, to: stored.targetState }, `connector ${name}: ${stored.targetState.toLowerCase()}`);
      if (stored.targetState === 'STOPPED') await this.halt(existing);
      else if (previous === 'STOPPED') this.reconcile(existing);
      else if (stored.targetState === 'PAUSED') existing.pause();
      else existing.resume();
      return;
    }
    const plugin = findPlugin(this.options.plugins, stored.config['connector.class'] ?? '');
    if (!plugin) {
      this.options.log.error({ connector: name, class: stored.config['connector.class'] }, `connector ${name} in the config topic names a connector class this walcast does not have; it is not started`);
      return;
    }
    if (existing) await this.halt(existing);
    const connector = new WorkerConnector(name, stored, plugin);
    connector.taskCount = this.configure(name, plugin, stored.config).tasks ?? 1;
    connector.remote = () => this.options.statuses.remote(name);
    this.connectors.set(name, connector);
    this.options.log.info({ connector: name, class: plugin.className, targetState: stored.targetState }, existing ? `connector ${name} reconfigured` : `connector ${name} configured`);
    this.reconcile(connector);
  }

  /** The group gave this worker other slots: start what is now its own, stop what no longer is. */
  private async reassign(slots: ReadonlySet<number>): Promise<void> {
    this.slots = slots;
    for (const connector of this.connectors.values()) {
      if (!this.owns(connector.name) && connector.running) {
        this.options.log.info({ connector: connector.name }, `connector ${connector.name} moves to another worker of the group`);
        await this.halt(connector);
        this.options.statuses.forget(connector.name);
      } else {
        this.reconcile(connector);
      }
    }
  }

  /** Starts the connector when this worker should run it and does not yet. */
  private reconcile(connector: WorkerConnector): void {
    if (connector.running || this.stopping || !this.owns(connector.name)) return;
    this.launch(connector);
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
    const created = configured.create();
    connector.taskCount = created.length;
    // One set of counters for the connector: its tasks add to them.
    const stats = emptyStats();
    const tasks: TaskRun[] = created.map((task, id) => {
      const taskLog = created.length > 1 ? log.child({ task: id }) : log;
      const supervisor = new Supervisor(task, { startupTimeoutMs: this.options.config.startupTimeoutMs, stats, log: taskLog });
      if (connector.stored.targetState === 'PAUSED') supervisor.pause();
      const what = created.length > 1 ? `connector ${name} task ${id}` : `connector ${name}`;
      const done = supervisor.run().then((code) => {
        taskLog.info({ exitCode: code }, code === 0 ? `${what} stopped` : `${what} failed; POST /connectors/${name}/restart starts it again`);
        // Fenced by another worker's instance during a rebalance: if the group says it is ours, start
        // again (every task: a start fences what the others left); it stands by (or fences in turn)
        // until the other instance is gone.
        if (code === ExitCode.fenced) setTimeout(() => void this.serial(() => this.relaunchFenced(connector, tasks)), FENCED_RELAUNCH_DELAY_MS);
        return code;
      });
      return { supervisor, done };
    });
    connector.tasks = tasks;
  }

  /** Starts a connector again whose task was fenced, when this worker still runs that start of it. */
  private async relaunchFenced(connector: WorkerConnector, tasks: readonly TaskRun[]): Promise<void> {
    if (connector.tasks !== tasks || this.connectors.get(connector.name) !== connector || !this.owns(connector.name)) return;
    await this.halt(connector);
    this.reconcile(connector);
  }

  private async halt(connector: WorkerConnector): Promise<void> {
    const { tasks } = connector;
    for (const task of tasks) task.supervisor.stop();
    await Promise.all(tasks.map((t) => t.done));
    if (connector.tasks === tasks) connector.tasks = [];
  }

  /** Publishes the state of each connector run here that changed (the status topic). */
  private async publishStatuses(): Promise<void> {
    for (const connector of this.connectors.values()) {
      if (!connector.running && connector.configError === null) continue;
      try {
        await this.options.statuses.publish(connector.name, connector.status());
      } catch (error) {
        this.options.log.warn({ err: error, connector: connector.name }, `publishing the status to ${this.options.statuses.topic} failed; retrying`);
        return;
      }
    }
  }

  /** The plugin's verdict on a config whose references are resolved here. */
  private configure(name: string, plugin: ConnectorPlugin, config: ConnectorConfigMap): Configured {
    const { resolved, problems } = resolveReferences(config, isSecretKey, this.options.env);
    problems.push(...unsupportedSettings(plugin, config));
    const configured = plugin.configure(name, resolved, this.context);
    if (problems.length > 0 || !configured.create) return { problems: [...problems, ...configured.problems] };
    return { ...configured, problems: configured.problems };
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
    const tasks = connector.stored.targetState === 'STOPPED' ? [] : Array.from({ length: connector.taskCount }, (_, task) => ({ connector: name, task }));
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
    const named = pluginsNamed(this.options.plugins, className);
    if (named.length > 1) {
      throw new AdminError(400, `More than one connector matches alias ${className}. Please use full package and class name instead. Classes found: ${named.map((p) => p.className).join(', ')}`);
    }
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

  /** Writes a change to the config topic, then waits until this worker has applied it from there. */
  private async write(change: () => Promise<bigint>): Promise<void> {
    const offset = await this.serial(change);
    await this.follower.handled(this.options.config.worker.configStorageTopic, 0, offset);
  }

  async put(name: string, config: ConnectorConfigMap, mustBeNew: boolean): Promise<{ created: boolean; info: ConnectorInfoBody }> {
    let created = false;
    await this.write(async () => {
      const existing = this.connectors.get(name);
      if (existing && mustBeNew) throw new AdminError(409, `Connector ${name} already exists`);
      created = !existing;
      return this.checkAndStore(name, keepHiddenSecrets({ ...config, name }, existing?.stored.config), existing?.stored.targetState ?? 'STARTED');
    });
    return { created, info: this.info(name) };
  }

  async patch(name: string, changes: Record<string, string | null>): Promise<ConnectorInfoBody> {
    await this.write(async () => {
      const existing = this.find(name);
      const merged: ConnectorConfigMap = { ...existing.stored.config };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      return this.checkAndStore(name, keepHiddenSecrets({ ...merged, name }, existing.stored.config), existing.stored.targetState);
    });
    return this.info(name);
  }

  /** Checks a config and writes it; every worker (this one too) applies it when it reads it back. */
  private async checkAndStore(name: string, config: ConnectorConfigMap, targetState: TargetState): Promise<bigint> {
    if (!validName(name)) throw new AdminError(400, `Connector name ${JSON.stringify(name)} is invalid: it must be non-empty and without control characters`);
    const plugin = this.plugin(config['connector.class']);
    const { problems } = this.configure(name, plugin, config);
    if (problems.length > 0) {
      throw new AdminError(
        400,
        `Connector configuration is invalid and contains the following ${problems.length} error(s):\n${problemList(problems)}\nYou can also find the above list of errors at the endpoint \`/connector-plugins/{connectorType}/config/validate\``,
      );
    }
    return this.options.store.put(name, { config, targetState });
  }

  async remove(name: string): Promise<void> {
    await this.write(async () => {
      this.find(name);
      return this.options.store.remove(name);
    });
  }

  async setTargetState(name: string, state: TargetState): Promise<void> {
    // Written even when unchanged: the answer then still waits for every earlier change.
    await this.write(async () => this.options.store.put(name, { ...this.find(name).stored, targetState: state }));
  }

  /** Connect's offsets routes (KIP-875): any state for GET; PATCH and DELETE only while STOPPED. */
  async offsets(name: string): Promise<ConnectorOffset[]> {
    return this.withOffsets(name, false, (offsets) => offsets.read());
  }

  async alterOffsets(name: string, entries: readonly ConnectorOffset[]): Promise<void> {
    await this.withOffsets(name, true, (offsets) => offsets.alter(entries));
  }

  async resetOffsets(name: string): Promise<void> {
    await this.withOffsets(name, true, (offsets) => offsets.reset());
  }

  private async withOffsets<T>(name: string, change: boolean, work: (offsets: ConnectorOffsets) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const connector = this.find(name);
      if (change && (connector.stored.targetState !== 'STOPPED' || connector.running)) {
        throw new AdminError(400, `Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/${name}/stop' endpoint`);
      }
      const configured = this.configure(name, connector.plugin, connector.stored.config);
      if (!configured.offsets) throw new AdminError(400, `the stored config of connector ${name} does not configure a connector now, so its offsets cannot be found:\n${problemList(configured.problems)}`);
      try {
        return await work(configured.offsets(this.options.log.child({ connector: name })));
      } catch (error) {
        if (error instanceof OffsetsRequestError) throw new AdminError(error.status, error.message);
        this.options.log.error({ err: error, connector: name }, `connector ${name}: offsets request failed`);
        throw new AdminError(500, `the offsets of connector ${name} could not be ${change ? 'changed' : 'read'}: ${(error as Error).message}`);
      }
    };
    // A change runs between config changes on this worker: a resume read meanwhile starts the connector after it, from the new offsets.
    return change ? this.serial(run) : run();
  }

  /** A restart: done here when this worker runs the connector, otherwise asked of the one that does through the config topic. */
  async restart(name: string, options: RestartRequest): Promise<void> {
    const local = await this.serial(async () => {
      this.find(name);
      if (!this.owns(name)) return false;
      await this.restartHere(name, options);
      return true;
    });
    if (!local) await this.write(() => this.options.store.requestRestart(name, options));
  }

  private async restartHere(name: string, options: RestartRequest): Promise<void> {
    const connector = this.connectors.get(name);
    if (!connector || !this.owns(name) || connector.stored.targetState === 'STOPPED') return;
    const failed = connector.anyTaskFailed || connector.status().state === 'failed';
    if (options.onlyFailed && !failed) return;
    if (failed || !connector.running) {
      // A failed supervisor has ended its run: a new one starts from the last committed position.
      await this.halt(connector);
      this.launch(connector);
    } else {
      connector.restart();
    }
  }
}

/** Connect refuses empty names and control characters. */
function validName(name: string): boolean {
  return name.trim() !== '' && ![...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}
