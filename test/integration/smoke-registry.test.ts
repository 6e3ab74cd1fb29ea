// Smoke test of the local Apicurio Registry through its Confluent-compatible API
// (scripts/services.sh), with the client walcast uses: register, read back by id, encode/decode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';

const services = loadServices();

test('an Avro schema registers, reads back by id, and round-trips a value', async () => {
  const suffix = uniqueSuffix();
  const subject = `walcast-smoke-${suffix}-value`;
  // Without keep-alive, so no socket outlives the test.
  const agent = new Agent({ keepAlive: false });
  const registry = new SchemaRegistry({ host: services.schemaRegistryUrl, agent });
  try {
    // services.sh starts Apicurio with a global BACKWARD rule (GET /config). For a subject that does
    // not exist yet GET /config/{subject} answers 404, so register() registers and then PUTs the
    // subject's level; later calls compare that level with the requested one (BACKWARD by default).
    const compatibilityOf = async (path: string): Promise<string | number> => {
      const res = await fetch(`${services.schemaRegistryUrl}${path}`);
      return res.status === 200 ? ((await res.json()) as { compatibilityLevel: string }).compatibilityLevel : res.status;
    };
    assert.equal(await compatibilityOf('/config'), 'BACKWARD');
    assert.equal(await compatibilityOf(`/config/${encodeURIComponent(subject)}`), 404);

    const schema = {
      type: 'record',
      name: `Smoke_${suffix}`,
      namespace: 'walcast.smoke',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'note', type: ['null', 'string'], default: null },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    assert.ok(Number.isInteger(id) && id > 0, `schema id ${id}`);
    assert.equal(await compatibilityOf(`/config/${encodeURIComponent(subject)}`), 'BACKWARD');
    // Registering the same schema again (now through the GET /config/{subject} check) gives the same id.
    const again = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    assert.equal(again.id, id);

    const byId = await fetch(`${services.schemaRegistryUrl}/schemas/ids/${id}`);
    assert.equal(byId.status, 200);
    assert.deepEqual(JSON.parse(((await byId.json()) as { schema: string }).schema), schema);
    const readBack = await registry.getSchema(id);
    assert.ok('name' in readBack && readBack.name === `walcast.smoke.Smoke_${suffix}`, 'schema read back by id');
    assert.equal(await registry.getLatestSchemaId(subject), id);

    const value = { id: 1234567890123, note: 'héllo' };
    const encoded = await registry.encode(id, value);
    assert.equal(encoded[0], 0, 'Confluent wire format: magic byte 0');
    assert.equal(encoded.readInt32BE(1), id, 'Confluent wire format: 4-byte schema id');
    // decode() returns an instance of avsc's generated record class: compare its fields.
    assert.deepEqual({ ...(await registry.decode(encoded)) }, value);
  } finally {
    agent.destroy();
  }
});
