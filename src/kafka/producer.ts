/**
 * The transactional producer port: the only place walcast touches a Kafka client's produce API,
 * so the benchmark can put another client behind the same calls.
 */
import { eosManagerFor } from './kafkajs-patch.ts';
import { kafkajsCompression, type CompressionName } from './compression.ts';
import { Kafka, Partitioners, logLevel, type ICustomPartitioner, type Producer, type Transaction } from 'kafkajs';
import type { Logger } from '../log.ts';
import type { TopicPartitionRef } from './open-transactions.ts';
import { kafkajsSecurity, type KafkaSecurity } from './security.ts';

export interface KafkaRecord {
  topic: string;
  key: Buffer | null;
  /** null is a tombstone. */
  value: Buffer | null;
  /** Only dead-letter records carry headers (a change event never does: the one-pass Produce encoding stays in use). */
  headers?: Record<string, Buffer>;
}

export interface TransactionalProducer {
  /** Connects and completes InitProducerId, fencing any older instance with the same transactional id. */
  connect(): Promise<void>;
  begin(): Promise<void>;
  send(records: KafkaRecord[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  disconnect(): Promise<void>;
  /** The producer id fencing assigned (after connect()). */
  producerId(): string;
  /**
   * Writes commit or abort markers to partitions without producing to them, in a transaction of
   * the current epoch: closes what an earlier epoch of this producer left open on them.
   */
  endOpenTransaction(partitions: TopicPartitionRef[], outcome: 'commit' | 'abort'): Promise<void>;
}

/** Another instance with the same transactional id took over: this one must stop. */
/** `records` in one Kafka transaction of their own: committed, or aborted and the error rethrown. */
export async function sendInOwnTransaction(producer: TransactionalProducer, records: KafkaRecord[]): Promise<void> {
  await producer.begin();
  try {
    await producer.send(records);
    await producer.commit();
  } catch (error) {
    await producer.abort().catch(() => undefined);
    throw error;
  }
}

export class ProducerFencedError extends Error {
  readonly code = 'WALCAST_PRODUCER_FENCED';
  constructor(cause: unknown) {
    super('another walcast instance with the same transactional id fenced this one; stopping', { cause });
    this.name = 'ProducerFencedError';
  }
}

export function isFencingError(error: unknown): boolean {
  const type = (error as { type?: string } | null)?.type;
  return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED';
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** TLS and SASL (kafka/security.ts); every client of this Kafka object uses them. */
  security: KafkaSecurity;
  log: Logger;
  /** Retries of each request (default 30: a streaming connector outlasts broker restarts). */
  retries?: number;
  /** Milliseconds to establish a connection (kafkajs' default 1000). */
  connectionTimeoutMs?: number;
}

/**
 * kafkajs' own log follows walcast's level: warnings and errors normally; at debug its info lines
 * too, at trace everything (connections, SASL handshakes, requests): what an operator needs to
 * see why a secured cluster refuses walcast. Its levels map one below walcast's.
 */
function kafkajsLogLevel(log: Logger): logLevel {
  if (log.isLevelEnabled('trace')) return logLevel.DEBUG;
  if (log.isLevelEnabled('debug')) return logLevel.INFO;
  return logLevel.WARN;
}

export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...kafkajsSecurity(options.security),
    // kafkajs' own retries: a short first retry so back-to-back transactions do not stall on
    // CONCURRENT_TRANSACTIONS (GUIDE: 300 ms default -> 10 ms; measured here at 10k rows/s:
    // p99 30.2 ms at 10 ms, 23.8-27.0 ms at 3 ms).
    retry: { retries: options.retries ?? 30, initialRetryTime: 3, maxRetryTime: 1000 },
    ...(options.connectionTimeoutMs !== undefined ? { connectionTimeout: options.connectionTimeoutMs } : {}),
    logLevel: kafkajsLogLevel(options.log),
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      // walcast's exactly-once rests on transactions, not on the idempotent producer's sequence
      // numbers surviving endless retries: a failed send aborts and restarts from the offset.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      if (level <= logLevel.ERROR) log.error(rest, message);
      else if (level === logLevel.WARN) log.warn(rest, message);
      else if (level === logLevel.INFO) log.debug(rest, message);
      else log.trace(rest, message);
    },
  });
}

/**
 * kafkajs' DefaultPartitioner (the Java client's murmur2 partitioning), which on a topic of one
 * partition (walcast's default) answers it without hashing the key or filtering the partition list
 * for every record: that was 2-4% of walcast's CPU on the catch-up workloads (--cpu-prof).
 */
export const walcastPartitioner: ICustomPartitioner = () => {
  const byKey = Partitioners.DefaultPartitioner();
  return (args) => {
    const { partitionMetadata, message } = args;
    if (partitionMetadata.length !== 1 || message.partition != null) return byKey(args);
    const only = partitionMetadata[0]!;
    // as DefaultPartitioner: a key hashes to partition 0 of 1; no key takes the partition if it has a leader
    return message.key == null && only.leader >= 0 ? only.partitionId : 0;
  };
};

export interface KafkajsProducerOptions {
  kafka: Kafka;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** Default none; every codec goes through the one-pass Produce encoding (kafkajs-patch.ts). */
  compression?: CompressionName;
}

export class KafkajsTransactionalProducer implements TransactionalProducer {
  private readonly producer: Producer;
  private readonly transactionalId: string;
  private readonly compression: number;
  private transaction: Transaction | null = null;

  constructor(options: KafkajsProducerOptions) {
    this.transactionalId = options.transactionalId;
    this.compression = kafkajsCompression(options.compression ?? 'none');
    this.producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: options.transactionalId,
      transactionTimeout: options.transactionTimeoutMs,
      createPartitioner: walcastPartitioner,
      retry: { retries: 30, initialRetryTime: 3, maxRetryTime: 1000 },
    });
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isFencingError(error)) throw new ProducerFencedError(error);
      throw error;
    }
  }

  async connect(): Promise<void> {
    await this.guard(() => this.producer.connect());
    // kafkajs runs InitProducerId at the first transaction(), not at connect(): until then a
    // zombie could still commit. Begin and abort an empty transaction to fence it now.
    await this.begin();
    await this.abort();
  }

  async begin(): Promise<void> {
    this.transaction = await this.guard(() => this.producer.transaction());
  }

  async send(records: KafkaRecord[]): Promise<void> {
    const transaction = this.transaction;
    if (!transaction) throw new Error('send() outside a transaction');
    // The records go to kafkajs as they are (it reads key and value): no second object per event.
    const byTopic = new Map<string, KafkaRecord[]>();
    for (const record of records) {
      let messages = byTopic.get(record.topic);
      if (!messages) byTopic.set(record.topic, (messages = []));
      messages.push(record);
    }
    await this.guard(() =>
      transaction.sendBatch({ acks: -1, compression: this.compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
    );
  }

  async commit(): Promise<void> {
    const transaction = this.transaction;
    if (!transaction) throw new Error('commit() outside a transaction');
    this.transaction = null;
    await this.guard(() => transaction.commit());
  }

  async abort(): Promise<void> {
    const transaction = this.transaction;
    this.transaction = null;
    if (transaction?.isActive()) await this.guard(() => transaction.abort());
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }

  private eosManager(): NonNullable<ReturnType<typeof eosManagerFor>> {
    const manager = eosManagerFor(this.transactionalId);
    if (!manager) throw new Error('internal: no kafkajs transaction manager for this producer (connect() first)');
    return manager;
  }

  producerId(): string {
    return String(this.eosManager().getProducerId());
  }

  async endOpenTransaction(partitions: TopicPartitionRef[], outcome: 'commit' | 'abort'): Promise<void> {
    const byTopic = new Map<string, Array<{ partition: number }>>();
    for (const { topic, partition } of partitions) {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({ partition });
    }
    await this.begin();
    try {
      const topicData = [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
      // kafkajs retries AddPartitionsToTxn only inside a send; the previous transaction's markers
      // may still be in flight (CONCURRENT_TRANSACTIONS), so retry it here.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.guard(() => this.eosManager().addPartitionsToTransaction(topicData));
          break;
        } catch (error) {
          const retriable = (error as { retriable?: boolean } | null)?.retriable === true;
          if (!retriable || attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 5 * 2 ** attempt)));
        }
      }
    } catch (error) {
      await this.abort().catch(() => undefined);
      throw error;
    }
    if (outcome === 'commit') await this.commit();
    else await this.abort();
  }
}
