// Captures what the real Debezium 3.7.0 PostgreSQL connector (on Kafka Connect standalone 4.3.1,
// as the benchmark runs it) publishes for a known set of tables and changes, into the committed
// fixtures that test/integration/sink-debezium.test.ts replays into walcast's sink:
//
//   node bench/tools/debezium-fixtures.ts [json] [avro]      (default: both; ~1 min when the jars are cached)
//
// For each converter: a fresh schema gets test/fixtures/debezium/tables.sql (rows the connector's
// initial snapshot reads as `r`), the connector starts with Debezium's defaults apart from the
// names (decimal.handling.mode=precise, time.precision.mode=adaptive, ...), changes.sql runs once
// it streams, and every record of the tables' topics is written to
// test/fixtures/debezium/<converter>.json exactly as Kafka holds it: partition, key and value bytes
// (base64), headers; for Avro also the writer schemas by the ids framed in the bytes.
// Needs the local services (bash scripts/services.sh up) and the jars of bench/lib/fetch.sh.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { fetchJars } from '../lib/jars.ts';
import { benchKafka } from '../lib/kafka.ts';
import { ident } from '../lib/pg.ts';
import { log, readServicesEnv, ROOT, sleep, waitFor } from '../lib/util.ts';
import { startDebezium, type Tooling } from '../systems.ts';
import { FIXTURE_TABLES, FIXTURES, fixtureSql, type DebeziumFixture, type FixtureConverter, type FixtureRecord } from '../../test/fixtures/debezium/fixture.ts';

type Converter = FixtureConverter;

/** Records of `topic` from the beginning to its end offsets (Debezium's producer is not transactional). */
async function readTopic(brokers: string[], topic: string): Promise<{ partitions: number; records: FixtureRecord[] }> {
  const kafka = benchKafka(brokers, 'walcast-debezium-fixtures');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((sum, p) => sum + Number(p.high), 0);
  const records: FixtureRecord[] = [];
  const consumer = kafka.consumer({ groupId: `walcast-debezium-fixtures-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = Buffer.from(v as Buffer).toString('base64');
          records.push({ partition: batch.partition, offset: m.offset, key: m.key ? m.key.toString('base64') : null, value: m.value ? m.value.toString('base64') : null, headers });
        }
      },
    });
    await waitFor(`${total} records of ${topic}`, () => (records.length >= total ? true : undefined), 60_000, 50);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return { partitions: ends.length, records };
}

async function capture(converter: Converter, tooling: Tooling, db: pg.Client): Promise<DebeziumFixture> {
  const id = Date.now().toString(36);
  const schema = `dbzfx_${id}_${converter}`;
  const prefix = `dbzfx${id}${converter}`;
  const job = { name: `dbzfx-${converter}`, slot: schema, publication: schema, schema, table: '.*', topicPrefix: prefix };
  // Debezium's defaults, written out where the benchmark's Debezium differs (it compares numeric as strings).
  const overrides = ['decimal.handling.mode=precise'];
  await db.query(`create schema ${ident(schema)}`);
  try {
    await db.query(fixtureSql('tables.sql', schema));
    // Written last, after the changes: once its record is in Kafka, the changes before it are too.
    await db.query(`create table ${ident(schema)}.zz_marker (id int primary key)`);
    const started = Date.now();
    const debezium = await startDebezium(tooling, job, converter, { threads: null }, overrides);
    // The JVM must not outlive this process (an uncaught error, Ctrl-C): it would hold the slot.
    const killJvm = (): void => void debezium.proc.child.kill('SIGTERM');
    process.once('exit', killJvm);
    process.once('SIGINT', () => process.exit(130));
    try {
      await debezium.streaming;
      log(`${converter}: Debezium streams ${((Date.now() - started) / 1000).toFixed(1)} s after the JVM started`);
      await db.query(fixtureSql('changes.sql', schema));
      await db.query(`insert into ${ident(schema)}.zz_marker values (1)`);
      const admin = benchKafka(tooling.services.brokers).admin();
      await admin.connect();
      const marker = `${prefix}.${schema}.zz_marker`;
      await waitFor('the marker record', async () => {
        const offsets = await admin.fetchTopicOffsets(marker).catch(() => []);
        return offsets.some((p) => Number(p.high) > 0) ? true : undefined;
      }, 120_000, 200);
      // Debezium's producer sends to all topics at once: let every batch land.
      await sleep(3000);
      await admin.disconnect();
    } finally {
      await debezium.proc.stop('SIGTERM', 20_000);
      process.off('exit', killJvm);
    }
    const topics: DebeziumFixture['topics'] = [];
    for (const table of FIXTURE_TABLES) {
      const topic = `${prefix}.${schema}.${table}`;
      topics.push({ table, topic, ...(await readTopic(tooling.services.brokers, topic)) });
    }
    const schemas: Record<string, string> = {};
    if (converter === 'avro') {
      const ids = new Set<number>();
      for (const t of topics) for (const r of t.records) for (const b64 of [r.key, r.value]) if (b64) ids.add(Buffer.from(b64, 'base64').readUInt32BE(1));
      for (const sid of [...ids].sort((a, b) => a - b)) {
        const res = await fetch(`${tooling.services.registryUrl}/schemas/ids/${sid}`);
        if (!res.ok) throw new Error(`registry: schema ${sid}: ${res.status} ${await res.text()}`);
        schemas[String(sid)] = ((await res.json()) as { schema: string }).schema;
      }
    }
    const admin = benchKafka(tooling.services.brokers).admin();
    await admin.connect();
    const all = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    await admin.deleteTopics({ topics: all, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    return {
      about: 'Records published by Debezium for tables.sql + changes.sql; regenerate with `node bench/tools/debezium-fixtures.ts` (see README.md here).',
      generated: new Date().toISOString().slice(0, 10),
      debezium: 'debezium-connector-postgres 3.7.0.Final',
      connect: 'Kafka Connect standalone 4.3.1',
      converter: converter === 'avro' ? 'io.apicurio.registry.utils.converter.AvroConverter 2.6.13.Final (as-confluent, contentId)' : 'org.apache.kafka.connect.json.JsonConverter (schemas.enable=true)',
      connector: { 'plugin.name': 'pgoutput', 'snapshot.mode': 'initial', 'publication.autocreate.mode': 'filtered', ...Object.fromEntries(overrides.map((l) => l.split('=') as [string, string])) },
      sourceSchema: schema,
      schemas,
      topics,
    };
  } finally {
    await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [schema]).catch(() => undefined);
    await db.query(`drop publication if exists ${ident(schema)}`).catch(() => undefined);
    await db.query(`drop schema if exists ${ident(schema)} cascade`).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : ['json', 'avro']) as Converter[];
  for (const c of wanted) if (c !== 'json' && c !== 'avro') throw new Error(`unknown converter ${c}: json or avro`);
  const services = readServicesEnv();
  const jars = fetchJars();
  if (!jars.debeziumAvailable) throw new Error('the Connect/Debezium jars could not be fetched (see the output of bench/lib/fetch.sh above)');
  if (wanted.includes('avro') && !jars.apicurioConverter) throw new Error(`Apicurio's AvroConverter could not be fetched: ${jars.converterError ?? ''}`);
  const runDir = join(ROOT, '.local', 'debezium-fixtures', Date.now().toString(36));
  mkdirSync(runDir, { recursive: true });
  const tooling: Tooling = { services, runDir, connectLibs: jars.connectLibs, pluginPath: jars.pluginPath, debeziumAvailable: true, apicurioConverter: jars.apicurioConverter, walcastNodeFlags: [], walcastEnv: {}, pgstream: null };
  for (const converter of wanted) {
    // On a shared machine other sessions' fault tests restart PostgreSQL and Kafka: try again.
    for (let attempt = 1; ; attempt++) {
      const db = new pg.Client({ connectionString: services.pgUrl });
      db.on('error', () => undefined);
      try {
        await db.connect();
        const fixture = await capture(converter, tooling, db);
        const file = join(FIXTURES, `${converter}.json`);
        writeFileSync(file, JSON.stringify(fixture, null, 1) + '\n');
        log(`${converter}: ${fixture.topics.map((t) => `${t.table} ${t.records.length}`).join(', ')} records -> ${file} (logs in ${runDir})`);
        break;
      } catch (error) {
        if (attempt >= 3) throw error;
        log(`${converter}: attempt ${attempt} failed (${(error as Error).message.split('\n')[0]}); again in 15 s`);
        await sleep(15_000);
      } finally {
        await db.end().catch(() => undefined);
      }
    }
  }
}

if (import.meta.main) await main();
