import type { Admin, Kafka } from 'kafkajs';
import { describeMaxMessageBytes } from './record-limits.ts';

export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
}

/**
 * Creates topics walcast writes to before the first record goes there, instead of relying on
 * the broker's auto.create.topics.enable (off on most production clusters).
 */
export class TopicManager {
  private readonly admin: Admin;
  private readonly known = new Set<string>();
  private readonly settings: TopicSettings;
  private connected = false;

  constructor(kafka: Kafka, settings: TopicSettings) {
    this.admin = kafka.admin();
    this.settings = settings;
  }

  private async connect(): Promise<void> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
  }

  async ensure(topics: string[], overrides: { partitions?: number; configEntries?: Array<{ name: string; value: string }> } = {}): Promise<void> {
    const missing = topics.filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    await this.connect();
    const existing = new Set(await this.admin.listTopics());
    const toCreate = missing.filter((t) => !existing.has(t));
    if (toCreate.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((topic) => ({
          topic,
          numPartitions: overrides.partitions ?? this.settings.partitions,
          replicationFactor: this.settings.replicationFactor,
          configEntries: overrides.configEntries ?? [],
        })),
      });
    }
    for (const t of missing) this.known.add(t);
  }

  /** A single-partition compacted topic: positions and configs, where only each key's last record counts. */
  async ensureCompacted(topic: string): Promise<void> {
    await this.ensure([topic], {
      partitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: '0' },
      ],
    });
  }

  /** Each topic's max.message.bytes (topics that exist; see record-limits.ts). */
  async maxMessageBytes(topics: string[]): Promise<Map<string, number>> {
    await this.connect();
    return describeMaxMessageBytes(this.admin, topics);
  }

  /** Existing topics whose names start with `prefix`. */
  async listWithPrefix(prefix: string): Promise<string[]> {
    await this.connect();
    return (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.admin.disconnect();
    this.connected = false;
  }
}
