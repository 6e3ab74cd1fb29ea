// The sink's pruned envelope reader (src/sink/decode.ts envelopeReader) against the writer type it
// bypasses: over Debezium 3.7.0's real Avro records (test/fixtures/debezium/avro.json) and walcast's
// own envelopes (built by ChangeEventBuilder), before, after, op and source's db, schema, table and
// ts_ms decode to the same values; everything else is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avsc from 'avsc';
import { builtinType } from '../../src/decode/codec.ts';
import type { PgColumn } from '../../src/decode/pg-type.ts';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import { ChangeEventBuilder, type ChangeEvent } from '../../src/events/change-events.ts';
import { buildTableSchema } from '../../src/events/table-schema.ts';
import { envelopeReader } from '../../src/sink/decode.ts';
import { readFixture } from '../fixtures/debezium/fixture.ts';

type Envelope = Record<string, unknown> & { source?: Record<string, unknown> };

/** What the sink reads of an envelope. */
function used(value: Envelope): unknown {
  const source = value.source ?? {};
  return { before: value.before, after: value.after, op: value.op, source: { db: source.db, schema: source.schema, table: source.table, ts_ms: source.ts_ms } };
}

function assertSameReading(schema: avsc.Schema, body: Buffer): void {
  const writer = avsc.Type.forSchema(schema, avroTypeOptions());
  const reader = envelopeReader(schema, writer);
  assert.ok(reader, 'the envelope reader applies');
  const full = writer.fromBuffer(body) as Envelope;
  const pruned = reader.type.fromBuffer(body, reader.resolver) as Envelope;
  assert.deepStrictEqual(JSON.parse(JSON.stringify(used(pruned), jsonSafe)), JSON.parse(JSON.stringify(used(full), jsonSafe)));
  assert.equal(pruned.transaction, undefined, 'the transaction block is skipped');
  for (const key of Object.keys(pruned.source ?? {})) assert.ok(['db', 'schema', 'table', 'ts_ms'].includes(key), `source.${key} is skipped`);
}

/** JSON of decoded values, bigints kept apart from numbers (records of the two types have different classes). */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

test("Debezium 3.7.0's Avro envelopes: the pruned reader reads what the writer type reads", () => {
  const fixture = readFixture('avro');
  let checked = 0;
  for (const topic of fixture.topics) {
    for (const record of topic.records) {
      if (record.value === null) continue;
      const bytes = Buffer.from(record.value, 'base64');
      const schema = JSON.parse(fixture.schemas[String(bytes.readUInt32BE(1))]!) as avsc.Schema;
      assertSameReading(schema, bytes.subarray(5));
      checked += 1;
    }
  }
  assert.ok(checked >= 30, `${checked} records`);
});

test("walcast's envelopes (decimal, timestamptz, bytea, arrays, jsonb, bigint; insert, update, delete): the same", () => {
  const column = (name: string, typeOid: number, typeMod = -1, isKey = false): PgColumn => ({ name, typeOid, typeMod, isKey });
  const table = buildTableSchema({
    topicPrefix: 'demo', relationId: 1, schema: 'public', table: 'orders', primaryKey: ['id'], lookupType: builtinType,
    columns: [column('id', 23, -1, true), column('note', 25), column('data', 17), column('tags', 1009), column('qty', 20), column('price', 1700, ((10 << 16) | 2) + 4), column('at', 1184), column('doc', 3802)],
  });
  const builder = new ChangeEventBuilder({ connectorName: 'demo', database: 'shop', version: 'test', tombstones: true, toastPlaceholder: '__debezium_unavailable_value' });
  const tx = { xid: 771, commitTimeMicros: 1_704_103_200_123_456n, finalLsn: 0x1_6b37_4c00n, previousCommitLsn: 0x1_6b37_0000n, totalOrder: 0, orderByTable: new Map() };
  const row = ['7', 'n', '\\x00ff', '{a,NULL}', '9007199254740993', '12.50', '2024-01-01 15:30:00.123456+05:30', '{"k": 1}'];
  const events: ChangeEvent[] = [
    ...builder.insert(table, tx, 0x1_6b37_48a0n, row),
    ...builder.update(table, tx, 0x1_6b37_48a8n, null, null, [...row.slice(0, 1), 'changed', ...row.slice(2)]),
    ...builder.delete(table, tx, 0x1_6b37_48b0n, ['7', null, null, null, null, null, null, null]),
  ];
  const writer = avsc.Type.forSchema(table.envelopeAvro as avsc.Schema, avroTypeOptions());
  let checked = 0;
  for (const event of events) {
    if (event.value === null) continue;
    assertSameReading(table.envelopeAvro as avsc.Schema, writer.toBuffer(event.value));
    checked += 1;
  }
  assert.equal(checked, 3);
});
