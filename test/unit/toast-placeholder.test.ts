/** Debezium's placeholder shapes for unchanged TOAST values (src/events/toast-placeholder.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinType, codecFor } from '../../src/decode/codec.ts';
import { nameUuidFromBytes, toastPlaceholder } from '../../src/events/toast-placeholder.ts';

const PLACEHOLDER = '__debezium_unavailable_value';
const bytes = [...Buffer.from(PLACEHOLDER)];

test('Java\'s UUID.nameUUIDFromBytes', () => {
  // UUID.nameUUIDFromBytes("__debezium_unavailable_value".getBytes()) and of "" (Java 17)
  assert.equal(nameUuidFromBytes(Buffer.from('')), 'd41d8cd9-8f00-3204-a980-0998ecf8427e');
  assert.match(nameUuidFromBytes(Buffer.from(PLACEHOLDER)), /^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('each column type gets Debezium\'s shape of the placeholder', () => {
  const shape = (_typeName: string, oid: number): unknown => toastPlaceholder(codecFor(builtinType(oid)!, -1, builtinType).avroSchema, PLACEHOLDER);
  assert.equal(shape('text', 25), PLACEHOLDER);
  assert.deepEqual(shape('bytea', 17), Buffer.from(PLACEHOLDER));
  assert.deepEqual(shape('text[]', 1009), [PLACEHOLDER]);
  assert.deepEqual(shape('varchar[]', 1015), [PLACEHOLDER]);
  assert.deepEqual(shape('int4[]', 1007), bytes);
  assert.deepEqual(shape('int8[]', 1016), bytes);
  assert.deepEqual(shape('date[]', 1182), bytes);
  assert.deepEqual(shape('bytea[]', 1001), [Buffer.from(PLACEHOLDER)]);
  assert.deepEqual(shape('uuid[]', 2951), [nameUuidFromBytes(Buffer.from(PLACEHOLDER))]);
  assert.equal(shape('int4', 23), null);
});
