/**
 * Readable JSON for `walcast tail`: walks the writer's Avro type beside the decoded value so that
 * logical types print as people read them (ISO timestamps and dates, exact decimals), bytes as
 * base64 and 64-bit integers exactly.
 */
import avsc from 'avsc';
import { civilFromDays } from './decode/temporal.ts';
import { formatDecimal, type Decimal } from './decode/numeric.ts';
import type { JsonValue } from './decode/codec.ts';
import { DateType, DecimalType, TimeMicrosType, TimestampMicrosType } from './encode/avro-logical-types.ts';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function isoDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  const y = year > 0 && year <= 9999 ? pad(year, 4) : year > 0 ? `+${year}` : `${pad(1 - year, 4)} BC`;
  return `${y}-${pad(month)}-${pad(day)}`;
}

function isoTimestamp(micros: bigint): string {
  const days = micros >= 0n ? micros / 86_400_000_000n : -((-micros + 86_399_999_999n) / 86_400_000_000n);
  const rest = micros - days * 86_400_000_000n;
  return `${isoDate(Number(days))}T${timeOfDay(rest)}Z`;
}

function timeOfDay(micros: bigint): string {
  const total = Number(micros);
  const seconds = Math.floor(total / 1e6);
  const fraction = total % 1e6;
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}${fraction ? `.${pad(fraction, 6)}` : ''}`;
}

export function renderAvro(type: avsc.Type, value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (type instanceof TimestampMicrosType) return isoTimestamp(BigInt(value as bigint));
  if (type instanceof DateType) return isoDate(value as number);
  if (type instanceof TimeMicrosType) return timeOfDay(BigInt(value as number));
  if (type instanceof DecimalType) return formatDecimal(value as Decimal);
  if (type instanceof avsc.types.LogicalType) return renderAvro(type.underlyingType, value);
  if (type instanceof avsc.types.UnwrappedUnionType) {
    const branch = type.types.find((t) => t.typeName !== 'null' && t.isValid(value));
    return branch ? renderAvro(branch, value) : null;
  }
  if (type instanceof avsc.types.RecordType) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(type.fields.map((f) => [f.name, renderAvro(f.type, record[f.name])]));
  }
  if (type instanceof avsc.types.ArrayType) return (value as unknown[]).map((v) => renderAvro(type.itemsType, v));
  if (type instanceof avsc.types.MapType) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, renderAvro(type.valuesType, v)]));
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value as JsonValue;
}
