/**
 * walcast's per-event CPU without PostgreSQL or Kafka: workload (a)'s rows as pgoutput frames
 * (10-row transactions), through what the stream does with them (the decoder, the Avro row writer
 * or, with --events, ChangeEventBuilder's events and the Avro encoder) and the Produce request
 * encoder, in chunks of 1,000 records. Repeatable on a loaded machine (CPU time of
 * this process), so a change to the hot path can be measured before the full benchmark.
 *
 * With --snapshot: the same rows as a snapshot reads them (COPY's text in chunks of 12,700 rows,
 * the rows of a 1 MiB chunk of this table) into op r records (--events: as strings into
 * ChangeEventBuilder.read()'s events, the snapshot path before COPY).
 *
 *   node bench/tools/hot-path.ts [rows=500000] [rounds=5] [--events] [--snapshot]
 *
 * Prints µs of CPU per row for each round and the median.
 */
import { builtinType } from '../../src/decode/codec.ts';
import { AvroEncoder } from '../../src/encode/avro-encoder.ts';
import type { SchemaRegistryClient } from '../../src/encode/registry.ts';
import { ChangeEventBuilder, type TransactionContext } from '../../src/events/change-events.ts';
import { buildTableSchema } from '../../src/events/table-schema.ts';
import { encodeProduceRequest, type ProduceMessage } from '../../src/kafka/produce-request.ts';
import { decodeFrame, isRawRow } from '../../src/source/cdc/pgoutput.ts';
import { parseCopyText } from '../../src/source/snapshot/copy-text.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const viaEvents = process.argv.includes('--events');
const snapshot = process.argv.includes('--snapshot');
const CHUNK_ROWS = 12_700;
const rows = Number(args[0] ?? 500_000);
const rounds = Number(args[1] ?? 5);

const NUMERIC_12_2 = ((12 << 16) | 2) + 4;
const table = buildTableSchema({
  topicPrefix: 'bench',
  relationId: 16400,
  schema: 'public',
  table: 'orders_a',
  columns: [
    { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
    { name: 'account', typeOid: 23, typeMod: -1, isKey: false },
    { name: 'amount', typeOid: 1700, typeMod: NUMERIC_12_2, isKey: false },
    { name: 'note', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'created', typeOid: 1184, typeMod: -1, isKey: false },
    { name: 'flag', typeOid: 16, typeMod: -1, isKey: false },
  ],
  primaryKey: ['id'],
  lookupType: builtinType,
});

function rowValues(id: number): string[] {
  return [String(id), String(id % 10000), ((id % 100000) / 100).toFixed(2), `order ${id}`, '2026-12-02 01:02:03.123456+00', id % 2 === 0 ? 't' : 'f'];
}

/** An Insert message as pgoutput sends it (text format). */
function insertFrame(id: number): Buffer {
  const values = rowValues(id);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(1 + 4 + 1 + 2);
  head.write('I', 0, 'latin1');
  head.writeUInt32BE(table.relationId, 1);
  head.write('N', 5, 'latin1');
  head.writeInt16BE(values.length, 6);
  parts.push(head);
  for (const v of values) {
    const text = Buffer.from(v, 'utf8');
    const h = Buffer.alloc(5);
    h.write('t', 0, 'latin1');
    h.writeInt32BE(text.length, 1);
    parts.push(h, text);
  }
  return Buffer.concat(parts);
}

const frames = snapshot ? [] : Array.from({ length: rows }, (_, i) => insertFrame(i + 1));
/** COPY's text of each chunk (no value of these rows needs an escape). */
const copyChunks = snapshot
  ? Array.from({ length: Math.ceil(rows / CHUNK_ROWS) }, (_, c) => {
      const ids = Array.from({ length: Math.min(CHUNK_ROWS, rows - c * CHUNK_ROWS) }, (_, i) => c * CHUNK_ROWS + i + 1);
      return ids.map((id) => `${rowValues(id).join('\t')}\n`).join('');
    })
  : [];
const registry = { register: async () => 1, latestSchema: async () => null } as unknown as SchemaRegistryClient;
const encoder = new AvroEncoder(registry);
await encoder.prepare(table);
const builder = new ChangeEventBuilder({ connectorName: 'bench', database: 'walcast', version: '0.1.0', tombstones: true, toastPlaceholder: '__debezium_unavailable_value' });

let chunk: ProduceMessage[] = [];
const sink = (key: Buffer | null, value: Buffer | null): void => {
  chunk.push({ key, value });
};

function flush(): number {
  const n = encodeProduceRequest({ acks: -1, timeout: 30000, transactionalId: 'bench', producerId: 1n, producerEpoch: 0, compression: 0, topicData: [{ topic: table.topic, partitions: [{ partition: 0, firstSequence: 0, messages: chunk }] }] }).length;
  chunk = [];
  return n;
}

/** A snapshot's rows: COPY text (its bytes as received) to records. */
function snapshotRound(): number {
  const t0 = process.cpuUsage();
  let bytes = 0;
  const lsn = 0x1_0000_0000n;
  const readAtMs = 1_796_173_323_000;
  for (const text of copyChunks) {
    const received = Buffer.from(text, 'latin1');
    if (viaEvents) {
      const copied = parseCopyText(received, table.columns.length);
      const strings = Array.from({ length: copied.count }, (_, i) => copied.tuple(i).values());
      for (let i = 0; i < strings.length; i++) {
        const event = builder.read(table, lsn, strings[i]!, 'true', readAtMs);
        chunk.push({ key: encoder.encodeKey(event), value: encoder.encodeValue(event) });
        if (chunk.length === 1000) bytes += flush();
      }
    } else {
      const copied = parseCopyText(received, table.columns.length);
      for (let i = 0; i < copied.count; i++) {
        encoder.encodeRead(builder.rowRead(table, lsn, copied.tuple(i), 'true', readAtMs)!, sink);
        if (chunk.length === 1000) bytes += flush();
      }
    }
  }
  const used = process.cpuUsage(t0);
  if (bytes === 0) throw new Error('nothing encoded');
  return (used.user + used.system) / rows;
}

function round(): number {
  if (snapshot) return snapshotRound();
  const t0 = process.cpuUsage();
  let tx: TransactionContext | null = null;
  let bytes = 0;
  for (let i = 0; i < rows; i++) {
    if (i % 10 === 0) {
      tx = { xid: 1000 + i, commitTimeMicros: 1_796_173_323_000_000n + BigInt(i), finalLsn: 0x1_0000_0000n + BigInt(i * 100), previousCommitLsn: 0x1_0000_0000n + BigInt(i * 100 - 50), totalOrder: 0, orderByTable: new Map() };
    }
    const message = decodeFrame(frames[i]!);
    if (message.tag !== 'insert' || !isRawRow(message)) throw new Error('not an insert');
    const lsn = 0x1_0000_0000n + BigInt(i * 100 + 10);
    if (viaEvents) {
      const [event] = builder.insert(table, tx!, lsn, message.newTuple);
      chunk.push({ key: encoder.encodeKey(event!), value: encoder.encodeValue(event!) });
    } else {
      encoder.encodeRow(builder.rowChange(table, tx!, lsn, 'c', message.newRaw)!, sink);
    }
    if (chunk.length === 1000) {
      bytes += encodeProduceRequest({ acks: -1, timeout: 30000, transactionalId: 'bench', producerId: 1n, producerEpoch: 0, compression: 0, topicData: [{ topic: table.topic, partitions: [{ partition: 0, firstSequence: 0, messages: chunk }] }] }).length;
      chunk = [];
    }
  }
  const used = process.cpuUsage(t0);
  if (bytes === 0) throw new Error('nothing encoded');
  return (used.user + used.system) / rows;
}

const results: number[] = [];
for (let r = 0; r < rounds; r++) {
  const us = round();
  results.push(us);
  process.stdout.write(`round ${r + 1}: ${us.toFixed(3)} µs CPU per row\n`);
}
const sorted = [...results].sort((a, b) => a - b);
process.stdout.write(`median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} µs CPU per row (${rows.toLocaleString('en-US')} rows x ${rounds})\n`);
