/** JsonConverter's shapes for polled rows: Decimal bytes as Java's BigInteger writes them, exact 64-bit integers, key order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRow, structSchema, twosComplement, unscaled, type ConnectField } from '../../src/encode/connect-json.ts';
import { polledColumn } from '../../src/source/poll/table.ts';

test('two\'s complement as BigInteger.toByteArray()', () => {
  const cases: Array<[bigint, number[]]> = [[0n, [0]], [1n, [1]], [127n, [0x7f]], [128n, [0, 0x80]], [255n, [0, 0xff]], [-1n, [0xff]], [-128n, [0x80]], [-129n, [0xff, 0x7f]], [-256n, [0xff, 0x00]], [-32768n, [0x80, 0x00]], [1050n, [0x04, 0x1a]]];
  for (const [value, bytes] of cases) assert.deepEqual([...twosComplement(value)], bytes, String(value));
});

test('numeric text at a scale', () => {
  assert.equal(unscaled('12.3', 2), 1230n);
  assert.equal(unscaled('-0.05', 2), -5n);
  assert.equal(unscaled('7', 3), 7000n);
  assert.throws(() => unscaled('1.234', 2), /more than 2 fraction digits/);
});

test('rows with and without the schema envelope', () => {
  const fields: ConnectField[] = [
    polledColumn({ name: 'id', data_type: 'bigint', precision: 64, scale: 0, nullable: false }, 'UTC', 'none').field,
    polledColumn({ name: 'amount', data_type: 'numeric', precision: 10, scale: 2, nullable: true }, 'UTC', 'none').field,
    polledColumn({ name: 'at', data_type: 'timestamp without time zone', precision: null, scale: null, nullable: true }, 'UTC', 'none').field,
  ];
  const schema = structSchema('orders', fields);
  const row = { id: '9007199254740993', amount: '-1.28', at: 1767323045678 };
  assert.equal(
    encodeRow(fields, schema, row, { schemas: true, decimalFormat: 'BASE64' }).toString(),
    '{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},' +
      '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"amount"},' +
      '{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"at"}],"optional":false,"name":"orders"},' +
      '"payload":{"id":9007199254740993,"amount":"gA==","at":1767323045678}}',
  );
  assert.equal(encodeRow(fields, schema, { ...row, amount: null }, { schemas: false, decimalFormat: 'NUMERIC' }).toString(), '{"id":9007199254740993,"amount":null,"at":1767323045678}');
  assert.equal(encodeRow(fields, schema, row, { schemas: false, decimalFormat: 'NUMERIC' }).toString(), '{"id":9007199254740993,"amount":-1.28,"at":1767323045678}');
});
