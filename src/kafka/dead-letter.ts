/**
 * Dead-letter records as Kafka Connect writes them (errors.tolerance=all with
 * errors.deadletterqueue.topic.name): the failed record plus `__connect.errors.*` headers that say
 * where it was going, at which stage it failed and why. Connect's own header names and stage
 * names, UTF-8 string values, so tools written for Connect's dead-letter topics read walcast's.
 *
 * A source has no consumed record to copy, so the value is the change itself as JSON (dead-letter.ts
 * does not know its shape: the source builds it). It is cut to fit the dead-letter topic: the
 * longest strings are shortened first and listed, with their full size in bytes, under
 * `"truncated"`, so a row that was too large for its own topic still lands here.
 *
 * A sink dead-letters the consumed record itself, as Connect's sink tasks do: its key and value
 * bytes unchanged, and the partition and offset it was read from in Connect's headers.
 */
import type { KafkaRecord } from './producer.ts';
import { BATCH_OVERHEAD_BYTES } from './record-limits.ts';

/** Kafka Connect's dead-letter headers (DeadLetterQueueReporter). */
export const CONNECT_ERROR_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  connectorName: '__connect.errors.connector.name',
  taskId: '__connect.errors.task.id',
  stage: '__connect.errors.stage',
  className: '__connect.errors.class.name',
  exceptionClassName: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
  exceptionStacktrace: '__connect.errors.exception.stacktrace',
} as const;

/** walcast's own headers beside Connect's. */
export const WALCAST_ERROR_HEADERS = {
  code: 'walcast.errors.code',
  table: 'walcast.errors.table',
  column: 'walcast.errors.column',
  lsn: 'walcast.errors.lsn',
} as const;

/** Connect's stage names (org.apache.kafka.connect.runtime.errors.Stage) that apply to a source or a sink. */
export type ErrorStage = 'TASK_POLL' | 'KEY_CONVERTER' | 'VALUE_CONVERTER' | 'KAFKA_PRODUCE' | 'TASK_PUT';

export type JsonDocument = { [key: string]: JsonItem };
export type JsonItem = null | boolean | number | string | JsonItem[] | JsonDocument;

export interface DeadLetter {
  /** The change topic the record was meant for (a source) or read from (a sink). */
  topic: string;
  /** Where a sink read the record (Connect's partition and offset headers). */
  origin?: { partition: number; offset: string };
  connectorName: string;
  stage: ErrorStage;
  /** What failed: the walcast component, in the role of Connect's converter or task class. */
  className: string;
  error: Error & { code?: string };
  /** A source's change as JSON, or a sink's consumed bytes as they were. */
  key: JsonDocument | Buffer | null;
  value: JsonDocument | Buffer | null;
  /** walcast's headers (table, column, LSN). */
  context: Partial<Record<keyof typeof WALCAST_ERROR_HEADERS, string>>;
}

/** Strings of a truncated value keep this many characters. */
const KEPT_CHARS = 1024;
/** Longest stack trace carried in a header. */
const MAX_STACK_CHARS = 4096;

export class DeadLetterTooLargeError extends Error {
  readonly code = 'WALCAST_DEAD_LETTER_TOO_LARGE';
}

/**
 * The dead-letter record for `letter` on `deadLetterTopic`, its value cut to fit `limit` (the
 * topic's max.message.bytes). Throws DeadLetterTooLargeError when even the cut record cannot fit.
 */
export function deadLetterRecord(deadLetterTopic: string, letter: DeadLetter, limit: number): KafkaRecord {
  const headers: Record<string, Buffer> = {
    [CONNECT_ERROR_HEADERS.topic]: Buffer.from(letter.topic),
    [CONNECT_ERROR_HEADERS.connectorName]: Buffer.from(letter.connectorName),
    [CONNECT_ERROR_HEADERS.taskId]: Buffer.from('0'),
    [CONNECT_ERROR_HEADERS.stage]: Buffer.from(letter.stage),
    [CONNECT_ERROR_HEADERS.className]: Buffer.from(letter.className),
    [CONNECT_ERROR_HEADERS.exceptionClassName]: Buffer.from(letter.error.name),
    [CONNECT_ERROR_HEADERS.exceptionMessage]: Buffer.from(letter.error.message),
    [CONNECT_ERROR_HEADERS.exceptionStacktrace]: Buffer.from((letter.error.stack ?? letter.error.message).slice(0, MAX_STACK_CHARS)),
  };
  if (letter.origin) {
    headers[CONNECT_ERROR_HEADERS.partition] = Buffer.from(String(letter.origin.partition));
    headers[CONNECT_ERROR_HEADERS.offset] = Buffer.from(letter.origin.offset);
  }
  if (letter.error.code) headers[WALCAST_ERROR_HEADERS.code] = Buffer.from(letter.error.code);
  for (const [name, value] of Object.entries(letter.context)) {
    if (value !== undefined) headers[WALCAST_ERROR_HEADERS[name as keyof typeof WALCAST_ERROR_HEADERS]] = Buffer.from(value);
  }
  let headerBytes = 0;
  for (const [name, value] of Object.entries(headers)) headerBytes += 10 + Buffer.byteLength(name) + value.length;
  const key = letter.key === null || Buffer.isBuffer(letter.key) ? letter.key : Buffer.from(JSON.stringify(letter.key));
  const budget = limit - BATCH_OVERHEAD_BYTES - headerBytes - (key?.length ?? 0);
  // Consumed bytes are copied as they are: only JSON built here can be cut.
  const value = letter.value === null || Buffer.isBuffer(letter.value) ? (letter.value?.length ?? 0) <= budget ? letter.value : undefined : fitJson(letter.value, budget) ?? undefined;
  if (value === undefined) {
    throw new DeadLetterTooLargeError(
      `the dead-letter record for ${letter.topic} cannot fit the ${limit} bytes topic ${deadLetterTopic} accepts (max.message.bytes), even with its values cut: raise that topic's limit`,
    );
  }
  return { topic: deadLetterTopic, key, value, headers };
}

interface StringLeaf {
  path: string;
  parent: JsonDocument | JsonItem[];
  at: string | number;
  text: string;
}

/** `doc` as JSON of at most `budget` bytes, its longest strings cut first; null when it cannot fit. */
export function fitJson(doc: JsonDocument, budget: number): Buffer | null {
  let bytes = Buffer.from(JSON.stringify(doc));
  if (bytes.length <= budget) return bytes;
  const copy = structuredClone(doc);
  const leaves: StringLeaf[] = [];
  const walk = (node: JsonItem, path: string, parent: JsonDocument | JsonItem[] | null, at: string | number): void => {
    if (typeof node === 'string') {
      if (parent !== null && node.length > KEPT_CHARS) leaves.push({ path, parent, at, text: node });
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}[${i}]`, node, i));
    } else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k, node, k);
    }
  };
  walk(copy, '', null, '');
  leaves.sort((a, b) => b.text.length - a.text.length);
  const truncated: JsonDocument = Object.create(null) as JsonDocument;
  copy.truncated = truncated;
  // Sizes are tracked, not re-serialised per cut: a row of many large columns stays linear.
  let size = bytes.length + Buffer.byteLength(',"truncated":{}');
  for (const leaf of leaves) {
    if (size <= budget) break;
    const cut = leaf.text.slice(0, KEPT_CHARS);
    const full = Buffer.byteLength(leaf.text);
    size -= Buffer.byteLength(JSON.stringify(leaf.text)) - Buffer.byteLength(JSON.stringify(cut));
    size += Buffer.byteLength(JSON.stringify(leaf.path)) + String(full).length + 2;
    // defineProperty: a column may be called "__proto__".
    Object.defineProperty(leaf.parent, leaf.at, { value: cut, enumerable: true, writable: true, configurable: true });
    truncated[leaf.path] = full;
  }
  bytes = Buffer.from(JSON.stringify(copy));
  return bytes.length <= budget ? bytes : null;
}
