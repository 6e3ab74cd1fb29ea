/**
 * A connector's offsets as Kafka Connect's REST API shows and changes them (KIP-875:
 * `GET/PATCH/DELETE /connectors/<name>/offsets`): a list of `{partition, offset}` pairs whose
 * contents each kind defines (a source its position, a sink `{kafka_topic, kafka_partition}` ->
 * `{kafka_offset}`).
 *
 * Each kind gives the worker one of these per connector config. The worker calls alter and reset
 * only while the connector is STOPPED; each implementation still fences any instance that may
 * be running somewhere (a zombie on another worker) before it writes, so a change is never
 * overwritten by an older instance and a connector resumed afterwards starts from it.
 */
import type { JsonValue } from './kafka/offsets.ts';

export type OffsetFields = { [key: string]: JsonValue };

export interface ConnectorOffset {
  partition: OffsetFields;
  /** null in a PATCH: reset this partition (as if nothing had been read from it). */
  offset: OffsetFields | null;
}

export interface ConnectorOffsets {
  /** The stored offsets (committed ones only). */
  read(): Promise<ConnectorOffset[]>;
  /** Writes these partitions' offsets; others stay. Throws OffsetsRequestError for an entry it cannot take, before writing anything. */
  alter(entries: readonly ConnectorOffset[]): Promise<void>;
  /** Forgets every offset: the connector starts as a new one would. */
  reset(): Promise<void>;
}

/** An offsets request the connector cannot take: 400 (Connect's answer to a bad request), or 409 while something still runs. */
export class OffsetsRequestError extends Error {
  readonly code = 'WALCAST_OFFSETS_REQUEST';
  readonly status: 400 | 409;
  constructor(message: string, status: 400 | 409 = 400) {
    super(message);
    this.status = status;
  }
}

/** Offsets become JSON numbers when exact in a double, else their decimal text (Connect's longs). */
export function jsonInteger(value: bigint): JsonValue {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** A non-negative integer given as a JSON number or decimal text, or null. */
export function integerOf(value: JsonValue | undefined): bigint | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return BigInt(value.trim());
  return null;
}
