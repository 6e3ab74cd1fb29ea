/**
 * `walcast tail <topic>`: a topic's committed events as JSON lines, decoded through the registry
 * (Avro) or as JSON. For operators and the demo; read_committed, so aborted batches never show.
 */
import { randomUUID } from 'node:crypto';
import type { Decimal } from './decode/codec.ts';
import { formatDecimal } from './decode/numeric.ts';
import type { RegistryConfig } from './config/security.ts';
import { SchemaRegistryClient } from './encode/registry.ts';
import { isConfluentFramed, WriterTypes } from './encode/writer-types.ts';
import { createKafka } from './kafka/producer.ts';
import { checkKafkaTls, type KafkaSecurity } from './kafka/security.ts';
import { renderAvro } from './tail-render.ts';
import type { Logger } from './log.ts';

export interface TailOptions {
  brokers: string[];
  /** TLS and SASL to the brokers, as for `walcast run`. */
  security: KafkaSecurity;
  /** The registry (URL and credentials), or just its URL; an empty URL: JSON topics only. */
  registry: RegistryConfig | string;
  topic: string;
  fromBeginning: boolean;
  /** Stop after this many records (0: run until interrupted). */
  max: number;
  log: Logger;
  write: (line: string) => void;
  signal: AbortSignal;
}

function isDecimal(value: unknown): value is Decimal {
  return typeof value === 'object' && value !== null && typeof (value as Decimal).unscaled === 'bigint' && typeof (value as Decimal).scale === 'number';
}

export function toJsonSafe(_key: string, value: unknown): unknown {
  if (isDecimal(value)) return formatDecimal(value);
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

export class WireDecoder {
  private readonly registry: SchemaRegistryClient | null;
  private readonly writers: WriterTypes | null;

  constructor(registry: RegistryConfig | string) {
    const url = typeof registry === 'string' ? registry : registry.url;
    this.registry = url ? new SchemaRegistryClient(registry) : null;
    this.writers = this.registry ? new WriterTypes(this.registry) : null;
  }

  /** Closes the registry client's idle connections. */
  close(): void {
    this.registry?.close();
  }

  async decode(bytes: Buffer | null): Promise<unknown> {
    if (bytes === null) return null;
    if (isConfluentFramed(bytes) && this.writers) {
      const { type } = await this.writers.forRecord(bytes);
      return renderAvro(type, type.fromBuffer(bytes.subarray(5)));
    }
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
}

export async function tail(options: TailOptions): Promise<number> {
  await checkKafkaTls(options.brokers, options.security);
  const kafka = createKafka({ brokers: options.brokers, clientId: 'walcast-tail', security: options.security, log: options.log });
  const consumer = kafka.consumer({ groupId: `walcast-tail-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const decoder = new WireDecoder(options.registry);
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning });
    const done = new Promise<void>((resolve) => {
      options.signal.addEventListener('abort', () => resolve(), { once: true });
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (options.max > 0 && seen >= options.max) return;
          const key = await decoder.decode(message.key);
          const value = await decoder.decode(message.value);
          options.write(JSON.stringify({ partition, offset: Number(message.offset), key, value }, toJsonSafe));
          seen += 1;
          if (options.max > 0 && seen >= options.max) resolve();
        },
      });
    });
    await done;
  } finally {
    await consumer.disconnect();
    decoder.close();
  }
  return seen;
}
