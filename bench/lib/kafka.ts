/** Kafka side of the benchmark: topics, end offsets, read_committed counts and latency reads. */
import { randomUUID } from 'node:crypto';
import avsc from 'avsc';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import { SchemaRegistryClient } from '../../src/encode/registry.ts';
import { WireDecoder } from '../../src/tail.ts';
import { percentile, sleep } from './util.ts';

export function benchKafka(brokers: string[], clientId = 'walcast-bench'): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 1000 } });
}

export class KafkaAdmin {
  readonly kafka: Kafka;
  private readonly admin: Admin;
  private constructor(kafka: Kafka, admin: Admin) {
    this.kafka = kafka;
    this.admin = admin;
  }

  static async connect(brokers: string[]): Promise<KafkaAdmin> {
    const kafka = benchKafka(brokers);
    const admin = kafka.admin();
    await admin.connect();
    return new KafkaAdmin(kafka, admin);
  }

  async createTopic(topic: string, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
    await this.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries }] });
  }

  /** Sum of high watermarks (uncommitted included: for non-transactional producers this is the record count). */
  async highWatermark(topic: string): Promise<number> {
    try {
      const offsets = await this.admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    } catch {
      return 0;
    }
  }

  /** Sum over the topic's partitions of the group's committed offsets (0 where none). */
  async committedOffset(groupId: string, topic: string): Promise<number> {
    try {
      const [t] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
      return (t?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    } catch {
      return 0;
    }
  }

  async deleteTopicsWithPrefix(prefix: string): Promise<string[]> {
    const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await this.admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    return topics;
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length > 0) await this.admin.deleteTopics({ topics, timeout: 30_000 });
  }

  async listTopics(prefix: string): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }
}

export interface TopicScan {
  records: number;
  keyBytes: number;
  valueBytes: number;
}

/**
 * Reads a topic from the beginning with isolation.level=read_committed until `expected` records
 * were seen (or no new record arrived for `idleMs`): the exact count a downstream consumer gets.
 * With `onRecord`, every record is handed over (latency decoding).
 */
export async function scanTopic(
  brokers: string[],
  topic: string,
  expected: number,
  options: { idleMs?: number; timeoutMs?: number; onRecord?: (r: { key: Buffer | null; value: Buffer | null; timestamp: number }) => Promise<void> | void } = {},
): Promise<TopicScan> {
  const kafka = benchKafka(brokers, 'walcast-bench-scan');
  const consumer = kafka.consumer({ groupId: `walcast-bench-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100, maxBytes: 50 * 1024 * 1024, maxBytesPerPartition: 20 * 1024 * 1024 });
  const scan: TopicScan = { records: 0, keyBytes: 0, valueBytes: 0 };
  let lastProgress = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          scan.records += 1;
          scan.keyBytes += m.key?.length ?? 0;
          scan.valueBytes += m.value?.length ?? 0;
          if (options.onRecord) await options.onRecord({ key: m.key, value: m.value, timestamp: Number(m.timestamp) });
        }
        lastProgress = Date.now();
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    while (scan.records < expected && Date.now() - lastProgress < (options.idleMs ?? 15_000) && Date.now() < deadline) await sleep(100);
    // a little longer: anything beyond `expected` would be a duplicate
    if (scan.records >= expected) await sleep(500);
  } finally {
    // bounded: a broker restarted under the consumer can make disconnect() wait for a long time
    await Promise.race([consumer.disconnect().catch(() => undefined), sleep(10_000)]);
  }
  return scan;
}

/** What a pgstream topic holds: row events of the table, and everything else (logical messages). */
export interface PgstreamCount extends TopicScan {
  rows: number;
  other: number;
}

/**
 * Reads a pgstream topic (read_committed, though pgstream does not use transactions) up to
 * `records` and counts the table's row events. wal2json also passes on every logical decoding
 * message written on the server (add-tables filters rows only): on a shared server, other
 * sessions' pg_logical_emit_message() calls land in the topic too.
 */
export async function countPgstreamTopic(brokers: string[], topic: string, records: number, schema: string, table: string): Promise<PgstreamCount> {
  let rows = 0;
  let other = 0;
  const scan = await scanTopic(brokers, topic, records, {
    onRecord: ({ value }) => {
      type Event = { action?: unknown; schema?: unknown; table?: unknown };
      let event: Event | null;
      try {
        event = value ? (JSON.parse(value.toString('utf8')) as Event) : null;
      } catch {
        event = null;
      }
      if (event && (event.action === 'I' || event.action === 'U' || event.action === 'D') && event.schema === schema && event.table === table) rows += 1;
      else other += 1;
    },
  });
  return { ...scan, rows, other };
}

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/**
 * pgstream's event ({action, timestamp, columns: [{name, value}], ...}): wal2json's commit
 * timestamp, PostgreSQL's text with microseconds and a zone offset ("2026-12-02 01:02:03.123456+00"),
 * and the row's id. null for any other shape.
 */
export function pgstreamCommit(event: unknown): { commitMs: number; id: unknown } | null {
  if (event === null || typeof event !== 'object' || !('action' in event) || !('timestamp' in event)) return null;
  const { action, timestamp, columns } = event as { action: unknown; timestamp: unknown; columns?: Array<{ name?: unknown; value?: unknown }> };
  // row events only: logical messages of other sessions on the server land in the topic too
  if (action !== 'I' && action !== 'U' && action !== 'D') return null;
  const m = typeof timestamp === 'string' ? /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d)(?::?(\d\d))?$/.exec(timestamp) : null;
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}T${m[2]}${m[4]}:${m[5] ?? '00'}`);
  const fraction = m[3] ? Number(`0.${m[3]}`) * 1000 : 0;
  return { commitMs: seconds + fraction, id: columns?.find((c) => c.name === 'id')?.value };
}

/**
 * Commit-to-append latency of every record of a live run: Kafka's LogAppendTime (the topic is
 * created with message.timestamp.type=LogAppendTime) minus the PostgreSQL commit time carried in
 * the event (source.ts_us). Avro (Confluent wire format, schemas from the registry) or JSON
 * (Debezium's JsonConverter envelope {schema, payload}; pgstream's event, pgstreamCommit()). Rows with id <= `skipIdsUpTo` (warm-up) are ignored.
 */
export async function measureLatency(brokers: string[], registryUrl: string, topic: string, expected: number, skipIdsUpTo: number): Promise<{ scan: TopicScan; latency: LatencyStats }> {
  const decoder = new WireDecoder(registryUrl);
  const samples: number[] = [];
  let undecodable = 0;
  let firstError: string | undefined;
  const scan = await scanTopic(brokers, topic, expected, {
    onRecord: async ({ value, timestamp }) => {
      if (value === null) return;
      let decoded: unknown;
      try {
        decoded = await decoder.decode(value);
      } catch (error) {
        undecodable += 1;
        firstError ??= (error as Error).message;
        return;
      }
      if (decoded && typeof decoded === 'object' && 'payload' in decoded && 'schema' in decoded) decoded = (decoded as { payload: unknown }).payload;
      const pgstream = pgstreamCommit(decoded);
      if (pgstream === null && decoded !== null && typeof decoded === 'object' && 'action' in decoded) return; // a logical message
      const tsUs = field(decoded, 'source', 'ts_us');
      const tsMs = field(decoded, 'source', 'ts_ms');
      const id = pgstream ? pgstream.id : field(decoded, 'after', 'id');
      const commitMs = pgstream ? pgstream.commitMs : typeof tsUs === 'number' || typeof tsUs === 'bigint' ? Number(tsUs) / 1000 : typeof tsMs === 'number' ? tsMs : NaN;
      if (!Number.isFinite(commitMs)) {
        undecodable += 1;
        return;
      }
      if (id !== undefined && Number(id) <= skipIdsUpTo) return;
      samples.push(timestamp - commitMs);
    },
  });
  if (undecodable > 0 && samples.length === 0) throw new Error(`could not decode source.ts_us in ${undecodable} records of ${topic}${firstError ? `: ${firstError}` : ''}`);
  const sorted = Float64Array.from(samples).sort();
  return { scan, latency: { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN } };
}

export interface SnapshotCount extends TopicScan {
  /** Records whose value is a read event (op "r"). */
  reads: number;
  /** Distinct row ids 1..rows among the read events. */
  distinctIds: number;
  /** Read events of an id seen before. */
  duplicates: number;
  /** Records that are not read events of an id in 1..rows (other ops, tombstones, unknown ids, undecodable). */
  other: number;
  firstError: string | null;
}

/**
 * Counts a snapshot's topic exactly, as a read_committed consumer gets it: every record, the read
 * events (op "r") among them and their distinct row ids (a bitmap over 1..rows), so that
 * "reads = distinct ids = rows = records" proves each row arrived once. Avro values (Confluent wire
 * format: walcast, Debezium + Apicurio) are decoded through the registry; JsonConverter values
 * (schemas enabled, ~2 KB each) are searched for `"op":"r"` and their row id read from the key.
 */
export async function countSnapshotTopic(brokers: string[], registryUrl: string, topic: string, rows: number): Promise<SnapshotCount> {
  const registry = new SchemaRegistryClient(registryUrl);
  const types = new Map<number, avsc.Type>();
  const seen = new Uint8Array(rows + 1);
  const count = { reads: 0, distinctIds: 0, duplicates: 0, other: 0, firstError: null as string | null };
  const opRead = Buffer.from('"op":"r"');
  const row = (op: unknown, id: unknown): void => {
    const n = typeof id === 'number' || typeof id === 'bigint' ? Number(id) : NaN;
    if (op !== 'r' || !Number.isInteger(n) || n < 1 || n > rows) {
      count.other += 1;
      return;
    }
    count.reads += 1;
    if (seen[n] === 1) count.duplicates += 1;
    else {
      seen[n] = 1;
      count.distinctIds += 1;
    }
  };
  const fail = (message: string): void => {
    count.other += 1;
    count.firstError ??= message;
  };
  const decodeAvro = (type: avsc.Type, value: Buffer): void => {
    const envelope = type.decode(value, 5).value as { op?: unknown; after?: { id?: unknown } | null } | undefined;
    row(envelope?.op, envelope?.after?.id);
  };
  const scan = await scanTopic(brokers, topic, rows, {
    idleMs: 30_000,
    timeoutMs: 20 * 60_000,
    onRecord: ({ key, value }) => {
      if (value === null) return fail('tombstone');
      if (value.length >= 5 && value[0] === 0) {
        const id = value.readInt32BE(1);
        const type = types.get(id);
        if (type) return decodeAvro(type, value);
        return registry.schemaById(id).then(
          (schema) => {
            const t = avsc.Type.forSchema(JSON.parse(schema) as avsc.Schema, avroTypeOptions());
            types.set(id, t);
            decodeAvro(t, value);
          },
          (error: unknown) => fail((error as Error).message),
        );
      }
      try {
        const parsed = key === null ? null : (JSON.parse(key.toString('utf8')) as { payload?: { id?: unknown } } | null);
        row(value.includes(opRead) ? 'r' : '?', parsed?.payload?.id);
      } catch (error) {
        fail((error as Error).message);
      }
      return undefined;
    },
  });
  return { ...scan, ...count };
}
