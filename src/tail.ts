/**
 * `walcast tail <topic>`: a topic's committed events as JSON lines, decoded through the registry
 * (Avro) or as JSON. For operators and the demo; read_committed, so aborted batches never show.
 */
import { randomUUID } from 'node:crypto';
import avsc from 'avsc';
import type { Decimal } from './decode/codec.ts';
import { formatDecimal } from './decode/numeric.ts';
import { avroTypeOptions } from './encode/avro-logical-types.ts';
import type { RegistryConfig } from './config/security.ts';
import { SchemaRegistryClient } from './encode/registry.ts';
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
  /** Lookups by schema id, in flight or successful. A failed one is dropped so the next record asks again. */
  private readonly types = new Map<number, Promise<avsc.Type>>();

  constructor(registry: RegistryConfig | string) {
    const url = typeof registry === 'string' ? registry : registry.url;
    this.registry = url ? new SchemaRegistryClient(registry) : null;
  }

  /** Closes the registry client's idle connections. */
  close(): void {
    this.registry?.close();
  }

  async decode(bytes: Buffer | null): Promise<unknown> {
    if (bytes === null) return null;
    if (bytes.length >= 5 && bytes[0] === 0 && this.registry) {
      const writer = await this.writerType(this.registry, bytes.readInt32BE(1));
      return renderAvro(writer, writer.fromBuffer(bytes.subarray(5)));
    }
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  /**
   * The writer type of schema `id`. Concurrent records of one id share a single registry request;
   * a failed lookup (registry restarting, network blip) is forgotten, so it is not cached for the
   * rest of the process and the next record with that id retries.
   */
  private writerType(registry: SchemaRegistryClient, id: number): Promise<avsc.Type> {
    const known = this.types.get(id);
    if (known) return known;
    const lookup = registry.schemaById(id).then((schema) => avsc.Type.forSchema(JSON.parse(schema) as avsc.Schema, avroTypeOptions()));
    this.types.set(id, lookup);
    // The callers await `lookup` and see its error; this branch only forgets it (and is handled).
    lookup.catch(() => {
      if (this.types.get(id) === lookup) this.types.delete(id);
    });
    return lookup;
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
