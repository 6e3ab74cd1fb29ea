/**
 * The sink's offsets as Kafka Connect's REST API shows them: per consumed partition
 * `{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"}}`, the next offset
 * to apply, read from the offsets table in the target (the truth; Kafka's group offsets trail it).
 *
 * A change is written to the offsets table in one PostgreSQL transaction that also bumps each
 * row's owner epoch (offsets.ts set/clear): a sink process still holding a partition somewhere
 * (a zombie) applies nothing more, since its every apply checks the epoch in the same transaction
 * as its rows. A sink resumed afterwards claims the rows and starts from the new offsets. The
 * consumer group's offsets (`connect-<name>`) are then moved the same way, so that the group's
 * view (lag tools, and where a reset partition starts) agrees; this needs an empty group, as
 * Connect's does, so a group with live members is refused before anything is written.
 */
import type { Admin } from 'kafkajs';
import { integerOf, jsonInteger, OffsetsRequestError, type ConnectorOffset, type ConnectorOffsets } from '../connector-offsets.ts';
import type { SinkConfig } from '../config/load.ts';
import { createKafka } from '../kafka/producer.ts';
import type { Logger } from '../log.ts';
import { negotiateTls, newClient } from '../pg/connect.ts';
import { SinkOffsets } from './offsets.ts';

/** Who wrote a row (the offsets table's owner column). */
const OWNER = 'offsets REST API';

interface PartitionChange {
  topic: string;
  partition: number;
  next: bigint | null;
}

function changeOf(entry: ConnectorOffset): PartitionChange {
  const { kafka_topic: topic, kafka_partition: partition } = entry.partition;
  if (typeof topic !== 'string' || topic === '' || typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || Object.keys(entry.partition).length !== 2) {
    throw new OffsetsRequestError(`a sink partition is {"kafka_topic": <topic>, "kafka_partition": <partition number>}; not ${JSON.stringify(entry.partition)}`);
  }
  if (entry.offset === null) return { topic, partition, next: null };
  const next = integerOf(entry.offset.kafka_offset);
  if (next === null || Object.keys(entry.offset).length !== 1) {
    throw new OffsetsRequestError(`a sink offset is {"kafka_offset": <next offset to apply, a non-negative integer>} or null; not ${JSON.stringify(entry.offset)} for ${topic}/${partition}`);
  }
  return { topic, partition, next };
}

export class SinkOffsetsAdmin implements ConnectorOffsets {
  private readonly config: SinkConfig;
  private readonly log: Logger;
  private readonly offsets: SinkOffsets;

  constructor(config: SinkConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.offsets = new SinkOffsets(config.offsetsTable, config.groupId);
  }

  private async withTarget<T>(work: (client: import('pg').Client) => Promise<T>): Promise<T> {
    const client = newClient(await negotiateTls(this.config.pg.connection));
    await client.connect();
    try {
      await this.offsets.ensureTable(client);
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const { kafka } = this.config;
    const admin = createKafka({ brokers: kafka.brokers, clientId: kafka.clientId, security: kafka.security, log: this.log, retries: 5 }).admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async read(): Promise<ConnectorOffset[]> {
    const rows = await this.withTarget((client) => this.offsets.list(client));
    return rows.map((r) => ({ partition: { kafka_topic: r.topic, kafka_partition: r.partition }, offset: { kafka_offset: jsonInteger(r.next) } }));
  }

  /** Connect refuses to move the offsets of a group that still has members: so does walcast, before writing. */
  private async checkGroupEmpty(admin: Admin): Promise<void> {
    const { groups } = await admin.describeGroups([this.config.groupId]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0) {
      throw new OffsetsRequestError(
        `consumer group ${this.config.groupId} still has ${members} active member(s) (a sink of this connector still running on another worker?): retry once the connector is stopped everywhere`,
        409,
      );
    }
  }

  async alter(entries: readonly ConnectorOffset[]): Promise<void> {
    const changes = entries.map(changeOf);
    if (changes.length === 0) return;
    await this.withAdmin(async (admin) => {
      await this.checkGroupEmpty(admin);
      await this.withTarget(async (client) => {
        await client.query('begin');
        try {
          for (const c of changes) await this.offsets.set(client, c.topic, c.partition, c.next, OWNER);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        }
      });
      // The group follows: to the new offset, or for a reset partition to its start (where the
      // sink, which consumes from the beginning, would start without a committed offset).
      for (const topic of new Set(changes.map((c) => c.topic))) {
        const ofTopic = changes.filter((c) => c.topic === topic);
        const starts = ofTopic.some((c) => c.next === null) ? await admin.fetchTopicOffsets(topic) : [];
        const partitions = ofTopic.map((c) => ({ partition: c.partition, offset: c.next?.toString() ?? starts.find((s) => s.partition === c.partition)?.low ?? '0' }));
        await admin.setOffsets({ groupId: this.config.groupId, topic, partitions });
      }
    });
  }

  async reset(): Promise<void> {
    await this.withAdmin(async (admin) => {
      await this.checkGroupEmpty(admin);
      await this.withTarget((client) => this.offsets.clear(client, OWNER));
      // Without committed offsets the sink consumes every partition from its beginning.
      await admin.deleteGroups([this.config.groupId]).catch((error: unknown) => {
        // A group that never committed anything does not exist (GROUP_ID_NOT_FOUND): nothing to delete.
        const groups = (error as { groups?: Array<{ errorCode?: number }> }).groups;
        if (!groups?.length || !groups.every((g) => g.errorCode === 69)) throw error;
      });
    });
  }
}
