/**
 * A table's change events written as Avro straight from pgoutput's tuples (RowChange), without
 * the event objects: no row, key, envelope, source or transaction object per event. Each field is
 * written by the same compiled writer (avro-writer.ts) the event path uses, fed with the value the
 * event's field would hold: the row's values decoded by the columns' codecs, the source block and
 * transaction block from a scratch object per table whose fields are reassigned event by event. So
 * the bytes are the event path's by construction; test/unit/avro-rows.test.ts holds the two side by
 * side over the type matrix.
 *
 * Why: on the catch-up workloads the event objects were a third of walcast's allocations, and
 * allocation and collection its largest cost after encoding itself (bench, --cpu-prof).
 */
import type avsc from 'avsc';
import type { ColumnCodec, TextForm } from '../decode/codec.ts';
import { type EventOptions, type RowChange, type RowRead, type TransactionConstants } from '../events/change-events.ts';
import type { TableSchema } from '../events/table-schema.ts';
import { toastPlaceholder } from '../events/toast-placeholder.ts';
import { RAW_NULL, RAW_UNCHANGED_TOAST, type RawTuple } from '../source/cdc/pgoutput.ts';
import { readText, writeText } from './avro-text.ts';
import { AvroOut, avroWriter, writeLong, type AvroWrite } from './avro-writer.ts';

interface RecordField {
  name: string;
  type: avsc.Type;
}

function fieldsOf(type: avsc.Type): RecordField[] | null {
  const fields = (type as unknown as { fields?: RecordField[] }).fields;
  return Array.isArray(fields) ? fields : null;
}

/** The record branch of a ["null", record] union, and that branch's union index. */
function recordBranch(type: avsc.Type): { record: avsc.Type; index: number } | null {
  const branches = (type as unknown as { types?: avsc.Type[] }).types;
  if (!Array.isArray(branches) || branches.length !== 2) return null;
  const index = branches.findIndex((t) => fieldsOf(t) !== null);
  if (index < 0 || branches[1 - index]!.typeName !== 'null') return null;
  return { record: branches[index]!, index };
}

const ENVELOPE_FIELDS = ['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns'];
const SOURCE_FIELDS = ['version', 'connector', 'name', 'ts_ms', 'snapshot', 'db', 'sequence', 'ts_us', 'ts_ns', 'schema', 'table', 'txId', 'lsn', 'xmin'];
const TRANSACTION_FIELDS = ['id', 'total_order', 'data_collection_order'];

/**
 * The bytes every event of one transaction shares, in one buffer: the source block's first six
 * fields (version .. db) up to `middle`, its ts_us .. txId up to `transaction`, the transaction
 * block's union index and id up to `sequence`, then the text of Debezium's sequence before the
 * event's LSN (`["<previous commit LSN>","`).
 */
interface TransactionBytes {
  constants: TransactionConstants;
  options: EventOptions;
  bytes: Buffer;
  middle: number;
  transaction: number;
  sequence: number;
}

/** `"]`, the end of Debezium's sequence text. */
const SEQUENCE_END = [0x22, 0x5d];

function copyInto(out: AvroOut, bytes: Buffer, start = 0, end = bytes.length): void {
  out.ensure(end - start);
  bytes.copy(out.buf, out.pos, start, end);
  out.pos += end - start;
}

/** 10^d for d = 0..16 (Number.MAX_SAFE_INTEGER has 16 digits). */
const POWERS_OF_TEN = Float64Array.from({ length: 17 }, (_, d) => 10 ** d);

/** Decimal digits of a non-negative safe integer (once per event: a table, not Math.pow in a loop). */
function digitCount(n: number): number {
  let digits = 1;
  while (digits < 16 && n >= POWERS_OF_TEN[digits]!) digits++;
  return digits;
}

interface Column {
  codec: ColumnCodec;
  write: AvroWrite;
  /**
   * The codec's text form (avro-text.ts) when the field is ["null", X] with X the form's type,
   * and the union index byte of X; undefined: every value goes through fromText() and `write`.
   */
  form: TextForm | undefined;
  valueByte: number;
  /** The TOAST placeholder's value for this column (toastPlaceholder()) and the text it is for. */
  placeholder: unknown;
  placeholderText: string | null;
}

/** The union index byte of the non-null branch of a ["null", X] union type; -1 for any other type. */
function nullableByte(type: avsc.Type): number {
  const branches = (type as unknown as { types?: avsc.Type[] }).types;
  if (!Array.isArray(branches) || branches.length !== 2) return -1;
  const nullIndex = branches.findIndex((t) => t.typeName === 'null');
  return nullIndex < 0 ? -1 : (1 - nullIndex) << 1;
}

function isUnion(type: avsc.Type): boolean {
  return Array.isArray((type as unknown as { types?: unknown }).types);
}

/** The key and value bytes of one row change; `value` null: a tombstone. */
export type RowRecordSink = (key: Buffer | null, value: Buffer | null) => void;

export class AvroRowWriter {
  private readonly table: TableSchema;
  private readonly columns: Column[];
  /** Union index bytes of the before/after field: null, and the row record. */
  private readonly imageNull: number;
  private readonly imageRow: number;
  /** The source block's field writers, in SOURCE_FIELDS order. */
  private readonly source: AvroWrite[];
  /** The union index byte of a sequence text (["null", "string"]), -1 if the field is not that union. */
  private readonly sequenceByte: number;
  /** The transaction field: the union index byte of its block, the block's field writers. */
  private readonly transactionIndex: number;
  private readonly transaction: AvroWrite[];
  /** The key record's fields: the column, its writer, and whether the field is X itself (no union). */
  private readonly keyFields: Array<{ column: number; write: AvroWrite; plain: boolean }> | null;
  /**
   * The image, read before anything is written (the event path's order of errors): per column,
   * the number readText() read, or NaN and the value fromText() decoded in `values`.
   */
  private readonly read: Float64Array;
  private readonly values: unknown[];
  private readonly keyHeader: Buffer | null;
  private readonly valueHeader: Buffer;
  /** Bytes of the op field, by op. */
  private readonly opBytes: Record<RowChange['op'], Buffer>;
  private readonly writeTimes: [AvroWrite, AvroWrite, AvroWrite];
  /** The union index byte of a null transaction block (snapshot reads have none). */
  private readonly transactionNull: number;
  private readonly writeOp: AvroWrite;
  /**
   * A snapshot read's bytes from its source block to its op, by marker, for the reads of one
   * chunk (`readTailFor`): they differ only in the marker.
   */
  private readTails = new Map<string, Buffer>();
  private readTailFor: { lsn: bigint; readAtMs: number; options: EventOptions } | null = null;
  /** ts_ms, ts_us and ts_ns of the envelope for `nowMs`. */
  private nowMs = -1;
  private nowBytes: Buffer = Buffer.alloc(0);
  private transactionBytes: TransactionBytes | null = null;
  /** Where the constant segments are written before they are copied out. */
  private readonly scratch = new AvroOut(512);

  private constructor(table: TableSchema, envelope: RecordField[], value: RecordField[], source: RecordField[], transaction: { index: number; fields: RecordField[] }, keyType: avsc.Type | null, valueHeader: Buffer, keyHeader: Buffer | null) {
    this.table = table;
    const image = recordBranch(envelope[1]!.type)!;
    this.imageNull = (1 - image.index) << 1;
    this.imageRow = image.index << 1;
    this.columns = table.columns.map((c, i) => {
      const valueByte = nullableByte(value[i]!.type);
      const form = valueByte >= 0 && c.codec.avroBranches.length === 1 ? c.codec.textForm : undefined;
      return { codec: c.codec, write: avroWriter(value[i]!.type), form, valueByte, placeholder: null, placeholderText: null };
    });
    this.source = source.map((f) => avroWriter(f.type));
    this.sequenceByte = nullableByte(source[6]!.type);
    this.transactionIndex = transaction.index << 1;
    this.transactionNull = (1 - transaction.index) << 1;
    this.transaction = transaction.fields.map((f) => avroWriter(f.type));
    const writeOp = avroWriter(envelope[4]!.type);
    this.writeOp = writeOp;
    this.opBytes = { c: this.bytes((out) => writeOp(out, 'c')), u: this.bytes((out) => writeOp(out, 'u')), d: this.bytes((out) => writeOp(out, 'd')) };
    this.writeTimes = [avroWriter(envelope[5]!.type), avroWriter(envelope[6]!.type), avroWriter(envelope[7]!.type)];
    const keyFields = keyType ? fieldsOf(keyType)! : null;
    this.keyFields = keyFields ? table.keyIndexes.map((column, j) => ({ column, write: avroWriter(keyFields[j]!.type), plain: !isUnion(keyFields[j]!.type) })) : null;
    this.read = new Float64Array(table.columns.length);
    this.values = new Array<unknown>(table.columns.length).fill(null);
    this.keyHeader = keyHeader;
    this.valueHeader = valueHeader;
  }

  /** What `write` writes, as a buffer of its own. */
  private bytes(write: (out: AvroOut) => void): Buffer {
    const { scratch } = this;
    scratch.pos = 0;
    write(scratch);
    return scratch.take();
  }

  /**
   * The writer of `table`'s events for its compiled envelope and key types, or null when the
   * envelope is not the shape this writer knows (then the event path encodes them).
   */
  static compile(table: TableSchema, envelopeType: avsc.Type, keyType: avsc.Type | null, valueHeader: Buffer, keyHeader: Buffer | null): AvroRowWriter | null {
    const envelope = fieldsOf(envelopeType);
    if (!envelope || envelope.map((f) => f.name).join() !== ENVELOPE_FIELDS.join()) return null;
    const before = recordBranch(envelope[0]!.type);
    const after = recordBranch(envelope[1]!.type);
    if (!before || !after || before.index !== after.index || before.record !== after.record) return null;
    const value = fieldsOf(after.record);
    if (!value || value.length !== table.columns.length || value.some((f, i) => f.name !== table.columns[i]!.fieldName)) return null;
    const source = fieldsOf(envelope[2]!.type);
    if (!source || source.map((f) => f.name).join() !== SOURCE_FIELDS.join()) return null;
    const transaction = recordBranch(envelope[3]!.type);
    const transactionFields = transaction ? fieldsOf(transaction.record) : null;
    if (!transaction || !transactionFields || transactionFields.map((f) => f.name).join() !== TRANSACTION_FIELDS.join()) return null;
    if ((keyType === null) !== (table.keyIndexes.length === 0) || (keyType !== null) !== (keyHeader !== null)) return null;
    const keyFields = keyType ? fieldsOf(keyType) : null;
    if (keyType && (!keyFields || keyFields.length !== table.keyIndexes.length || keyFields.some((f, j) => f.name !== table.columns[table.keyIndexes[j]!]!.fieldName))) return null;
    return new AvroRowWriter(table, envelope, value, source, { index: transaction.index, fields: transactionFields }, keyType, valueHeader, keyHeader);
  }

  /** Writes the change's records (the event, then its tombstone) to `sink`, in `out`'s arena. */
  write(out: AvroOut, change: RowChange, sink: RowRecordSink): void {
    try {
      this.decode(change.tuple, change.options.toastPlaceholder);
      const key = this.writeKeyRecord(out, change.tuple);
      const value = this.writeEnvelope(out, change);
      sink(key, value);
      if (change.tombstone) sink(key, null);
    } catch (error) {
      // a value a codec or writer refused: nothing of this row is a record (a key already
      // claimed is left unused in the arena)
      out.abandon();
      throw error;
    }
  }

  /** Writes a snapshot row's records (its op r event), as encodeKey/encodeValue write ChangeEventBuilder.read()'s event. */
  writeRead(out: AvroOut, read: RowRead, sink: RowRecordSink): void {
    try {
      this.decode(read.tuple, read.options.toastPlaceholder);
      const key = this.writeKeyRecord(out, read.tuple);
      out.begin();
      copyInto(out, this.valueHeader);
      out.ensure(1);
      out.buf[out.pos++] = this.imageNull;
      this.writeImage(out, read.tuple);
      copyInto(out, this.readTail(read));
      this.writeNow(out);
      sink(key, out.claim());
    } catch (error) {
      out.abandon();
      throw error;
    }
  }

  /** The source block as ChangeEventBuilder.read() fills it, a null transaction and op r. */
  private readTail(read: RowRead): Buffer {
    const { lsn, readAtMs, options, marker } = read;
    const key = this.readTailFor;
    if (!key || key.lsn !== lsn || key.readAtMs !== readAtMs || key.options !== options) {
      this.readTailFor = { lsn, readAtMs, options };
      this.readTails = new Map();
    }
    let tail = this.readTails.get(marker);
    if (tail) return tail;
    const { source, table } = this;
    const readAtMicros = readAtMs * 1000;
    tail = this.bytes((scratch) => {
      source[0]!(scratch, options.version);
      source[1]!(scratch, 'postgresql');
      source[2]!(scratch, options.connectorName);
      source[3]!(scratch, readAtMs);
      source[4]!(scratch, marker);
      source[5]!(scratch, options.database);
      source[6]!(scratch, `[null,"${lsn}"]`);
      source[7]!(scratch, readAtMicros);
      source[8]!(scratch, BigInt(readAtMicros) * 1000n);
      source[9]!(scratch, table.schema);
      source[10]!(scratch, table.table);
      source[11]!(scratch, null);
      source[12]!(scratch, Number(lsn));
      source[13]!(scratch, null);
      scratch.ensure(1);
      scratch.buf[scratch.pos++] = this.transactionNull;
      this.writeOp(scratch, 'r');
    });
    this.readTails.set(marker, tail);
    return tail;
  }

  private text(tuple: RawTuple, i: number): string {
    const { spans } = tuple;
    const offset = spans[2 * i]!;
    return tuple.buf.toString('utf8', offset, offset + spans[2 * i + 1]!);
  }

  /**
   * The image's values as ChangeEventBuilder's row(table, tuple, null) holds them, all decoded
   * before anything is written, in column order: a row with several bad values fails on the same
   * one, with the same error, as on the event path.
   */
  private decode(tuple: RawTuple, placeholder: string): void {
    const { columns, values, read } = this;
    const { spans, buf } = tuple;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!;
      const length = spans[2 * i + 1]!;
      if (length >= 0 && column.form !== undefined) {
        const n = readText(column.form, buf, spans[2 * i]!, length);
        read[i] = n;
        if (n === n) continue; // read: no value to decode
      } else read[i] = Number.NaN;
      if (length === RAW_NULL) values[i] = null;
      else if (length === RAW_UNCHANGED_TOAST) {
        if (column.placeholderText !== placeholder) {
          column.placeholder = toastPlaceholder(column.codec.avroSchema, placeholder);
          column.placeholderText = placeholder;
        }
        values[i] = column.placeholder;
      } else values[i] = column.codec.fromText(this.text(tuple, i));
    }
  }

  /** The key record, field by field (a record's bytes are its fields' in order). */
  private writeKeyRecord(out: AvroOut, tuple: RawTuple): Buffer | null {
    const { keyFields, keyHeader } = this;
    if (!keyFields || !keyHeader) return null;
    const { columns, values, read } = this;
    const { spans } = tuple;
    out.begin();
    copyInto(out, keyHeader);
    for (const field of keyFields) {
      const i = field.column;
      const n = read[i]!;
      if (n !== n) field.write(out, values[i]);
      else if (field.plain) writeText(out, columns[i]!.form!, n, tuple.buf, spans[2 * i]!);
      // a key field with a union (a widened key column): through its writer, with fromText()'s value
      else field.write(out, columns[i]!.codec.fromText(this.text(tuple, i)));
    }
    return out.claim();
  }

  /** The image decode() read, field by field. */
  private writeImage(out: AvroOut, tuple: RawTuple): void {
    out.ensure(1);
    out.buf[out.pos++] = this.imageRow;
    const { columns, values, read } = this;
    const { spans, buf } = tuple;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!;
      const n = read[i]!;
      if (n !== n) column.write(out, values[i]);
      else {
        out.ensure(1);
        out.buf[out.pos++] = column.valueByte;
        writeText(out, column.form!, n, buf, spans[2 * i]!);
      }
    }
  }

  /** The bytes of `constants`' transaction, with the values ChangeEventBuilder.source() and envelope() give. */
  private transactionSegments(constants: TransactionConstants, options: EventOptions): TransactionBytes {
    const cached = this.transactionBytes;
    if (cached && cached.constants === constants && cached.options === options) return cached;
    const { source, table, scratch } = this;
    scratch.pos = 0;
    source[0]!(scratch, options.version);
    source[1]!(scratch, 'postgresql');
    source[2]!(scratch, options.connectorName);
    source[3]!(scratch, constants.tsMs);
    source[4]!(scratch, 'false');
    source[5]!(scratch, options.database);
    const middle = scratch.pos;
    source[7]!(scratch, constants.tsUs);
    source[8]!(scratch, constants.tsNs);
    source[9]!(scratch, table.schema);
    source[10]!(scratch, table.table);
    source[11]!(scratch, constants.tx.xid);
    const transaction = scratch.pos;
    scratch.ensure(1);
    scratch.buf[scratch.pos++] = this.transactionIndex;
    this.transaction[0]!(scratch, constants.id);
    const sequence = scratch.pos;
    // the prefix is ASCII (digits, quotes, brackets, "null"): its bytes are its characters
    const prefix = constants.sequencePrefix;
    scratch.ensure(prefix.length);
    scratch.pos += scratch.buf.write(prefix, scratch.pos, 'latin1');
    this.transactionBytes = { constants, options, bytes: scratch.take(), middle, transaction, sequence };
    return this.transactionBytes;
  }

  /**
   * Debezium's sequence, `<prefix><event LSN>"]`, as the ["null", "string"] field's bytes,
   * without making the string (the LSN's decimal digits written in place).
   */
  private writeSequence(out: AvroOut, segments: TransactionBytes, lsn: bigint): void {
    const n = Number(lsn);
    if (this.sequenceByte < 0 || !(n <= Number.MAX_SAFE_INTEGER)) {
      this.source[6]!(out, `${segments.constants.sequencePrefix}${lsn}"]`);
      return;
    }
    const prefixLength = segments.bytes.length - segments.sequence;
    const digits = digitCount(n);
    out.ensure(1);
    out.buf[out.pos++] = this.sequenceByte;
    writeLong(out, prefixLength + digits + 2);
    copyInto(out, segments.bytes, segments.sequence);
    out.ensure(digits + 2);
    const { buf } = out;
    let rest = n;
    for (let at = out.pos + digits - 1; at >= out.pos; at--) {
      buf[at] = 48 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    out.pos += digits;
    buf[out.pos++] = SEQUENCE_END[0]!;
    buf[out.pos++] = SEQUENCE_END[1]!;
  }

  private writeEnvelope(out: AvroOut, change: RowChange): Buffer {
    out.begin();
    copyInto(out, this.valueHeader);
    const { op, constants, options, lsn } = change;
    // before, after
    if (op === 'd') {
      this.writeImage(out, change.tuple);
      out.ensure(1);
      out.buf[out.pos++] = this.imageNull;
    } else {
      out.ensure(1);
      out.buf[out.pos++] = this.imageNull;
      this.writeImage(out, change.tuple);
    }
    // source, as ChangeEventBuilder.source(): sequence and lsn are the event's own
    const segments = this.transactionSegments(constants, options);
    const { source } = this;
    copyInto(out, segments.bytes, 0, segments.middle);
    this.writeSequence(out, segments, lsn);
    copyInto(out, segments.bytes, segments.middle, segments.transaction);
    source[12]!(out, Number(lsn));
    source[13]!(out, null);
    // transaction, as ChangeEventBuilder.envelope()
    copyInto(out, segments.bytes, segments.transaction, segments.sequence);
    this.transaction[1]!(out, change.totalOrder);
    this.transaction[2]!(out, change.dataCollectionOrder);
    copyInto(out, this.opBytes[op]);
    this.writeNow(out);
    return out.claim();
  }

  /** ts_ms, ts_us, ts_ns of the envelope: now, as ChangeEventBuilder.envelope() and read(). */
  private writeNow(out: AvroOut): void {
    const nowMs = Date.now();
    if (nowMs !== this.nowMs) {
      this.nowMs = nowMs;
      const [ms, us, ns] = this.writeTimes;
      this.nowBytes = this.bytes((scratch) => {
        ms(scratch, nowMs);
        us(scratch, nowMs * 1000);
        ns(scratch, BigInt(nowMs) * 1_000_000n);
      });
    }
    copyInto(out, this.nowBytes);
  }
}
