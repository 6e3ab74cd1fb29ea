// Every PostgreSQL connection walcast opens comes from one factory (src/pg/connect.ts; the lint
// rules keep it the only one) that pins DateStyle, IntervalStyle and extra_float_digits, because
// the decoders parse values in exactly that text. A role's defaults or the URL's own options=
// must not change them, for a plain connection or a replication one; and a snapshot reads the
// same values as the stream even when the URL asks for other styles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { connectionConfig, plainConnection } from '../../src/pg/connect.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, uniqueSuffix } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
/** Styles the decoders do not read (or read with loss: extra_float_digits=0 rounds a double to 15 digits). */
const HOSTILE = '-c DateStyle=SQL,DMY -c IntervalStyle=sql_standard -c extra_float_digits=0';
const VALUES = `'2024-02-03', '2024-02-03 04:05:06.789', '1 year 2 mons -3 days 04:05:06.789', 0.1::float8 + 0.2::float8`;

const role = `walcast_pinned_${uniqueSuffix()}`;
const password = `pw-${Math.random().toString(36).slice(2)}`;
const it = capturedSchema('pinned', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.t (id int primary key, d date, ts timestamp, iv interval, f8 float8)`);
    await db.query(`insert into ${it.schema}.t values (1, ${VALUES})`);
    await db.query(`create role ${role} login replication password '${password}'`);
    // What a DBA may have set for the role: applied at login unless the session's options say otherwise.
    await db.query(`alter role ${role} set DateStyle = 'German, DMY'`);
    await db.query(`alter role ${role} set IntervalStyle = 'iso_8601'`);
    await db.query(`alter role ${role} set extra_float_digits = 0`);
  },
  teardown: async (db) => {
    await db.query(`drop role if exists ${role}`);
  },
});
const { db } = it;

function urlAs(user: string, secret: string, options: string): string {
  const url = new URL(services.pgUrl);
  url.username = user;
  url.password = secret;
  url.searchParams.set('options', options);
  return url.toString();
}

test('a plain and a replication connection keep the pinned settings against role defaults and the URL\'s options=, whose other settings apply', async () => {
  const connection = plainConnection(urlAs(role, password, `${HOSTILE} -c search_path=${it.schema}`));
  for (const replication of [undefined, 'database'] as const) {
    const client = new pg.Client(connectionConfig(connection, replication ? { replication } : {}));
    await client.connect();
    try {
      // A walsender on a database accepts simple SQL: the same query for both.
      const row = (await client.query(
        `select current_setting('DateStyle') as date_style, current_setting('IntervalStyle') as interval_style,
                current_setting('extra_float_digits') as float_digits, current_setting('search_path') as search_path,
                ${VALUES.split(', ').map((v, i) => `(${v})::${['date', 'timestamp', 'interval', 'float8'][i]}::text as v${i}`).join(', ')}`,
      )).rows[0] as Record<string, string>;
      assert.deepEqual(row, {
        date_style: 'ISO, DMY', // the output style pinned; the field order (input only) is the session's
        interval_style: 'postgres',
        float_digits: '3',
        search_path: it.schema,
        v0: '2024-02-03',
        v1: '2024-02-03 04:05:06.789',
        v2: '1 year 2 mons -3 days +04:05:06.789',
        v3: '0.30000000000000004',
      }, `replication: ${replication}`);
    } finally {
      await client.end();
    }
  }
});

test('walcast run with options= in WALCAST_PG_URL: the snapshot and the stream decode the same values', async (t) => {
  const walcast = new WalcastProcess(it.env({ WALCAST_PG_URL: urlAs(decodeURIComponent(new URL(services.pgUrl).username), decodeURIComponent(new URL(services.pgUrl).password), HOSTILE), WALCAST_SNAPSHOT_MODE: 'initial' }));
  t.after(() => walcast.stop('SIGKILL'));
  await walcast.waitForStreaming();
  await db.query(`insert into ${it.schema}.t values (2, ${VALUES})`);
  await walcast.waitForLog((l) => l.msg === 'snapshot complete', 30_000, 'snapshot complete');
  await it.waitForAck(db, await it.currentLsn(db), 30_000).catch((error: Error) => assert.fail(`${error.message}\n${walcast.output.slice(-3000)}`));
  const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2 }, [it.topic('t')]);
  const byOp = Object.fromEntries(records.map((r) => [(r.value as { op: string }).op, (r.value as { after: Record<string, unknown> }).after]));
  const expected = { d: '2024-02-03', ts: '2024-02-03T04:05:06.789000+00:00', iv: 'P1Y2M-3DT4H5M6.789S', f8: 0.30000000000000004 };
  assert.deepEqual(byOp, { r: { id: 1, ...expected }, c: { id: 2, ...expected } }, walcast.output.slice(-3000));
  assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
});
