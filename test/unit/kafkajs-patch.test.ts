import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { crc32c, groupMessagesPerPartition } from '../../src/kafka/kafkajs-patch.ts';

// kafkajs' own implementations, loaded from their files (not from the module cache the patch fills).
const require = createRequire(import.meta.url);
const original = (path: string): unknown => {
  const file = require.resolve(path);
  const module = { exports: {} as unknown };
  new Function('module', 'exports', 'require', require('node:fs').readFileSync(file, 'utf8'))(module, module.exports, require);
  return module.exports;
};
const kafkajsCrc32c = original('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
const kafkajsGroup = original('kafkajs/src/producer/groupMessagesPerPartition.js') as typeof groupMessagesPerPartition;

test('crc32c equals kafkajs\' byte-at-a-time CRC-32C for any bytes', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the standard check value
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal(crc32c(Buffer.from(bytes)), kafkajsCrc32c(Buffer.from(bytes)));
  }), { numRuns: 2000 });
});

test('linear grouping by partition equals kafkajs\' for any messages and partitioner', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }), fc.boolean(), (partitions, noMetadata) => {
    const messages = partitions.map((p, i) => ({ p, i }));
    const args = { topic: 't', partitionMetadata: noMetadata ? [] : [{}], messages, partitioner: ({ message }: { message: { p: number } }) => message.p };
    assert.deepEqual(groupMessagesPerPartition(args), kafkajsGroup(args));
  }), { numRuns: 500 });
});
