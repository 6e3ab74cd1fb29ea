/**
 * Connector states shared by the workers of a group, as distributed Connect shares them: a
 * compacted topic (WALCAST_STATUS_STORAGE_TOPIC), one record per connector keyed
 * `status-connector-<name>`, written by the worker that runs it whenever its state changes and
 * read by every worker (worker.ts follows the topic). So any worker answers GET .../status, with
 * the `worker_id` of the one running the connector. A delete writes a tombstone.
 *
 * Value: {"state":"running","paused":false,"trace":null,"worker_id":"host:8083","tasks":[...]}:
 * walcast's connector state, the operator's pause and the last error as the status API shows it
 * (the supervisor's messages never carry a secret), and, for a connector of several tasks, each
 * task's {"state","paused","trace"} in order (absent for one task).
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { ConnectorState, ConnectorStatus, TaskStatus } from '../connector.ts';
import type { Logger } from '../log.ts';

const KEY_PREFIX = 'status-connector-';

interface StatusRecord {
  state: ConnectorState;
  paused: boolean;
  trace: string | null;
  worker_id: string;
  tasks?: Array<{ state: ConnectorState; paused: boolean; trace: string | null }>;
}

export class StatusStore {
  readonly topic: string;
  private readonly producer: Producer;
  private readonly workerId: string;
  private readonly log: Logger;
  private connected = false;
  /** The last record of each connector, as read back from the topic. */
  private readonly latest = new Map<string, StatusRecord>();
  /** What this worker last wrote for each connector, to write only changes. */
  private readonly written = new Map<string, string>();

  constructor(options: { kafka: Kafka; topic: string; workerId: string; log: Logger }) {
    this.topic = options.topic;
    this.workerId = options.workerId;
    this.log = options.log;
    this.producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  }

  /** A record of the topic (from the follower). */
  read(key: string | null, value: Buffer | null): void {
    if (key === null || !key.startsWith(KEY_PREFIX)) return;
    const name = key.slice(KEY_PREFIX.length);
    if (value === null) {
      this.latest.delete(name);
      return;
    }
    try {
      this.latest.set(name, JSON.parse(value.toString('utf8')) as StatusRecord);
    } catch {
      this.log.warn({ key, topic: this.topic }, `record ${key} in ${this.topic} is not JSON; ignored`);
    }
  }

  /** The connector's status as another worker last published it, or null (none, or this worker's own). */
  remote(name: string): ConnectorStatus | null {
    const record = this.latest.get(name);
    if (!record || record.worker_id === this.workerId) return null;
    const tasks = record.tasks?.map((t): TaskStatus => ({ state: t.state, paused: t.paused, lastError: t.trace }));
    return { state: record.state, paused: record.paused, lastError: record.trace, restarts: 0, stats: null, workerId: record.worker_id, ...(tasks ? { tasks } : {}) };
  }

  /** Publishes the state of a connector this worker runs, when it changed since the last write. */
  async publish(name: string, status: ConnectorStatus): Promise<void> {
    const record: StatusRecord = { state: status.state, paused: status.paused, trace: status.lastError, worker_id: this.workerId };
    if (status.tasks) record.tasks = status.tasks.map((t) => ({ state: t.state, paused: t.paused, trace: t.lastError }));
    const text = JSON.stringify(record);
    if (this.written.get(name) === text) return;
    await this.write(name, Buffer.from(text));
    this.written.set(name, text);
  }

  /** The connector is gone: its status too. */
  async remove(name: string): Promise<void> {
    this.written.delete(name);
    await this.write(name, null);
  }

  /** Forget what was written for a connector this worker no longer runs (it publishes afresh if it gets it back). */
  forget(name: string): void {
    this.written.delete(name);
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = false;
  }

  private async write(name: string, value: Buffer | null): Promise<void> {
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: KEY_PREFIX + name, value }] });
  }
}
