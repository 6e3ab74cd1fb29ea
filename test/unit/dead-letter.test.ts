// Dead-letter records (src/kafka/dead-letter.ts) and the failure messages of rows walcast cannot
// publish (src/source/cdc/row-failures.ts): Kafka Connect's header names and values, the row as
// JSON in PostgreSQL's text forms, values cut to fit the dead-letter topic, and a message that
// names table, column, key, LSN and the ways out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinType } from '../../src/decode/codec.ts';
import { ValueDecodeError } from '../../src/decode/errors.ts';
import { buildTableSchema } from '../../src/events/table-schema.ts';
import { CONNECT_ERROR_HEADERS, deadLetterRecord, DeadLetterTooLargeError, fitJson, type JsonDocument } from '../../src/kafka/dead-letter.ts';
import { headerBytes, RecordTooLargeError, BATCH_OVERHEAD_BYTES } from '../../src/kafka/record-limits.ts';
import { UNCHANGED_TOAST, type UpdateMessage } from '../../src/source/cdc/pgoutput.ts';
import { changeDocument, deadLetterFor, describeFailure, UnpublishableRowError, type FailureContext, type RowFailure } from '../../src/source/cdc/row-failures.ts';

const context: FailureContext = {
  connectorName: 'shop',
  database: 'shopdb',
  publication: 'walcast',
  brokers: ['kafka-1:9092'],
  deadLetterTopic: 'shop-dlq',
  toastPlaceholder: '__debezium_unavailable_value',
};

const table = buildTableSchema({
  topicPrefix: 'shop',
  relationId: 1,
  schema: 'public',
  table: 'orders',
  columns: [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
    { name: 'placed', typeOid: 1184, typeMod: -1, isKey: false },
    { name: 'body', typeOid: 25, typeMod: -1, isKey: false },
  ],
  primaryKey: ['id'],
  lookupType: builtinType,
});

const update: UpdateMessage = {
  tag: 'update',
  relationId: 1,
  oldTuple: ['42', '2024-01-01 00:00:00+00', 'old body'],
  oldTupleKind: 'O',
  newTuple: ['42', 'garbage', UNCHANGED_TOAST],
};

function decodeFailure(): RowFailure {
  return {
    kind: 'decode',
    stage: 'TASK_POLL',
    className: 'walcast.decode.ColumnCodec',
    cause: new ValueDecodeError('timestamptz', 'garbage', 'expected ISO DateStyle output'),
    table,
    column: table.columns[1]!,
    text: 'garbage',
    message: update,
    lsn: 0x16b3f28n,
    xid: 771,
    topic: table.topic,
  };
}

test('the failure message names table, column, key, LSN, transaction, the value and the ways out', () => {
  const message = describeFailure(decodeFailure(), context);
  for (const part of ['table public.orders', 'column placed (timestamptz)', 'key {"id":"42"}', 'LSN 0/16B3F28', 'transaction 771', '"garbage" (7 bytes)', 'WALCAST_ERRORS_TOLERANCE=all', 'shop-dlq', 'ALTER PUBLICATION "walcast" ADD TABLE "public"."orders" ("id", "body")']) {
    assert.ok(message.includes(part), `missing ${part}: ${message}`);
  }
  assert.match(message, /COMMIT; or set WALCAST_ERRORS_TOLERANCE=all/, 'SQL keeps its own semicolon, without a second');
  const error = new UnpublishableRowError(decodeFailure(), context);
  assert.equal(error.exitCode, 7);
  assert.equal(error.code, 'WALCAST_VALUE_DECODE');
});

test('a too-large row: sizes, the topic, its largest column and the three ways out', () => {
  const failure: RowFailure = {
    ...decodeFailure(),
    kind: 'too-large',
    stage: 'KAFKA_PRODUCE',
    column: null,
    text: null,
    cause: new RecordTooLargeError(table.topic, 3_355_600, 1_048_588, 'none', null),
    message: { tag: 'insert', relationId: 1, newTuple: ['1', '2024-01-01 00:00:00+00', 'x'.repeat(3_355_443)] },
  };
  const message = describeFailure(failure, context);
  for (const part of ['3355600 bytes', '1048588 bytes', `topic ${table.topic}`, 'largest column is body (3355443 bytes)', 'max.message.bytes=4194304', 'WALCAST_KAFKA_COMPRESSION=zstd', 'ADD TABLE "public"."orders" ("id", "placed")', 'key {"id":"1"}']) {
    assert.ok(message.includes(part), `missing ${part}: ${message}`);
  }
  assert.doesNotMatch(message, /;;/);
  assert.match(message, /\(1\) raise the topic's limit: .*; \(2\) compress: .*; \(3\) leave the column out .* COMMIT; or set WALCAST_ERRORS_TOLERANCE=all/);
});

test('the dead-letter record: Connect\'s headers, the key and the row as PostgreSQL text', () => {
  const record = deadLetterRecord('shop-dlq', deadLetterFor(decodeFailure(), context), 1_048_588);
  assert.equal(record.topic, 'shop-dlq');
  const headers = Object.fromEntries(Object.entries(record.headers!).map(([k, v]) => [k, v.toString()]));
  assert.equal(headers[CONNECT_ERROR_HEADERS.topic], 'shop.public.orders');
  assert.equal(headers['__connect.errors.connector.name'], 'shop');
  assert.equal(headers['__connect.errors.task.id'], '0');
  assert.equal(headers['__connect.errors.stage'], 'TASK_POLL');
  assert.equal(headers['__connect.errors.class.name'], 'walcast.decode.ColumnCodec');
  assert.equal(headers['__connect.errors.exception.class.name'], 'ValueDecodeError');
  assert.match(headers['__connect.errors.exception.message']!, /cannot decode PostgreSQL timestamptz value "garbage"/);
  assert.match(headers['__connect.errors.exception.stacktrace']!, /ValueDecodeError/);
  assert.equal(headers['walcast.errors.code'], 'WALCAST_VALUE_DECODE');
  assert.equal(headers['walcast.errors.table'], 'public.orders');
  assert.equal(headers['walcast.errors.column'], 'placed');
  assert.equal(headers['walcast.errors.lsn'], '0/16B3F28');
  assert.deepEqual(JSON.parse(record.key!.toString()), { id: '42' });
  // (JSON.parse gives plain objects; walcast builds them without prototypes.)
  assert.deepEqual(JSON.parse(record.value!.toString()), {
    op: 'u',
    source: { connector: 'postgresql', name: 'shop', db: 'shopdb', schema: 'public', table: 'orders', txId: 771, lsn: 0x16b3f28, lsn_text: '0/16B3F28' },
    before: { id: '42', placed: '2024-01-01 00:00:00+00', body: 'old body' },
    // The unchanged TOASTed body comes from the old tuple (REPLICA IDENTITY FULL).
    after: { id: '42', placed: 'garbage', body: 'old body' },
  });
});

test('fitJson: the longest strings are cut first, listed with their full size; the result always fits', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 20_000 }).map((n) => 'é'.repeat(n)), fc.constant(null)), { maxKeys: 8, noNullPrototype: true }),
      fc.integer({ min: 2_000, max: 200_000 }),
      (after, budget) => {
        const doc: JsonDocument = { op: 'c', after };
        const fitted = fitJson(doc, budget);
        const full = Buffer.byteLength(JSON.stringify(doc));
        if (full <= budget) {
          assert.deepEqual(JSON.parse(fitted!.toString()), doc);
          return;
        }
        if (fitted === null) return; // cutting every long string to 1 KiB was not enough
        assert.ok(fitted.length <= budget);
        const back = JSON.parse(fitted.toString()) as { after: Record<string, string | null>; truncated: Record<string, number> };
        for (const [path, bytes] of Object.entries(back.truncated)) {
          const name = path.slice('after.'.length);
          assert.equal(bytes, Buffer.byteLength(after[name] as string));
          assert.ok((after[name] as string).startsWith(back.after[name]!));
          assert.equal(back.after[name]!.length, 1024);
        }
        for (const [name, value] of Object.entries(after)) if (!(`after.${name}` in back.truncated)) assert.equal(back.after[name], value);
      },
    ),
    { numRuns: 300 },
  );
});

test('a 3 MB row still lands in a 1 MiB dead-letter topic, cut; a topic too small for even that is an error', () => {
  const failure: RowFailure = {
    ...decodeFailure(),
    kind: 'too-large',
    cause: new RecordTooLargeError(table.topic, 3_000_200, 1_048_588, 'none', null),
    message: { tag: 'insert', relationId: 1, newTuple: ['1', null, 'y'.repeat(3_000_000)] },
  };
  const record = deadLetterRecord('shop-dlq', deadLetterFor(failure, context), 1_048_588);
  assert.ok(record.value!.length + record.key!.length + headerBytes(record) + BATCH_OVERHEAD_BYTES <= 1_048_588);
  const value = JSON.parse(record.value!.toString());
  assert.deepEqual(value.truncated, { 'after.body': 3_000_000 });
  assert.equal(value.after.body, 'y'.repeat(1024));
  assert.equal(value.after.id, '1');
  assert.throws(() => deadLetterRecord('shop-dlq', deadLetterFor(failure, context), 1_000), DeadLetterTooLargeError);
  assert.equal(changeDocument(failure, context).op, 'c');
});

test("a sink's dead letter is the consumed record unchanged, with Connect's partition and offset headers", () => {
  const value = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);
  const record = deadLetterRecord(
    'sink-dlq',
    {
      topic: 'shop.public.orders',
      origin: { partition: 2, offset: '41' },
      connectorName: 'sink',
      stage: 'TASK_PUT',
      className: 'walcast.sink.apply',
      error: Object.assign(new Error('violates check constraint'), { code: '23514' }),
      key: Buffer.from('k'),
      value,
      context: { table: 'orders' },
    },
    1_048_588,
  );
  assert.equal(record.value, value);
  assert.equal(record.key!.toString(), 'k');
  assert.equal(record.headers![CONNECT_ERROR_HEADERS.partition]!.toString(), '2');
  assert.equal(record.headers![CONNECT_ERROR_HEADERS.offset]!.toString(), '41');
  assert.equal(record.headers![CONNECT_ERROR_HEADERS.stage]!.toString(), 'TASK_PUT');
  assert.throws(() => deadLetterRecord('sink-dlq', { topic: 't', connectorName: 's', stage: 'VALUE_CONVERTER', className: 'c', error: new Error('x'), key: null, value: Buffer.alloc(5000), context: {} }, 2000), DeadLetterTooLargeError);
});
