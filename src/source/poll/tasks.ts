/**
 * The polling source's tasks (Connect's `tasks.max`): its tables spread over tasks, each task with
 * its own transactional id, and each table's cursor in a record of its own, so that a table can
 * move to another task when tasks.max changes.
 *
 * Exactly once across such a move: the task that now polls a table fences its own id only, not
 * the id of the task that polled it before. So before any task of a start reads a position, the
 * start fences the ids of every task of the previous start too (the count is kept in the offsets
 * topic): a zombie of a task that lost a table can then no longer commit a row or a cursor of it.
 */
import type { PollSourceConfig } from '../../config/jdbc-source.ts';
import { ensureOffsetsTopic, offsetRecord, readOffset, readOffsets, type StoredOffset } from '../../kafka/offsets.ts';
import { createKafka, KafkajsTransactionalProducer, sendInOwnTransaction } from '../../kafka/producer.ts';
import { TopicManager } from '../../kafka/topics.ts';
import type { Logger } from '../../log.ts';
import type { PollKafkaSettings } from './connector.ts';

const OFFSET_KEY_PREFIX = 'jdbc-source:';

/**
 * The tables of each task: `tasks` contiguous groups, the first ones one table larger, as the JDBC
 * connector groups them (ConnectorUtils.groupPartitions); never more groups than tables.
 */
export function spreadTables(tables: readonly string[], tasks: number): string[][] {
  const groups = Math.max(1, Math.min(tasks, tables.length));
  const out: string[][] = [];
  let start = 0;
  for (let g = 0; g < groups; g++) {
    const size = Math.floor(tables.length / groups) + (g < tables.length % groups ? 1 : 0);
    out.push(tables.slice(start, start + size));
    start += size;
  }
  return out;
}

/** How many tasks a config runs: one per table at most, one for a query. */
export function pollTaskCount(config: PollSourceConfig, tasksMax: number): number {
  return config.query !== null ? 1 : spreadTables(config.tables, tasksMax).length;
}

export function pollTransactionalId(name: string, task: number): string {
  return `walcast-jdbc-${name}-${task}`;
}

/**
 * A table's record in the offsets topic: `jdbc-source:["<name>",{"table":"<schema>.<table>"}]`
 * (Connect's own offset key shape, connector name and partition), `{"query":"query"}` for a query.
 */
export function pollOffsetKey(name: string, partitionKey: string, query: boolean): string {
  return OFFSET_KEY_PREFIX + JSON.stringify([name, query ? { query: partitionKey } : { table: partitionKey }]);
}

/** The partition key (schema.table, or `query`) of one of this connector's offset keys; null for another's. */
export function partitionOfOffsetKey(name: string, key: string): string | null {
  const prefix = `${OFFSET_KEY_PREFIX}[${JSON.stringify(name)},`;
  if (!key.startsWith(prefix)) return null;
  try {
    const [, partition] = JSON.parse(key.slice(OFFSET_KEY_PREFIX.length)) as [string, { table?: unknown; query?: unknown }];
    const part = partition.table ?? partition.query;
    return typeof part === 'string' ? part : null;
  } catch {
    return null;
  }
}

/** The record of how many tasks the connector's last start ran. */
function tasksKey(name: string): string {
  return `jdbc-source-tasks:${JSON.stringify(name)}`;
}

/** Takes every id in `ids` (InitProducerId): each one's older producers are fenced, their open transactions aborted. */
async function fenceIds(settings: PollKafkaSettings, ids: readonly string[], log: Logger): Promise<void> {
  const kafka = createKafka({ brokers: settings.brokers, clientId: settings.clientId, security: settings.security, log });
  for (const transactionalId of ids) {
    const producer = new KafkajsTransactionalProducer({ kafka, transactionalId, transactionTimeoutMs: 60_000 });
    try {
      await producer.connect();
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Before the tasks of a start read a position: fences the ids of this start's `tasks` and of
 * every task of the previous start, then records `tasks` for the next start. Returns the previous
 * count (0: none recorded).
 */
export async function fenceEarlierTasks(name: string, settings: PollKafkaSettings, tasks: number, log: Logger): Promise<number> {
  const kafka = createKafka({ brokers: settings.brokers, clientId: settings.clientId, security: settings.security, log });
  const topics = new TopicManager(kafka, { partitions: 1, replicationFactor: -1 });
  try {
    await ensureOffsetsTopic(topics, settings.offsetsTopic);
  } finally {
    await topics.disconnect().catch(() => undefined);
  }
  const ids = (n: number): string[] => Array.from({ length: n }, (_, task) => pollTransactionalId(name, task));
  // This start's ids first: once fenced, their zombies' open transactions are aborted and the
  // count below is read past them.
  await fenceIds(settings, ids(tasks), log);
  const stored = await readOffset(kafka, settings.offsetsTopic, tasksKey(name));
  const previous = Number(stored?.position.tasks ?? 0);
  if (previous > tasks) {
    await fenceIds(settings, ids(previous).slice(tasks), log);
    log.info({ previousTasks: previous, tasks }, 'fenced the transactional ids of the tasks of the previous start');
  }
  if (previous !== tasks) {
    // Written under task 0's id (now this start's): task 0 fences this writer in turn when it starts.
    const producer = new KafkajsTransactionalProducer({ kafka, transactionalId: pollTransactionalId(name, 0), transactionTimeoutMs: 60_000 });
    try {
      await producer.connect();
      await sendInOwnTransaction(producer, [offsetRecord(settings.offsetsTopic, tasksKey(name), { tasks })]);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
  return previous;
}

/** Every table's stored cursor record of the connector, by partition key (schema.table, or `query`). */
export async function readPollOffsets(name: string, settings: PollKafkaSettings, log: Logger): Promise<Map<string, StoredOffset>> {
  const kafka = createKafka({ brokers: settings.brokers, clientId: settings.clientId, security: settings.security, log, retries: 5 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(settings.offsetsTopic)) return new Map();
  } finally {
    await admin.disconnect();
  }
  const byKey = await readOffsets(kafka, settings.offsetsTopic, (key) => partitionOfOffsetKey(name, key) !== null);
  const out = new Map<string, StoredOffset>();
  for (const [key, stored] of byKey) out.set(partitionOfOffsetKey(name, key)!, stored);
  return out;
}
