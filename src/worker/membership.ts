/**
 * Which connectors this worker runs, decided by Kafka's group protocol, not by one of our own.
 *
 * Every worker sharing a config topic joins one consumer group (WALCAST_WORKER_GROUP_ID) on an
 * assignment topic, `<group>-assignments`, whose partitions are never written: they are only
 * slots the group's assignor shares out among the live members. A connector belongs to slot
 * `murmur2(name) % partitions` (Kafka's own key hash), so the worker holding that partition runs
 * it. When a worker joins, leaves or stops heartbeating for WALCAST_WORKER_SESSION_TIMEOUT_MS, the
 * group rebalances and the slots, with their connectors, move.
 *
 * A rebalance does not wait for the previous holder to stop its connectors, and a worker cut off
 * from Kafka learns of its loss late. Two instances of a connector may therefore overlap for a
 * moment; each kind is fenced for that already, as `walcast run`'s standby is: the CDC source by
 * its replication slot (one reader) and its transactional id, the polling source by its
 * transactional id, the sink by the owner epoch of its offsets table.
 */
import { AssignerProtocol, type Assigner, type Consumer, type Kafka } from 'kafkajs';
import type { Logger } from '../log.ts';
import { murmur2 } from '../kafka/murmur2.ts';
import { retryUntil } from '../kafka/retry-until.ts';
import type { TopicManager } from '../kafka/topics.ts';

/** Slots of a new assignment topic: more than any group of workers is expected to have. */
export const ASSIGNMENT_PARTITIONS = 16;

/** The slot of a connector: Kafka's default partitioner applied to its name. */
export function slotOf(name: string, partitions: number): number {
  return (murmur2(name) & 0x7fffffff) % partitions;
}

/**
 * Kafka's round robin, made deterministic: partition p goes to the (p mod n)-th member by member
 * id (kafkajs' own round robin follows the broker's metadata order, which need not be sorted).
 * The leader computes it; every member gets its share in the group's SyncGroup answer.
 */
function slotAssigner(topic: string, partitions: () => number): Assigner {
  return {
    name: 'WalcastSlotAssigner',
    version: 0,
    async assign({ members }) {
      const sorted = members.map((m) => m.memberId).sort();
      const shares = new Map<string, number[]>(sorted.map((id) => [id, []]));
      for (let p = 0; p < partitions(); p++) shares.get(sorted[p % sorted.length]!)!.push(p);
      return sorted.map((memberId) => ({ memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { [topic]: shares.get(memberId)! }, userData: Buffer.alloc(0) }) }));
    },
    protocol({ topics }) {
      return { name: 'WalcastSlotAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  };
}

export interface MembershipOptions {
  kafka: Kafka;
  topics: TopicManager;
  groupId: string;
  sessionTimeoutMs: number;
  log: Logger;
  /** The slots this worker holds now (empty while it is not a member of the group). */
  onAssignment(slots: ReadonlySet<number>): void;
}

export class WorkerMembership {
  private readonly options: MembershipOptions;
  readonly topic: string;
  private consumer: Consumer | null = null;
  private partitionCount = ASSIGNMENT_PARTITIONS;

  constructor(options: MembershipOptions) {
    this.options = options;
    this.topic = `${options.groupId}-assignments`;
  }

  get partitions(): number {
    return this.partitionCount;
  }

  /** Joins the group; the topic is created (and its partitions counted) by the deadline. */
  async start(deadline: number): Promise<void> {
    const { kafka, log, sessionTimeoutMs } = this.options;
    this.partitionCount = await retryUntil(
      deadline,
      async () => {
        await this.options.topics.ensure([this.topic], { partitions: ASSIGNMENT_PARTITIONS });
        const admin = kafka.admin();
        await admin.connect();
        try {
          // An existing topic keeps its partition count: every worker must hash onto the same slots.
          return (await admin.fetchTopicOffsets(this.topic)).length;
        } finally {
          await admin.disconnect();
        }
      },
      (error, delayMs) => log.warn({ err: error, retryInMs: delayMs }, `preparing ${this.topic} failed; retrying`),
    );
    const consumer = kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeoutMs / 5)),
      rebalanceTimeout: Math.max(sessionTimeoutMs, 10_000),
      // Empty partitions: a fetch only waits, and the wait bounds how often the member heartbeats.
      maxWaitTimeInMs: Math.max(100, Math.floor(sessionTimeoutMs / 5)),
      partitionAssigners: [() => slotAssigner(this.topic, () => this.partitionCount)],
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const slots = new Set(event.payload.memberAssignment[this.topic] ?? []);
      log.info({ group: this.options.groupId, leader: event.payload.isLeader, memberId: event.payload.memberId, slots: [...slots].sort((a, b) => a - b) }, 'worker group assignment');
      this.options.onAssignment(slots);
    });
    // A member that crashed is out of the group until kafkajs has it rejoin: it holds nothing.
    consumer.on(consumer.events.CRASH, (event) => {
      log.warn({ err: event.payload.error, restart: event.payload.restart }, `worker group ${this.options.groupId}: membership lost; its connectors stop until it rejoins`);
      this.options.onAssignment(new Set());
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic] });
    await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
  }

  /** Leaves the group at once, so the others take the connectors without waiting for the session timeout. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
