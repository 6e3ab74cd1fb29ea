/**
 * A row (or logical message) that cannot be published, and what WALCAST_ERRORS_TOLERANCE does
 * with it: `none` stops walcast with UnpublishableRowError (exit code 7) naming the table, column
 * or key, LSN, the value's first characters or the record's size, and the ways out; `all` turns it
 * into a dead-letter record (the row as JSON, in PostgreSQL's own text forms, with Kafka
 * Connect's error headers) that goes in the same Kafka transaction as the events around it.
 *
 * Only the rare path lives here: nothing in this module runs for a row that publishes.
 */
import { ExitCode, WalcastError } from '../../errors.ts';
import type { TableColumn, TableSchema } from '../../events/table-schema.ts';
import type { DeadLetter, ErrorStage, JsonDocument } from '../../kafka/dead-letter.ts';
import { RecordTooLargeError } from '../../kafka/record-limits.ts';
import { formatLsn, type Lsn } from '../../pg/lsn.ts';
import { quoteIdent } from '../../pg/sql.ts';
import { UNCHANGED_TOAST, type DeleteMessage, type InsertMessage, type LogicalMessage, type TupleValue, type UpdateMessage } from './pgoutput.ts';

/** A row a snapshot read (published as op r). */
export interface SnapshotRow {
  tag: 'read';
  relationId: number;
  newTuple: TupleValue[];
}

export type RowMessage = InsertMessage | UpdateMessage | DeleteMessage | SnapshotRow;

export interface RowFailure {
  /** decode: pgoutput's text is not what the column's type prints; encode: the encoder refused the value;
   * too-large: the event exceeds its topic's max.message.bytes; schema: the registry refused the schema the value needs. */
  kind: 'decode' | 'encode' | 'too-large' | 'schema';
  stage: ErrorStage;
  /** The component that failed, in the role of Connect's converter or task class. */
  className: string;
  cause: Error & { code?: string };
  /** The row's table, or null for a logical decoding message. */
  table: TableSchema | null;
  /** The column at fault, when one is. */
  column: TableColumn | null;
  /** pgoutput's text of the column's value, when one is at fault. */
  text: string | null;
  message: RowMessage | LogicalMessage;
  lsn: Lsn;
  xid: number | null;
  /** The change topic the events were meant for. */
  topic: string;
}

export interface FailureContext {
  connectorName: string;
  database: string;
  publication: string;
  brokers: string[];
  deadLetterTopic: string;
  toastPlaceholder: string;
}

/** WALCAST_ERRORS_TOLERANCE=none met a row it cannot publish: stop, acknowledging nothing past the last commit. */
export class UnpublishableRowError extends WalcastError {
  // The row itself is not kept: the error is logged, and a row may be megabytes of personal data.
  constructor(failure: RowFailure, context: FailureContext) {
    super(failure.cause.code ?? 'WALCAST_ROW_UNPUBLISHABLE', describeFailure(failure, context), ExitCode.unpublishableRow, { cause: failure.cause });
    this.name = 'UnpublishableRowError';
  }
}

/** Longest slice of a value quoted in a message or log line. */
const QUOTED_CHARS = 64;

function quoteValue(text: string): string {
  const bytes = Buffer.byteLength(text);
  return text.length <= QUOTED_CHARS ? `${JSON.stringify(text)} (${bytes} bytes)` : `${JSON.stringify(text.slice(0, QUOTED_CHARS))}… (${bytes} bytes)`;
}

function tupleOf(message: RowMessage): TupleValue[] {
  return message.tag === 'delete' ? message.oldTuple : message.newTuple;
}

/** The key columns' text, as JSON (for messages and the dead-letter record's key). */
export function keyDocument(table: TableSchema, message: RowMessage): JsonDocument | null {
  if (table.keyIndexes.length === 0) return null;
  const tuple = tupleOf(message);
  const old = message.tag === 'update' ? message.oldTuple : null;
  // No prototype: a column may be called "__proto__".
  const key = Object.create(null) as JsonDocument;
  for (const i of table.keyIndexes) {
    let text = tuple[i];
    if (text === UNCHANGED_TOAST && old) text = old[i];
    key[table.columns[i]!.name] = typeof text === 'string' ? text : null;
  }
  return key;
}

function image(table: TableSchema, tuple: TupleValue[] | null, fallback: TupleValue[] | null, placeholder: string): JsonDocument | null {
  if (!tuple) return null;
  const row = Object.create(null) as JsonDocument;
  table.columns.forEach((column, i) => {
    let text = tuple[i];
    if (text === UNCHANGED_TOAST && fallback && typeof fallback[i] === 'string') text = fallback[i];
    row[column.name] = text === UNCHANGED_TOAST ? placeholder : (text ?? null);
  });
  return row;
}

const OPS = { insert: 'c', update: 'u', delete: 'd', read: 'r' } as const;

/**
 * The change as JSON: Debezium's envelope fields with every column in PostgreSQL's own text form
 * (what pgoutput sent; unchanged TOASTed values as the placeholder), so nothing depends on the
 * decoding that may be what failed.
 */
export function changeDocument(failure: RowFailure, context: FailureContext): JsonDocument {
  const { message, table } = failure;
  const source: JsonDocument = {
    connector: 'postgresql',
    name: context.connectorName,
    db: context.database,
    schema: table?.schema ?? '',
    table: table?.table ?? '',
    txId: failure.xid,
    lsn: Number(failure.lsn),
    lsn_text: formatLsn(failure.lsn),
  };
  if (message.tag === 'message') {
    return { op: 'm', source, message: { prefix: message.prefix, content: message.content.toString('base64') } };
  }
  const t = table!;
  const placeholder = context.toastPlaceholder;
  return {
    op: OPS[message.tag],
    source,
    before: message.tag === 'insert' || message.tag === 'read' ? null : image(t, message.oldTuple, null, placeholder),
    after: message.tag === 'delete' ? null : image(t, message.newTuple, message.tag === 'update' ? message.oldTuple : null, placeholder),
  };
}

/** The column whose text is longest in the row: what to leave out when the event is too large. */
export function largestColumn(table: TableSchema, message: RowMessage): { column: TableColumn; bytes: number } | null {
  let best: { column: TableColumn; bytes: number } | null = null;
  const tuple = tupleOf(message);
  table.columns.forEach((column, i) => {
    const text = tuple[i];
    if (typeof text !== 'string') return;
    const bytes = Buffer.byteLength(text);
    if (!best || bytes > best.bytes) best = { column, bytes };
  });
  return best;
}

function where(failure: RowFailure, key: JsonDocument | null): string {
  const { table, column } = failure;
  const parts = [table ? `table ${table.schema}.${table.table}` : `logical decoding message (prefix ${JSON.stringify((failure.message as LogicalMessage).prefix)})`];
  if (column) parts.push(`column ${column.name} (${column.typeName})`);
  if (key) parts.push(`key ${JSON.stringify(key)}`);
  parts.push(`LSN ${formatLsn(failure.lsn)}${failure.xid === null ? '' : ` (transaction ${failure.xid})`}`);
  return parts.join(', ');
}

function leaveOutColumn(failure: RowFailure, context: FailureContext, column: TableColumn): string {
  const table = failure.table!;
  const kept = table.columns.filter((c) => c !== column).map((c) => quoteIdent(c.name));
  const name = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
  return (
    `leave the column out of the publication with a column list (not possible for a publication FOR ALL TABLES): ` +
    `BEGIN; ALTER PUBLICATION ${quoteIdent(context.publication)} DROP TABLE ${name}; ` +
    `ALTER PUBLICATION ${quoteIdent(context.publication)} ADD TABLE ${name} (${kept.join(', ')}); COMMIT;`
  );
}

const TOLERATE = (context: FailureContext): string =>
  `or set WALCAST_ERRORS_TOLERANCE=all to send such rows to the dead-letter topic ${context.deadLetterTopic} (WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME) and go on`;

/** Clauses joined by "; ", but a space after one that ends in SQL's own semicolon. */
function joinClauses(clauses: string[]): string {
  return clauses.reduce((text, clause) => (text === '' ? clause : `${text}${text.endsWith(';') ? ' ' : '; '}${clause}`), '');
}

/** The operator's message: where, what, and the ways out. */
export function describeFailure(failure: RowFailure, context: FailureContext): string {
  const key = failure.table && failure.message.tag !== 'message' ? keyDocument(failure.table, failure.message) : null;
  const at = where(failure, key);
  const nothingAcked = 'Nothing after the last delivered transaction was acknowledged: after the fix walcast resumes there.';
  switch (failure.kind) {
    case 'too-large': {
      const tooLarge = failure.cause as RecordTooLargeError;
      const largest = failure.table && failure.message.tag !== 'message' ? largestColumn(failure.table, failure.message) : null;
      const ways = [
        `raise the topic's limit: kafka-configs.sh --bootstrap-server ${context.brokers[0] ?? '<broker>'} --alter --entity-type topics --entity-name ${tooLarge.topic} --add-config max.message.bytes=${nextPowerOfTwo(tooLarge.bytes)}`,
        tooLarge.compression === 'none'
          ? 'compress: WALCAST_KAFKA_COMPRESSION=zstd (or lz4, snappy, gzip) sends batches compressed, and the limit applies to the compressed batch'
          : `a stronger compression than ${tooLarge.compression} (WALCAST_KAFKA_COMPRESSION=zstd)`,
      ];
      if (largest && failure.table) ways.push(leaveOutColumn(failure, context, largest.column));
      return (
        `${at}: the change event cannot be published: ${tooLarge.message}` +
        `${largest ? `; its largest column is ${largest.column.name} (${largest.bytes} bytes)` : ''}. ${nothingAcked} ` +
        `Ways out: ${joinClauses([...ways.map((w, i) => `(${i + 1}) ${w}`), TOLERATE(context)])}.`
      );
    }
    case 'schema':
      return `${at}: value ${quoteValue(failure.text ?? '')}: ${failure.cause.message}. ${nothingAcked} Or ${TOLERATE(context).slice('or '.length)}.`;
    case 'decode':
    case 'encode': {
      const what = failure.kind === 'decode' ? 'cannot be decoded' : 'cannot be encoded';
      const ways = [`report it (the column's type and the value's form) as a walcast bug`];
      if (failure.table && failure.column) ways.push(leaveOutColumn(failure, context, failure.column));
      return (
        `${at}: the value ${failure.text === null ? '' : `${quoteValue(failure.text)} `}${what}: ${failure.cause.message}. ${nothingAcked} ` +
        `Ways out: ${joinClauses([...ways.map((w, i) => `(${i + 1}) ${w}`), TOLERATE(context)])}.`
      );
    }
  }
}

function nextPowerOfTwo(bytes: number): number {
  let n = 1024 * 1024;
  while (n < bytes + 64 * 1024) n *= 2;
  return n;
}

/** What goes to the dead-letter topic for this failure. */
export function deadLetterFor(failure: RowFailure, context: FailureContext): DeadLetter {
  const { table, message } = failure;
  const key = table && message.tag !== 'message' ? keyDocument(table, message) : message.tag === 'message' ? { prefix: message.prefix } : null;
  return {
    topic: failure.topic,
    connectorName: context.connectorName,
    stage: failure.stage,
    className: failure.className,
    error: failure.cause,
    key,
    value: changeDocument(failure, context),
    context: {
      table: table ? `${table.schema}.${table.table}` : undefined,
      column: failure.column?.name,
      lsn: formatLsn(failure.lsn),
    },
  };
}
