// `walcast tail`'s decoder against the real registry behind a tiny local proxy that can answer 503
// to the next schema lookups (a registry restarting, a network blip): a failed lookup must not be
// remembered, so the next record with the same schema id asks again and decodes; concurrent
// lookups of one id still share a single request, and a successful one is asked only once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import avsc from 'avsc';
import { avroTypeOptions } from '../../src/encode/avro-logical-types.ts';
import { RegistryUnavailableError, SchemaRegistryClient } from '../../src/encode/registry.ts';
import { WireDecoder } from '../../src/tail.ts';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';

const services = loadServices();

/** Forwards every request to the real registry, except that the next `failNext` schema lookups get a 503. */
async function startFlakyProxy(): Promise<{ url: string; failNext: number; lookups: number; close: () => Promise<void> }> {
  const state = { failNext: 0, lookups: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (req.method === 'GET' && req.url?.startsWith('/schemas/ids/')) {
        state.lookups += 1;
        if (state.failNext > 0) {
          state.failNext -= 1;
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error_code":50301,"message":"registry restarting"}');
          return;
        }
      }
      const upstream = await fetch(services.schemaRegistryUrl + (req.url ?? '/'), { method: req.method, headers: { accept: String(req.headers.accept ?? '*/*') } });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((error: unknown) => res.writeHead(502).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Registers a fresh record schema with the real registry; returns an encoder to the Confluent wire format. */
async function registerSchema(): Promise<(value: object) => Buffer> {
  const suffix = uniqueSuffix();
  const schema = { type: 'record', name: `TailRetry_${suffix}`, namespace: 'walcast.test', fields: [{ name: 'id', type: 'long' }, { name: 'note', type: 'string' }] };
  const id = await new SchemaRegistryClient(services.schemaRegistryUrl).register(`walcast-tail-retry-${suffix}-value`, JSON.stringify(schema));
  const type = avsc.Type.forSchema(schema as avsc.Schema, avroTypeOptions());
  return (value) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, type.toBuffer(value)]);
  };
}

test('tail decoder: a failed registry lookup is retried by the next record, not cached for the schema id', async (t) => {
  const proxy = await startFlakyProxy();
  t.after(() => proxy.close());
  const encode = await registerSchema();
  const decoder = new WireDecoder(proxy.url);

  proxy.failNext = 1;
  await assert.rejects(decoder.decode(encode({ id: 1, note: 'first' })), (error: unknown) => error instanceof RegistryUnavailableError && /503/.test(error.message));
  assert.equal(proxy.lookups, 1);

  // The registry is back: the next record with the same schema id asks again and decodes.
  assert.deepEqual(await decoder.decode(encode({ id: 2, note: 'second' })), { id: 2, note: 'second' });
  assert.equal(proxy.lookups, 2, 'the failed lookup was retried');
  // A successful lookup is remembered: no further request.
  assert.deepEqual(await decoder.decode(encode({ id: 3, note: 'third' })), { id: 3, note: 'third' });
  assert.equal(proxy.lookups, 2, 'a successful lookup is cached');
});

test('tail decoder: concurrent records of one schema id share one lookup, failed or not', async (t) => {
  const proxy = await startFlakyProxy();
  t.after(() => proxy.close());
  const encode = await registerSchema();
  const decoder = new WireDecoder(proxy.url);

  // Three records in flight while the one lookup fails: all see the failure, one request.
  proxy.failNext = 1;
  const failed = await Promise.allSettled([1, 2, 3].map((id) => decoder.decode(encode({ id, note: `n${id}` }))));
  assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  assert.equal(proxy.lookups, 1, 'concurrent lookups of one id share a request');

  // Three more once the registry is back: one new request, all decode.
  const decoded = await Promise.all([4, 5, 6].map((id) => decoder.decode(encode({ id, note: `n${id}` }))));
  assert.deepEqual(decoded, [4, 5, 6].map((id) => ({ id, note: `n${id}` })));
  assert.equal(proxy.lookups, 2, 'one retry shared by the concurrent records');
});
