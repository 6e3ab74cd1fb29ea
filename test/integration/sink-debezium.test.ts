// walcast's sink on Debezium's own topics: the records that the real Debezium 3.7.0 PostgreSQL
// connector (Kafka Connect 4.3.1, JsonConverter with schemas and Apicurio's AvroConverter, Debezium's
// default decimal.handling.mode=precise) published for test/fixtures/debezium/tables.sql and
// changes.sql, captured byte for byte by bench/tools/debezium-fixtures.ts, are replayed into fresh
// topics (Avro schemas registered again, the ids in the 5-byte framing rewritten) and applied by
// `walcast sink` into tables it creates. The same SQL recreates the source rows here, and the
// target equals them row by row: snapshot reads, inserts, updates, deletes, key changes, unchanged
// TOAST values of text, jsonb, bytea and arrays, and some thirty column types at their edges.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import pg from 'pg';
import { FIXTURE_TABLES, fixtureSql, readFixture, type DebeziumFixture, type FixtureConverter } from '../fixtures/debezium/fixture.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const kafka = new Kafka({ brokers: services.kafkaBrokers, clientId: 'sink-debezium-test', logLevel: logLevel.NOTHING });
const db = new pg.Client({ connectionString: services.pgUrl });
const PLACEHOLDER = Buffer.from('__debezium_unavailable_value');
const created: { schemas: string[]; topics: string[]; subjects: string[] } = { schemas: [], topics: [], subjects: [] };

before(async () => {
  await db.connect();
});

after(async () => {
  for (const s of created.schemas) await db.query(`drop schema if exists "${s}" cascade`).catch(() => undefined);
  await db.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: created.topics, timeout: 30_000 }).catch(() => undefined);
  await admin.disconnect();
  for (const subject of created.subjects) await fetch(`${services.schemaRegistryUrl}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
});

/** Registers the fixture's writer schemas under the new topics' subjects; old id -> new id. */
async function registerSchemas(fixture: DebeziumFixture, topicOf: (table: string) => string): Promise<Map<number, number>> {
  const ids = new Map<number, number>();
  for (const t of fixture.topics) {
    for (const part of ['key', 'value'] as const) {
      const used = new Set<number>();
      for (const r of t.records) {
        const b64 = r[part];
        if (b64) used.add(Buffer.from(b64, 'base64').readUInt32BE(1));
      }
      const subject = `${topicOf(t.table)}-${part}`;
      for (const old of [...used].sort((a, b) => a - b)) {
        const schema = fixture.schemas[String(old)];
        assert.ok(schema, `the fixture has no schema ${old}`);
        const res = await fetch(`${services.schemaRegistryUrl}/subjects/${subject}/versions`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
          body: JSON.stringify({ schema }),
        });
        const body = await res.text();
        assert.equal(res.status, 200, `registering ${subject}: ${body}`);
        ids.set(old, (JSON.parse(body) as { id: number }).id);
        if (!created.subjects.includes(subject)) created.subjects.push(subject);
      }
    }
  }
  return ids;
}

/** The record's bytes, with the schema id of the Confluent framing replaced for Avro. */
function replayBytes(b64: string | null, ids: Map<number, number> | null): Buffer | null {
  if (b64 === null) return null;
  const bytes = Buffer.from(b64, 'base64');
  if (ids && bytes[0] === 0 && bytes.length >= 5) bytes.writeUInt32BE(ids.get(bytes.readUInt32BE(1))!, 1);
  return bytes;
}

/** Rows of `table` as jsonb text, sorted; `columns` casts each column to the source's type first. */
async function rowsAs(table: string, columns: Array<{ name: string; type: string }>): Promise<string[]> {
  const list = columns.map((c) => `t."${c.name}"::${c.type} as "${c.name}"`).join(', ');
  const { rows } = await db.query<{ r: string }>(`select to_jsonb(x)::text as r from (select ${list} from ${table} t) x`);
  return rows.map((r) => r.r).sort();
}

async function columnsOf(schema: string, table: string): Promise<Array<{ name: string; type: string }>> {
  const { rows } = await db.query<{ name: string; type: string }>(
    `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
    [`"${schema}"."${table}"`],
  );
  return rows;
}

async function replayAndApply(converter: FixtureConverter): Promise<{ source: string; target: string; fixture: DebeziumFixture }> {
  const fixture = readFixture(converter);
  const source = `it_sinkdbz_${converter}_${id}`;
  const target = `${source}_target`;
  const prefix = `itsinkdbz${converter}${id.replace(/_/g, '')}`;
  const topicOf = (table: string): string => `${prefix}.${table}`;
  created.schemas.push(source, target);

  // The source rows, as Debezium saw them after the changes.
  await db.query(`create schema "${source}"`);
  await db.query(`create schema "${target}"`);
  await db.query(fixtureSql('tables.sql', source));
  await db.query(fixtureSql('changes.sql', source));

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: fixture.topics.map((t) => ({ topic: topicOf(t.table), numPartitions: t.partitions, replicationFactor: 1 })) });
  created.topics.push(...fixture.topics.map((t) => topicOf(t.table)));
  const ids = converter === 'avro' ? await registerSchemas(fixture, topicOf) : null;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (const t of fixture.topics) {
    await producer.send({
      topic: topicOf(t.table),
      acks: -1,
      messages: t.records.map((r) => ({
        partition: r.partition,
        key: replayBytes(r.key, ids),
        value: replayBytes(r.value, ids),
        headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v, 'base64')])) as IHeaders,
      })),
    });
  }
  await producer.disconnect();
  const ends = new Map<string, Array<{ partition: number; high: string }>>();
  for (const t of fixture.topics) ends.set(topicOf(t.table), await admin.fetchTopicOffsets(topicOf(t.table)));
  await admin.disconnect();

  const offsetsTable = `${target}.walcast_sink_offsets`;
  const sink = new WalcastProcess(
    {
      WALCAST_SINK_PG_URL: services.pgUrl,
      WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
      WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      WALCAST_SINK_TOPICS: fixture.topics.map((t) => topicOf(t.table)).join(','),
      WALCAST_SINK_GROUP_ID: `${prefix}-sink`,
      WALCAST_SINK_TABLE_NAME_FORMAT: `${target}.\${source.table}`,
      WALCAST_SINK_OFFSETS_TABLE: offsetsTable,
      WALCAST_HTTP_PORT: '0',
      WALCAST_STARTUP_TIMEOUT_MS: '60000',
      WALCAST_LOG_LEVEL: process.env.SINK_LOG ?? 'info',
    },
    ['sink'],
  );
  try {
    await sink.waitForLog((l) => l.msg === 'sink running', 60_000, '"sink running"');
    const exited = sink.exited.then(({ code }) => {
      throw new Error(`the sink exited with code ${code}`);
    });
    const applied = waitFor('the sink to apply every record', async () => {
      const { rows } = await db.query<{ topic: string; partition: number; next: string | null }>(`select topic, partition, next_offset::text as next from ${offsetsTable}`).catch(() => ({ rows: [] }));
      for (const [topic, partitions] of ends) {
        for (const p of partitions) {
          const row = rows.find((r) => r.topic === topic && r.partition === p.partition);
          if (!row?.next || BigInt(row.next) < BigInt(p.high)) return undefined;
        }
      }
      return true;
    }, 90_000, 100);
    applied.catch(() => undefined);
    exited.catch(() => undefined);
    await Promise.race([applied, exited]);
  } catch (error) {
    await sink.stop();
    throw new Error(`${(error as Error).message}\nsink output:\n${sink.output.slice(-3000)}`);
  }
  const stopped = await sink.stop();
  assert.equal(stopped.code, 0, sink.output.slice(-3000));
  return { source, target, fixture };
}

/** The target equals the source row by row: each target column read as the source column's type. */
async function assertTablesEqual(source: string, target: string): Promise<void> {
  for (const table of FIXTURE_TABLES) {
    const columns = await columnsOf(source, table);
    const expected = await rowsAs(`"${source}"."${table}"`, columns);
    const actual = await rowsAs(`"${target}"."${table}"`, columns);
    assert.ok(expected.length > 0);
    assert.deepEqual(actual, expected, `${table}: the target differs from the source`);
  }
}

for (const converter of ['json', 'avro'] as const) {
  test(`Debezium 3.7.0's topics (${converter === 'json' ? 'JsonConverter with schemas' : 'Avro through the registry'}) applied by the sink equal the source tables`, async () => {
    const { source, target, fixture } = await replayAndApply(converter);
    // The fixture holds what the test is about: unchanged TOAST placeholders and tombstones.
    const records = fixture.topics.flatMap((t) => t.records);
    assert.ok(records.some((r) => r.value !== null && Buffer.from(r.value, 'base64').includes(PLACEHOLDER)), 'no unchanged-TOAST placeholder in the fixture');
    assert.ok(records.some((r) => r.value === null), 'no tombstone in the fixture');

    await assertTablesEqual(source, target);

    // Tables created from Debezium's schemas get the types its logical names stand for.
    const types = Object.fromEntries((await columnsOf(target, 'types')).map((c) => [c.name, c.type]));
    assert.equal(types.tstz, 'timestamp with time zone');
    assert.equal(types.ts, 'timestamp without time zone');
    assert.equal(types.amount, 'numeric(12,2)');
    assert.equal(types.anynum, 'numeric');
    assert.equal(types.uid, 'uuid');
    assert.equal(types.docb, 'jsonb');
    assert.equal(types.raw, 'bytea');
    assert.equal(types.ints, 'integer[]');
    assert.equal(types.d, 'date');
    const pk = await db.query<{ a: string }>(
      `select string_agg(a.attname, ',' order by a.attnum) as a from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) where i.indrelid = $1::regclass and i.indisprimary`,
      [`"${target}".pairs`],
    );
    assert.equal(pk.rows[0]?.a, 'region,n');
  });
}

test('the JSON fixture covers snapshot reads, inserts, updates and deletes', () => {
  const ops = new Set<string>();
  for (const t of readFixture('json').topics) {
    for (const r of t.records) if (r.value) ops.add((JSON.parse(Buffer.from(r.value, 'base64').toString('utf8')) as { payload: { op: string } }).payload.op);
  }
  assert.deepEqual([...ops].sort(), ['c', 'd', 'r', 'u']);
});
