// `walcast worker`: Kafka Connect's REST API for connectors created at runtime, their configs in a
// compacted Kafka topic (a restarted worker resumes them), secrets never shown or stored in the clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadSecuredServices, loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { connectorState, startWorker, waitForState, type RunningWorker } from '../helpers/worker.ts';

const services = loadServices();
const it = capturedSchema('wapi', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.t (id int primary key, note text)`);
  },
});
const { db, schema, slot, prefix } = it;
const configTopic = `walcast-configs-${uniqueSuffix()}`;
const encryptionKey = 'test-encryption-key-0123456789';

test('connectors over REST: create, validate, status, pause, resume, restart of the worker, stop, delete', async () => {
  const pg = new URL(services.pgUrl);
  // The password comes from a properties file through a config-provider reference.
  const dir = mkdtempSync(join(tmpdir(), 'walcast-worker-'));
  const secrets = join(dir, 'pg.properties');
  writeFileSync(secrets, `pg.password=${decodeURIComponent(pg.password)}\n`);
  const config = {
    'connector.class': 'walcast.CdcSourceConnector',
    WALCAST_PG_URL: `postgres://${pg.username}@${pg.host}${pg.pathname}`,
    WALCAST_PG_PASSWORD: `\${file:${secrets}:pg.password}`,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: '${env:WT_TABLES}',
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_FORMAT: 'json',
    WALCAST_SNAPSHOT_MODE: 'no_data',
  };
  const env = { WALCAST_CONFIG_STORAGE_TOPIC: configTopic, WALCAST_CONFIG_ENCRYPTION_KEY: encryptionKey, WT_TABLES: `${schema}.*` };
  const topic = it.topic('t');
  const read = (count: number) => readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, jsonTopics: [topic], count, timeoutMs: 30_000 }, [topic]);
  const secured = loadSecuredServices();
  const literalPassword = decodeURIComponent(new URL(secured.pgTlsUrl).password);

  let worker: RunningWorker = await startWorker(env);
  try {
    assert.deepEqual((await worker.call('GET', '/connectors')).body, []);
    assert.ok(((await worker.call('GET', '/connector-plugins')).body as Array<{ class: string }>).some((p) => p.class === 'walcast.CdcSourceConnector'));

    // Validate: Connect's shape, the unknown setting named.
    const validated = await worker.call('PUT', '/connector-plugins/CdcSource/config/validate', { ...config, 'poll.interval.ms': '5' });
    assert.equal(validated.status, 200);
    const report = validated.body as { name: string; error_count: number; configs: Array<{ value: { name: string; errors: string[] } }> };
    assert.equal(report.name, 'walcast.CdcSourceConnector');
    assert.equal(report.error_count, 1);
    assert.match(report.configs.find((c) => c.value.name === 'poll.interval.ms')!.value.errors[0]!, /poll\.interval\.ms is not supported/);

    // Refused by name at create; nothing is created.
    const refused = await worker.call('POST', '/connectors', { name: 'cdc', config: { ...config, WALCAST_FORMAT: 'xml' } });
    assert.equal(refused.status, 400);
    assert.match((refused.body as { message: string }).message, /^Connector configuration is invalid and contains the following 1 error\(s\):\nWALCAST_FORMAT/);
    assert.deepEqual((await worker.call('GET', '/connectors')).body, []);

    const created = await worker.call('POST', '/connectors', { name: 'cdc', config });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body, { name: 'cdc', config: { ...config, name: 'cdc' }, tasks: [{ connector: 'cdc', task: 0 }], type: 'source' });
    assert.equal((await worker.call('POST', '/connectors', { name: 'cdc', config })).status, 409);
    await waitForState(worker, 'cdc', 'RUNNING', 60_000);
    await db.query(`insert into ${schema}.t values (1, 'one')`);
    assert.deepEqual((await read(1)).map((r) => (r.value as { after: { id: number } }).after.id), [1]);

    assert.equal((await worker.call('PUT', '/connectors/cdc/pause')).status, 202);
    await waitForState(worker, 'cdc', 'PAUSED', 30_000);
    const listed = (await worker.call('GET', '/connectors?expand=status&expand=info')).body as Record<string, { status: { connector: { state: string } }; info: { config: Record<string, string> } }>;
    assert.equal(listed.cdc!.status.connector.state, 'PAUSED');
    assert.equal(listed.cdc!.info.config.WALCAST_PG_PASSWORD, config.WALCAST_PG_PASSWORD, 'a reference is shown as written');

    // A literal secret: hidden in every answer, encrypted in the config topic.
    const other = { ...config, WALCAST_SLOT: `${slot}_b`, WALCAST_PUBLICATION: `${slot}_b`, WALCAST_PG_PASSWORD: literalPassword };
    assert.equal((await worker.call('PUT', '/connectors/other/config', other)).status, 201);
    assert.equal((await worker.call('PUT', '/connectors/other/stop')).status, 204);
    const stoppedStatus = (await worker.call('GET', '/connectors/other/status')).body as { connector: { state: string }; tasks: unknown[] };
    assert.equal(stoppedStatus.connector.state, 'STOPPED');
    assert.deepEqual(stoppedStatus.tasks, []);
    assert.equal(((await worker.call('GET', '/connectors/other/config')).body as Record<string, string>).WALCAST_PG_PASSWORD, '[hidden]');
    // Written back as read, the hidden value keeps the stored one (the connector still validates).
    assert.equal((await worker.call('PATCH', '/connectors/other/config', { WALCAST_PG_STATUS_INTERVAL_MS: '5000' })).status, 200);

    // A restarted worker resumes its connectors from the config topic, paused as it was left.
    assert.equal((await worker.process.stop('SIGTERM')).code, 0);
    worker = await startWorker(env);
    assert.deepEqual((await worker.call('GET', '/connectors')).body, ['cdc', 'other']);
    assert.equal(await connectorState(worker, 'other'), 'STOPPED');
    await waitForState(worker, 'cdc', 'PAUSED', 60_000);
    await db.query(`insert into ${schema}.t values (2, 'two')`);
    assert.equal((await worker.call('PUT', '/connectors/cdc/resume')).status, 202);
    assert.deepEqual((await read(2)).map((r) => (r.value as { after: { id: number } }).after.id), [1, 2], 'nothing lost or doubled across the worker restart');

    const restarted = await worker.call('POST', '/connectors/cdc/restart?includeTasks=true');
    assert.equal(restarted.status, 202);
    assert.equal((restarted.body as { name: string }).name, 'cdc');
    assert.equal((await worker.call('DELETE', '/connectors/other')).status, 204);
    assert.equal((await worker.call('GET', '/connectors/other')).status, 404);
    assert.deepEqual((await worker.call('GET', '/connectors/nope/status')).body, { error_code: 404, message: 'Connector nope not found' });
    assert.equal((await worker.call('DELETE', '/connectors/cdc')).status, 204);
    assert.deepEqual((await worker.call('GET', '/connectors')).body, []);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworker output:\n${worker.process.output.slice(-6000)}`, { cause: error });
  } finally {
    const stopped = await worker.process.stop('SIGTERM');
    assert.equal(stopped.code, 0, `the worker stops cleanly on SIGTERM:\n${worker.process.output.slice(-3000)}`);
  }
  assert.ok(!worker.process.output.includes(literalPassword), 'the literal secret never reaches the log');

  // The config topic holds the literal secret encrypted only.
  const kafka = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `walcast-test-${uniqueSuffix()}` });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: configTopic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString('utf8') ?? 'null') });
    await waitFor('the config records', () => (values.length >= 8 ? true : undefined), 30_000, 100);
  } finally {
    await consumer.disconnect();
  }
  assert.ok(values.some((v) => v.includes('"encrypted":{"WALCAST_PG_PASSWORD"')), 'the literal secret is stored encrypted');
  assert.ok(!values.some((v) => v.includes(literalPassword)), 'the literal secret is never in the topic in the clear');
  await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [`${slot}_b`]).catch(() => undefined);
  await db.query(`drop publication if exists "${slot}_b"`);
});
