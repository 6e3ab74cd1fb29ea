/**
 * ChangeEventBuilder (pgoutput rows -> Debezium-shaped events) and buildTableSchema (topic, Avro
 * names, key/envelope schemas, fingerprint), both pure: tables are built with the built-in types
 * only, and every envelope is checked to encode and decode with avsc and walcast's logical types.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import avsc from 'avsc';
import { builtinType } from '../../src/decode/codec.ts';
import type { PgColumn, PgType } from '../../src/decode/pg-type.ts';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import {
  ChangeEventBuilder,
  RowShapeError,
  type ChangeEvent,
  type Envelope,
  type EventOptions,
  type TransactionContext,
} from '../../src/events/change-events.ts';
import { buildTableSchema, topicNamePart, type TableSchema } from '../../src/events/table-schema.ts';
import { UNCHANGED_TOAST, type TupleValue } from '../../src/source/cdc/pgoutput.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures

const PLACEHOLDER = '__debezium_unavailable_value';
const OPTIONS: EventOptions = { connectorName: 'demo', database: 'shop', version: '0.1.0-test', tombstones: true, toastPlaceholder: PLACEHOLDER };

const NUMERIC_10_2 = ((10 << 16) | 2) + 4;

const column = (name: string, typeOid: number, typeMod = -1, isKey = false): PgColumn => ({ name, typeOid, typeMod, isKey });

/** public.orders: one column of each kind the TOAST placeholder distinguishes. */
const ORDER_COLUMNS: PgColumn[] = [
  column('id', 23, -1, true),
  column('note', 25),
  column('data', 17),
  column('tags', 1009),
  column('qty', 20),
  column('price', 1700, NUMERIC_10_2),
  column('placed_at', 1184),
  column('ratio', 701),
  column('doc', 3802),
];

function table(overrides: Partial<Parameters<typeof buildTableSchema>[0]> = {}): TableSchema {
  return buildTableSchema({
    topicPrefix: 'demo',
    relationId: 16384,
    schema: 'public',
    table: 'orders',
    columns: ORDER_COLUMNS,
    primaryKey: ['id'],
    lookupType: builtinType,
    ...overrides,
  });
}

const ORDERS = table();
const ITEMS = buildTableSchema({
  topicPrefix: 'demo',
  relationId: 16390,
  schema: 'public',
  table: 'items',
  columns: [column('order_id', 23, -1, true), column('line', 21, -1, true), column('sku', 25)],
  primaryKey: ['order_id', 'line'],
  lookupType: builtinType,
});
const LOG = buildTableSchema({
  topicPrefix: 'demo',
  relationId: 16400,
  schema: 'public',
  table: 'log',
  columns: [column('at', 1184), column('message', 25)],
  primaryKey: [],
  lookupType: builtinType,
});

const COMMIT_MICROS = 1_704_103_200_123_456n; // 2024-01-01T10:00:00.123456Z
const LSN = 0x1_6b37_48a0n;

function tx(overrides: Partial<TransactionContext> = {}): TransactionContext {
  return {
    xid: 771,
    commitTimeMicros: COMMIT_MICROS,
    finalLsn: 0x1_6b37_4c00n,
    previousCommitLsn: 0x1_6b37_0000n,
    totalOrder: 0,
    orderByTable: new Map(),
    ...overrides,
  };
}

/** A row of public.orders as pgoutput text. */
function orderRow(id: number, note: TupleValue = 'first order'): TupleValue[] {
  return [String(id), note, '\\x00ff', '{a,"b c",NULL}', '9007199254740993', '12.50', '2024-01-01 15:30:00.123456+05:30', '-0', '{"k": [1, 2]}'];
}

/** The decoded values of orderRow(id, note). */
function orderValues(id: number, note: unknown = 'first order'): Record<string, unknown> {
  return {
    id,
    note,
    data: Buffer.from([0, 255]),
    tags: ['a', 'b c', null],
    qty: 9007199254740993n,
    price: { unscaled: 1250n, scale: 2 },
    placed_at: 1704103200123456n,
    ratio: -0,
    doc: '{"k": [1, 2]}',
  };
}

/** A 'K' old tuple: the key columns' values, every other column null (as pgoutput sends it). */
function keyTuple(t: TableSchema, values: Record<string, string>): TupleValue[] {
  return t.columns.map((c) => values[c.name] ?? null);
}

function envelope(event: ChangeEvent): Envelope {
  assert.ok(event.value !== null, 'expected an envelope, got a tombstone');
  return event.value as Envelope;
}

/** Values in a shape two decodings can be compared in: avsc's record classes -> plain objects,
 * longs (bigint after decoding, number or bigint before) -> number when safe. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Encodes key and value with the table's schemas (avsc + walcast's logical types) and decodes them back. */
function assertAvroRoundTrip(event: ChangeEvent): void {
  const keyType = event.schema.keyAvro === null ? null : avsc.Type.forSchema(event.schema.keyAvro as avsc.Schema, avroTypeOptions());
  const valueType = avsc.Type.forSchema(event.schema.envelopeAvro as avsc.Schema, avroTypeOptions());
  if (event.key !== null) {
    assert.ok(keyType, 'an event with a key needs a key schema');
    assert.deepStrictEqual(plain(keyType.fromBuffer(keyType.toBuffer(event.key))), plain(event.key));
  }
  if (event.value !== null) {
    assert.deepStrictEqual(plain(valueType.fromBuffer(valueType.toBuffer(event.value))), plain(event.value));
  }
}

// ---------------------------------------------------------------------------------------------
// ChangeEventBuilder

describe('ChangeEventBuilder: operations', () => {
  const builder = new ChangeEventBuilder(OPTIONS);

  test('insert: op c, before null, after decoded, key = primary key', () => {
    const events = builder.insert(ORDERS, tx(), LSN, orderRow(7));
    assert.equal(events.length, 1);
    const [event] = events as [ChangeEvent];
    assert.equal(event.schema, ORDERS);
    assert.deepStrictEqual(event.key, { id: 7 });
    const value = envelope(event);
    assert.equal(value.op, 'c');
    assert.equal(value.before, null);
    assert.deepStrictEqual(value.after, orderValues(7));
    assertAvroRoundTrip(event);
  });

  test('update without old tuple: op u, before null', () => {
    const events = builder.update(ORDERS, tx(), LSN, null, null, orderRow(7, 'changed'));
    assert.equal(events.length, 1);
    const [event] = events as [ChangeEvent];
    assert.deepStrictEqual(event.key, { id: 7 });
    const value = envelope(event);
    assert.equal(value.op, 'u');
    assert.equal(value.before, null);
    assert.deepStrictEqual(value.after, orderValues(7, 'changed'));
    assertAvroRoundTrip(event);
  });

  test("update with an 'O' old tuple (REPLICA IDENTITY FULL): full before image; unchanged TOAST taken from it", () => {
    const oldRow = orderRow(7, 'a long note that was TOASTed');
    const newRow = orderRow(7, UNCHANGED_TOAST);
    newRow[2] = UNCHANGED_TOAST; // data (bytea)
    newRow[3] = UNCHANGED_TOAST; // tags (text[])
    newRow[4] = '1'; // qty changed
    const [event, ...rest] = builder.update(ORDERS, tx(), LSN, oldRow, 'O', newRow);
    assert.equal(rest.length, 0);
    const value = envelope(event!);
    assert.equal(value.op, 'u');
    assert.deepStrictEqual(value.before, orderValues(7, 'a long note that was TOASTed'));
    assert.deepStrictEqual(value.after, { ...orderValues(7, 'a long note that was TOASTed'), qty: 1n });
    assert.deepStrictEqual(event!.key, { id: 7 });
    assertAvroRoundTrip(event!);
  });

  test('unchanged TOAST without an old tuple: the placeholder where the Avro type can carry it, else null', () => {
    const newRow = orderRow(7);
    for (const i of [1, 2, 3, 4, 5, 8]) newRow[i] = UNCHANGED_TOAST; // note, data, tags, qty, price, doc
    const [event] = builder.update(ORDERS, tx(), LSN, null, null, newRow);
    const after = envelope(event!).after!;
    assert.equal(after.note, PLACEHOLDER, 'text: the placeholder');
    assert.deepStrictEqual(after.data, Buffer.from(PLACEHOLDER), 'bytea: the placeholder bytes');
    assert.deepStrictEqual(after.tags, [PLACEHOLDER], 'text[]: [placeholder]');
    assert.equal(after.qty, null, 'int8: null');
    assert.equal(after.price, null, 'numeric(10,2) (Avro decimal): null');
    assert.equal(after.doc, PLACEHOLDER, 'jsonb (a string): the placeholder');
    assert.equal(after.id, 7);
    assertAvroRoundTrip(event!);
  });

  test('the placeholder is configurable', () => {
    const custom = new ChangeEventBuilder({ ...OPTIONS, toastPlaceholder: '<toast>' });
    const newRow = orderRow(7, UNCHANGED_TOAST);
    const [event] = custom.update(ORDERS, tx(), LSN, null, null, newRow);
    assert.equal(envelope(event!).after!.note, '<toast>');
  });

  test("primary-key change ('K' old tuple with another key): d of the old key, tombstone, c of the new key", () => {
    const t = tx();
    const events = builder.update(ORDERS, t, LSN, keyTuple(ORDERS, { id: '7' }), 'K', orderRow(8));
    assert.equal(events.length, 3);
    const [del, tombstone, create] = events as [ChangeEvent, ChangeEvent, ChangeEvent];
    assert.deepStrictEqual(del.key, { id: 7 });
    assert.equal(envelope(del).op, 'd');
    assert.deepStrictEqual(envelope(del).before, { ...Object.fromEntries(ORDERS.columns.map((c) => [c.fieldName, null])), id: 7 });
    assert.equal(envelope(del).after, null);
    assert.deepStrictEqual(tombstone.key, { id: 7 });
    assert.equal(tombstone.value, null);
    assert.deepStrictEqual(create.key, { id: 8 });
    assert.equal(envelope(create).op, 'c');
    assert.equal(envelope(create).before, null);
    assert.deepStrictEqual(envelope(create).after, orderValues(8));
    // Two envelopes in the transaction; the tombstone takes no place in the order.
    assert.equal(envelope(del).transaction!.total_order, 1);
    assert.equal(envelope(create).transaction!.total_order, 2);
    for (const e of events) assertAvroRoundTrip(e);
  });

  test('primary-key change without tombstones: d, c', () => {
    const noTombstones = new ChangeEventBuilder({ ...OPTIONS, tombstones: false });
    const events = noTombstones.update(ORDERS, tx(), LSN, keyTuple(ORDERS, { id: '7' }), 'K', orderRow(8));
    assert.deepStrictEqual(
      events.map((e) => [e.key, e.value === null ? null : envelope(e).op]),
      [
        [{ id: 7 }, 'd'],
        [{ id: 8 }, 'c'],
      ],
    );
  });

  test('composite primary-key change in one column only is a key change', () => {
    const events = builder.update(ITEMS, tx(), LSN, keyTuple(ITEMS, { order_id: '1', line: '1' }), 'K', ['1', '2', 'sku-1']);
    assert.deepStrictEqual(
      events.map((e) => [e.key, e.value === null ? null : envelope(e).op]),
      [
        [{ order_id: 1, line: 1 }, 'd'],
        [{ order_id: 1, line: 1 }, null],
        [{ order_id: 1, line: 2 }, 'c'],
      ],
    );
  });

  test("delete with a 'K' old tuple: before has only the key columns set, then a tombstone", () => {
    const events = builder.delete(ORDERS, tx(), LSN, keyTuple(ORDERS, { id: '7' }));
    assert.equal(events.length, 2);
    const [del, tombstone] = events as [ChangeEvent, ChangeEvent];
    assert.deepStrictEqual(del.key, { id: 7 });
    const value = envelope(del);
    assert.equal(value.op, 'd');
    assert.equal(value.after, null);
    const before = value.before!;
    assert.equal(before.id, 7);
    for (const c of ORDERS.columns.slice(1)) assert.equal(before[c.fieldName], null, c.fieldName);
    assert.deepStrictEqual(tombstone.key, { id: 7 });
    assert.equal(tombstone.value, null);
    for (const e of events) assertAvroRoundTrip(e);
  });

  test('delete without tombstones: the d event only', () => {
    const noTombstones = new ChangeEventBuilder({ ...OPTIONS, tombstones: false });
    const events = noTombstones.delete(ORDERS, tx(), LSN, keyTuple(ORDERS, { id: '7' }));
    assert.equal(events.length, 1);
    assert.equal(envelope(events[0]!).op, 'd');
  });

  test('delete on a table without a primary key: null key, no tombstone (REPLICA IDENTITY FULL before image)', () => {
    assert.equal(LOG.keyAvro, null);
    assert.deepStrictEqual(LOG.keyIndexes, []);
    const events = builder.delete(LOG, tx(), LSN, ['2024-01-01 00:00:00+00', 'hello']);
    assert.equal(events.length, 1);
    const [event] = events as [ChangeEvent];
    assert.equal(event.key, null);
    assert.deepStrictEqual(envelope(event).before, { at: 1704067200000000n, message: 'hello' });
    assertAvroRoundTrip(event);
    // Inserts and updates on it carry null keys too.
    assert.equal(builder.insert(LOG, tx(), LSN, [null, 'x'])[0]!.key, null);
  });

  test('truncate: op t, null key, no before/after', () => {
    const events = builder.truncate(ORDERS, tx(), LSN);
    assert.equal(events.length, 1);
    const [event] = events as [ChangeEvent];
    assert.equal(event.key, null);
    const value = envelope(event);
    assert.equal(value.op, 't');
    assert.equal(value.before, null);
    assert.equal(value.after, null);
    assertAvroRoundTrip(event);
  });

  test('a tuple with the wrong number of columns throws RowShapeError (code WALCAST_ROW_SHAPE)', () => {
    const short = orderRow(7).slice(0, -1);
    const long = [...orderRow(7), 'extra'];
    for (const call of [
      () => builder.insert(ORDERS, tx(), LSN, short),
      () => builder.insert(ORDERS, tx(), LSN, long),
      () => builder.update(ORDERS, tx(), LSN, null, null, short),
      () => builder.update(ORDERS, tx(), LSN, short, 'O', orderRow(7)),
      () => builder.delete(ORDERS, tx(), LSN, short),
    ]) {
      assert.throws(call, (e: unknown) => e instanceof RowShapeError && e.code === 'WALCAST_ROW_SHAPE' && /public\.orders/.test(e.message));
    }
  });

  test('an undecodable value throws (nothing is guessed)', () => {
    const bad = orderRow(7);
    bad[0] = 'seven';
    assert.throws(() => builder.insert(ORDERS, tx(), LSN, bad), { code: 'WALCAST_VALUE_DECODE' });
  });
});

describe('ChangeEventBuilder: transaction block and source', () => {
  const builder = new ChangeEventBuilder(OPTIONS);

  test('total_order counts every event of the transaction; data_collection_order counts per table', () => {
    const t = tx();
    const events = [
      ...builder.insert(ORDERS, t, LSN, orderRow(1)),
      ...builder.insert(ITEMS, t, LSN + 1n, ['1', '1', 'a']),
      ...builder.insert(ITEMS, t, LSN + 2n, ['1', '2', 'b']),
      ...builder.update(ORDERS, t, LSN + 3n, null, null, orderRow(1, 'x')),
      ...builder.delete(ITEMS, t, LSN + 4n, keyTuple(ITEMS, { order_id: '1', line: '1' })), // + tombstone
      ...builder.truncate(LOG, t, LSN + 5n),
    ];
    const blocks = events.filter((e) => e.value !== null).map((e) => envelope(e).transaction);
    const id = `771:${0x1_6b37_4c00n}`;
    assert.deepStrictEqual(blocks, [
      { id, total_order: 1, data_collection_order: 1 },
      { id, total_order: 2, data_collection_order: 1 },
      { id, total_order: 3, data_collection_order: 2 },
      { id, total_order: 4, data_collection_order: 2 },
      { id, total_order: 5, data_collection_order: 3 },
      { id, total_order: 6, data_collection_order: 1 },
    ]);
    assert.equal(t.totalOrder, 6);
    // A new transaction starts again at 1.
    assert.equal(envelope(builder.insert(ORDERS, tx({ xid: 772 }), LSN, orderRow(2))[0]!).transaction!.total_order, 1);
  });

  test('source block: commit time in ms/µs/ns, lsn, txId, sequence with the previous commit LSN', () => {
    const before = Date.now();
    const [event] = builder.insert(ORDERS, tx(), LSN, orderRow(1));
    const after = Date.now();
    const value = envelope(event!);
    assert.deepStrictEqual(value.source, {
      version: '0.1.0-test',
      connector: 'postgresql',
      name: 'demo',
      ts_ms: 1704103200123,
      snapshot: 'false',
      db: 'shop',
      sequence: JSON.stringify([String(0x1_6b37_0000n), String(LSN)]),
      ts_us: 1704103200123456,
      ts_ns: 1704103200123456000n,
      schema: 'public',
      table: 'orders',
      txId: 771,
      lsn: Number(LSN),
      xmin: null,
    });
    assert.equal(typeof value.source.ts_ns, 'bigint');
    // Envelope ts_*: processing time.
    assert.ok(value.ts_ms! >= before && value.ts_ms! <= after);
    assert.equal(value.ts_us, value.ts_ms! * 1000);
    assert.equal(value.ts_ns, BigInt(value.ts_ms!) * 1_000_000n);
  });

  test('source.sequence without a previous commit: [null, lsn]', () => {
    const [event] = builder.insert(ORDERS, tx({ previousCommitLsn: null }), LSN, orderRow(1));
    assert.equal(envelope(event!).source.sequence, `[null,"${LSN}"]`);
  });

  test('property: commit micros -> ts_ms (floor), ts_us, ts_ns exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 52n }), (micros) => {
        const [event] = builder.truncate(ORDERS, tx({ commitTimeMicros: micros }), LSN);
        const source = envelope(event!).source;
        assert.equal(source.ts_ms, Number(micros / 1000n));
        assert.equal(source.ts_us, Number(micros));
        assert.equal(source.ts_ns, micros * 1000n);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ChangeEventBuilder: properties', () => {
  const builder = new ChangeEventBuilder(OPTIONS);
  const SIMPLE = buildTableSchema({
    topicPrefix: 'p',
    relationId: 1,
    schema: 'public',
    table: 'simple',
    columns: [column('id', 23, -1, true), column('name', 25), column('total', 20)],
    primaryKey: ['id'],
    lookupType: builtinType,
  });
  const row = fc.record({
    id: fc.integer(),
    name: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null }),
    total: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: null }),
  });

  test('insert: after equals the decoded values, key equals {id}; the envelope round-trips through Avro', () => {
    fc.assert(
      fc.property(row, ({ id, name, total }) => {
        const [event] = builder.insert(SIMPLE, tx(), LSN, [String(id), name, total === null ? null : total.toString()]);
        assert.deepStrictEqual(event!.key, { id });
        assert.deepStrictEqual(envelope(event!).after, { id, name, total });
        assertAvroRoundTrip(event!);
      }),
      { numRuns: 300 },
    );
  });

  test('update: a key change happens exactly when the key differs', () => {
    fc.assert(
      fc.property(row, row, (old, next) => {
        const events = builder.update(SIMPLE, tx(), LSN, [String(old.id), null, null], 'K', [String(next.id), next.name, next.total?.toString() ?? null]);
        const ops = events.map((e) => (e.value === null ? 'tombstone' : envelope(e).op));
        assert.deepStrictEqual(ops, old.id === next.id ? ['u'] : ['d', 'tombstone', 'c']);
        assert.deepStrictEqual(events.at(-1)!.key, { id: next.id });
      }),
      { numRuns: 300 },
    );
  });
});

describe('ChangeEventBuilder: identity edge cases seen in real pgoutput output', () => {
  const builder = new ChangeEventBuilder(OPTIONS);

  // Observed from PostgreSQL 15 pgoutput: a text primary key stored out of line (e.g. ~2.5 kB of
  // poorly compressible text) and an UPDATE of another column gives oldTuple 'K' = [key, null]
  // and newTuple [UNCHANGED_TOAST, '2'].
  test("unchanged TOASTed key column with a 'K' old tuple keeps the key (an ordinary update)", () => {
    const t = buildTableSchema({
      topicPrefix: 'demo',
      relationId: 2,
      schema: 'public',
      table: 'docs',
      columns: [column('id', 25, -1, true), column('n', 23)],
      primaryKey: ['id'],
      lookupType: builtinType,
    });
    const key = 'a key stored out of line (2.5 kB in the real case)';
    const events = builder.update(t, tx(), LSN, [key, null], 'K', [UNCHANGED_TOAST, '2']);
    assert.deepStrictEqual(
      events.map((e) => [e.key, e.value === null ? null : envelope(e).op]),
      [[{ id: key }, 'u']],
    );
  });

  // Observed from PostgreSQL 15 pgoutput: PRIMARY KEY (id) with REPLICA IDENTITY USING INDEX on
  // a unique email column sends 'K' tuples [null, email, null] for updates of email and deletes.
  test('REPLICA IDENTITY USING INDEX other than the primary key: delete events get an encodable key', () => {
    const t = buildTableSchema({
      topicPrefix: 'demo',
      relationId: 3,
      schema: 'public',
      table: 'users',
      columns: [column('id', 23), column('email', 25, -1, true), column('n', 23)],
      primaryKey: ['id'],
      lookupType: builtinType,
    });
    const events = builder.delete(t, tx(), LSN, [null, 'b@x', null]);
    for (const e of events) assertAvroRoundTrip(e);
  });
});

// ---------------------------------------------------------------------------------------------
// buildTableSchema

interface AvroRecord {
  name: string;
  fields: Array<{ name: string; type: unknown }>;
}

const valueRecord = (t: TableSchema): AvroRecord =>
  ((t.envelopeAvro as unknown as AvroRecord).fields[0]!.type as unknown[])[1] as AvroRecord;

describe('buildTableSchema: names', () => {
  test('Avro names adjusted (spaces, capitals kept, unicode, dots, leading digit); topic keeps capitals/dots/dashes', () => {
    const t = buildTableSchema({
      topicPrefix: 'shop-db',
      relationId: 1,
      schema: 'Sales Dept',
      table: 'Order Items.v2',
      columns: [column('1st', 23, -1, true), column('Naïve Col', 25), column('x-y.z', 25)],
      primaryKey: ['1st'],
      lookupType: builtinType,
    });
    assert.equal(t.topic, 'shop-db.Sales_Dept.Order_Items.v2');
    const base = 'shop_db.Sales_Dept.Order_Items_v2';
    const key = t.keyAvro as unknown as AvroRecord & Record<string, unknown>;
    assert.equal(key.name, `${base}.Key`);
    assert.equal(key['connect.name'], `${base}.Key`);
    assert.deepStrictEqual(key.fields.map((f) => f.name), ['_1st']);
    const env = t.envelopeAvro as unknown as AvroRecord & Record<string, unknown>;
    assert.equal(env.name, `${base}.Envelope`);
    assert.equal(env['connect.name'], `${base}.Envelope`);
    assert.equal(valueRecord(t).name, `${base}.Value`);
    assert.deepStrictEqual(env.fields.map((f) => f.name), ['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns']);
    assert.deepStrictEqual(env.fields[1]!.type, ['null', `${base}.Value`]);
    assert.deepStrictEqual(valueRecord(t).fields.map((f) => f.name), ['_1st', 'Na_ve_Col', 'x_y_z']);
    assert.deepStrictEqual(t.columns.map((c) => [c.name, c.fieldName]), [
      ['1st', '_1st'],
      ['Naïve Col', 'Na_ve_Col'],
      ['x-y.z', 'x_y_z'],
    ]);
    // Every name is one avsc accepts, and events use the adjusted field names.
    const [event] = new ChangeEventBuilder(OPTIONS).insert(t, tx(), LSN, ['1', 'a', 'b']);
    assert.deepStrictEqual(event!.key, { _1st: 1 });
    assert.deepStrictEqual(envelope(event!).after, { _1st: 1, Na_ve_Col: 'a', x_y_z: 'b' });
    assertAvroRoundTrip(event!);
  });

  test('unicode schema/table names: "_" in topic and Avro names, capitals kept', () => {
    const t = table({ schema: 'Données', table: 'Commandes Été' });
    assert.equal(t.topic, 'demo.Donn_es.Commandes__t_');
    assert.equal((t.keyAvro as unknown as AvroRecord).name, 'demo.Donn_es.Commandes__t_.Key');
  });

  test('a digit-first table name: topic unchanged, Avro name prefixed with "_"', () => {
    const t = table({ table: '2024_orders' });
    assert.equal(t.topic, 'demo.public.2024_orders');
    assert.equal((t.keyAvro as unknown as AvroRecord).name, 'demo.public._2024_orders.Key');
  });

  test('topicNamePart: keeps [A-Za-z0-9._-], replaces everything else with "_"', () => {
    assert.equal(topicNamePart('Order_Items-v2.1'), 'Order_Items-v2.1');
    assert.equal(topicNamePart('a b'), 'a_b');
    assert.equal(topicNamePart('é'), '_');
    assert.equal(topicNamePart('a"b\'c/d'), 'a_b_c_d');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => {
        const out = topicNamePart(s);
        assert.match(out, /^[A-Za-z0-9._-]*$/u);
        // Valid characters stay where they were.
        if (/^[A-Za-z0-9._-]*$/u.test(s)) assert.equal(out, s);
      }),
      { numRuns: 300 },
    );
  });

  test('duplicate adjusted field names get _2, _3 in column order', () => {
    const t = table({
      columns: [column('id', 23, -1, true), column('a b', 25), column('a_b', 25), column('a-b', 25), column('a_b_2', 25)],
    });
    assert.deepStrictEqual(t.columns.map((c) => c.fieldName), ['id', 'a_b', 'a_b_2', 'a_b_3', 'a_b_2_2']);
    const fields = valueRecord(t).fields.map((f) => f.name);
    assert.equal(new Set(fields).size, fields.length);
    const [event] = new ChangeEventBuilder(OPTIONS).insert(t, tx(), LSN, ['1', 'p', 'q', 'r', 's']);
    assert.deepStrictEqual(envelope(event!).after, { id: 1, a_b: 'p', a_b_2: 'q', a_b_3: 'r', a_b_2_2: 's' });
    assertAvroRoundTrip(event!);
  });

  test('key columns in primary-key order, not column order', () => {
    const t = table({
      columns: [column('a', 23, -1, true), column('b', 25, -1, true), column('c', 25)],
      primaryKey: ['b', 'a'],
    });
    assert.deepStrictEqual(t.keyIndexes, [1, 0]);
    assert.deepStrictEqual((t.keyAvro as unknown as AvroRecord).fields.map((f) => f.name), ['b', 'a']);
  });
});

describe('buildTableSchema: fingerprint', () => {
  const base = table();

  test('stable for the same shape (and independent of relation id and isKey flags)', () => {
    assert.equal(table().fingerprint, base.fingerprint);
    assert.equal(table({ relationId: 99999 }).fingerprint, base.fingerprint);
    assert.equal(table({ columns: ORDER_COLUMNS.map((c) => ({ ...c, isKey: false })) }).fingerprint, base.fingerprint);
    assert.match(base.fingerprint, /^[0-9a-f]{16}$/);
  });

  test('changes when a column is added, dropped, renamed or retyped, a typmod or the key changes', () => {
    const variants: Record<string, TableSchema> = {
      added: table({ columns: [...ORDER_COLUMNS, column('extra', 25)] }),
      dropped: table({ columns: ORDER_COLUMNS.slice(0, -1) }),
      renamed: table({ columns: ORDER_COLUMNS.map((c) => (c.name === 'note' ? { ...c, name: 'remark' } : c)) }),
      retyped: table({ columns: ORDER_COLUMNS.map((c) => (c.name === 'qty' ? { ...c, typeOid: 1700 } : c)) }),
      typmod: table({ columns: ORDER_COLUMNS.map((c) => (c.name === 'price' ? { ...c, typeMod: ((12 << 16) | 2) + 4 } : c)) }),
      // pgoutput flags the replica-identity columns, which under REPLICA IDENTITY DEFAULT are the primary key.
      key: table({ primaryKey: ['id', 'note'], columns: ORDER_COLUMNS.map((c) => (c.name === 'note' ? { ...c, isKey: true } : c)) }),
      noKey: table({ primaryKey: [] }),
      renamedTable: table({ table: 'orders2' }),
      decimalHandling: table({ codecOptions: { decimalHandling: 'string' } }),
    };
    const seen = new Map<string, string>([[base.fingerprint, 'base']]);
    for (const [name, variant] of Object.entries(variants)) {
      assert.ok(!seen.has(variant.fingerprint), `${name} has the fingerprint of ${seen.get(variant.fingerprint)}`);
      seen.set(variant.fingerprint, name);
    }
  });

  test('changes when an enum gains a label', () => {
    const mood = (labels: string[]): PgType => ({ oid: 50001, name: 'mood', namespace: 'public', kind: 'e', enumLabels: labels });
    const withMood = (type: PgType): TableSchema =>
      table({
        columns: [column('id', 23, -1, true), column('m', 50001)],
        lookupType: (oid) => (oid === 50001 ? type : builtinType(oid)),
      });
    const before = withMood(mood(['sad', 'ok']));
    assert.equal(withMood(mood(['sad', 'ok'])).fingerprint, before.fingerprint);
    assert.notEqual(withMood(mood(['sad', 'ok', 'happy'])).fingerprint, before.fingerprint);
  });

  test('an unknown type OID is refused with UnknownTypeError', () => {
    assert.throws(() => table({ columns: [column('id', 23, -1, true), column('x', 987654)] }), {
      name: 'UnknownTypeError',
      code: 'WALCAST_UNKNOWN_TYPE',
    });
  });
});

describe('buildTableSchema: Avro schemas', () => {
  test('key and envelope schemas compile with avsc and walcast logical types, also from their JSON text', () => {
    for (const t of [ORDERS, ITEMS, LOG]) {
      avsc.Type.forSchema(JSON.parse(JSON.stringify(t.envelopeAvro)) as avsc.Schema, avroTypeOptions());
      if (t.keyAvro !== null) avsc.Type.forSchema(JSON.parse(JSON.stringify(t.keyAvro)) as avsc.Schema, avroTypeOptions());
    }
  });

  test('every value field is nullable with a null default; key fields are not nullable', () => {
    for (const f of valueRecord(ORDERS).fields as unknown as Array<{ type: unknown[]; default: unknown }>) {
      assert.equal(f.type[0], 'null');
      assert.equal(f.default, null);
    }
    for (const f of (ITEMS.keyAvro as unknown as AvroRecord).fields) assert.ok(!Array.isArray(f.type));
  });

  test('envelope round trip of every op built by the builder, incl. TOAST placeholders', () => {
    const builder = new ChangeEventBuilder(OPTIONS);
    const toasted = orderRow(3);
    for (const i of [1, 2, 3, 4, 5, 8]) toasted[i] = UNCHANGED_TOAST;
    const events = [
      ...builder.insert(ORDERS, tx(), LSN, orderRow(1)),
      ...builder.insert(ORDERS, tx(), LSN, [String(2), null, null, null, null, null, null, null, null]),
      ...builder.update(ORDERS, tx(), LSN, null, null, toasted),
      ...builder.update(ORDERS, tx(), LSN, orderRow(4), 'O', orderRow(4, 'x')),
      ...builder.update(ORDERS, tx(), LSN, keyTuple(ORDERS, { id: '4' }), 'K', orderRow(5)),
      ...builder.delete(ORDERS, tx(), LSN, keyTuple(ORDERS, { id: '5' })),
      ...builder.truncate(ORDERS, tx(), LSN),
      ...builder.insert(ITEMS, tx(), LSN, ['1', '-32768', 'é😀']),
      ...builder.delete(LOG, tx(), LSN, ['infinity', null]),
    ];
    for (const e of events) assertAvroRoundTrip(e);
  });
});
