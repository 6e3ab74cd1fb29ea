// Issue 14, item 3: the publication never breaks the source. With WALCAST_TABLES empty walcast
// publishes every table PostgreSQL would still let the application update and delete from, and
// leaves the others out (warning, metric, a WARN line of `walcast check`, each with the fix);
// tables created while it runs are added; a table that loses its key is dropped; partitioned
// tables publish through their root, one topic each, partitions added while walcast runs
// included. A publication walcast did not create is used as it is: walcast changes nothing in it
// and reports what it breaks. A private PostgreSQL: a publication of "every table" must not reach
// other tests' tables.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { freePort, startScratchPostgres, type ScratchPostgres } from '../helpers/scratch-postgres.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess, type LogLine } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const prefix = `pub${id.replace(/_/g, '')}`;
const slot = `pub_${id}`;

let server: ScratchPostgres;
let db: pg.Client;
let walcast: WalcastProcess | undefined;

before(async () => {
  server = await startScratchPostgres();
  db = new pg.Client({ connectionString: server.url });
  await db.connect();
  await db.query(`
    create table public.keyed (id int primary key, v text);
    create table public.nokey (v text);
    create table public.nothing (id int primary key, v text);
    alter table public.nothing replica identity nothing;
    create table public.full_t (v text);
    alter table public.full_t replica identity full;
    create table public.meas (id int, year int, v int, primary key (id, year)) partition by list (year);
    create table public.meas_2024 partition of public.meas for values in (2024);
    create table public.meas_nokey (id int, year int) partition by list (year);
    create table public.meas_nokey_2024 partition of public.meas_nokey for values in (2024);
    create unlogged table public.scratchpad (id int primary key);
    insert into public.nokey values ('before');
    insert into public.nothing values (1, 'before');
  `);
});

after(async () => {
  await walcast?.stop('SIGKILL', 1000).catch(() => undefined);
  await db?.end().catch(() => undefined);
  await server?.stop();
  const admin = new Kafka({ clientId: 'walcast-test', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

async function published(): Promise<string[]> {
  const r = await db.query<{ t: string }>("select schemaname || '.' || tablename as t from pg_publication_tables where pubname = $1 order by 1", [slot]);
  return r.rows.map((row) => row.t);
}

const warningAbout = (table: string, text: string) => (l: LogLine): boolean => l.level === 40 && l.table === table && l.msg.includes(text);

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    WALCAST_PG_URL: server.url,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: '',
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_HTTP_PORT: '0',
    WALCAST_PUBLICATION_REFRESH_INTERVAL_MS: '300',
    ...overrides,
  };
}

async function metric(port: number, name: string, connector: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = new RegExp(`^${name}\\{connector="${connector}"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

test('walcast check before the first start: the tables it would leave out are one WARN line with their fixes, and check passes', async () => {
  const p = new WalcastProcess(env(), ['check']);
  const { code } = await p.exited;
  assert.equal(code, 0, p.output);
  assert.doesNotMatch(p.output, /^FAIL /m, p.output);
  // The line and its fix, indented on the lines below it.
  const writes = /^WARN {2}postgres\.writes +(.*(?:\n {6}.*)*)/m.exec(p.output)?.[1];
  assert.ok(writes, `a WARN line for postgres.writes:\n${p.output}`);
  for (const part of [
    'left out of the publication',
    'ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL;',
    'ALTER TABLE "public"."nothing" REPLICA IDENTITY FULL;',
    'add a primary key to "public"."meas_nokey"',
    'ALTER TABLE "public"."scratchpad" SET LOGGED;',
  ]) {
    assert.ok(writes.includes(part), `the check names ${part}:\n${writes}`);
  }
  // It changed nothing: no publication, no slot.
  assert.equal((await db.query('select count(*)::int as n from pg_publication')).rows[0].n, 0);
  assert.equal((await db.query('select count(*)::int as n from pg_replication_slots')).rows[0].n, 0);
});

test('with WALCAST_TABLES empty: key-less tables stay writable, new tables are picked up, partitioned tables publish through their root', async () => {
  const httpPort = await freePort();
  walcast = new WalcastProcess(env({ WALCAST_HTTP_PORT: String(httpPort), WALCAST_HTTP_HOST: '127.0.0.1' }));
  const w = walcast;
  await w.waitForStreaming();

  // The publication lists exactly the tables that stay writable, through partition roots.
  assert.deepEqual(await published(), ['public.full_t', 'public.keyed', 'public.meas']);
  const pub = (await db.query("select pubviaroot, obj_description(oid, 'pg_publication') as comment from pg_publication where pubname = $1", [slot])).rows[0];
  assert.equal(pub.pubviaroot, true);
  assert.match(pub.comment, /^Managed by walcast/);
  // Each table left out is named with its fix.
  await w.waitForLog(warningAbout('public.nokey', 'ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL;'), 5000, 'the warning for nokey');
  await w.waitForLog(warningAbout('public.nothing', 'REPLICA IDENTITY NOTHING'), 5000, 'the warning for nothing');
  await w.waitForLog(warningAbout('public.meas_nokey', 'add a primary key to "public"."meas_nokey"'), 5000, 'the warning for meas_nokey');
  await w.waitForLog(warningAbout('public.scratchpad', 'SET LOGGED'), 5000, 'the warning for scratchpad');
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert.match(metrics, new RegExp(`^walcast_publication_excluded_tables\\{connector="${prefix}"\\} 4$`, 'm'));
  assert.match(metrics, new RegExp(`^walcast_publication_unwritable_tables\\{connector="${prefix}"\\} 0$`, 'm'));

  // The application's UPDATEs and DELETEs on key-less tables still succeed while walcast runs.
  assert.equal((await db.query("update public.nokey set v = 'after' where v = 'before'")).rowCount, 1);
  assert.equal((await db.query("update public.nothing set v = 'after' where id = 1")).rowCount, 1);
  assert.equal((await db.query('delete from public.nokey')).rowCount, 1);
  await db.query('insert into public.meas_nokey values (1, 2024)');
  assert.equal((await db.query('update public.meas_nokey set id = 2')).rowCount, 1);

  // A partitioned table: one topic named after the root, a partition added while walcast runs included.
  await db.query('insert into public.meas values (1, 2024, 10)');
  await db.query('create table public.meas_2025 partition of public.meas for values in (2025)');
  await db.query('insert into public.meas values (2, 2025, 20)');
  const meas = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2, timeoutMs: 30_000 }, [`${prefix}.public.meas`]);
  assert.deepEqual(meas.map((r) => r.value?.after), [{ id: 1, year: 2024, v: 10 }, { id: 2, year: 2025, v: 20 }], w.output.slice(-3000));
  assert.deepEqual(meas.map((r) => (r.value?.source as { table: string }).table), ['meas', 'meas']);

  // A table created later that the include list selects is added, and its changes arrive.
  await db.query('create table public.late (id int primary key)');
  await waitFor('the refresh to add public.late', async () => ((await published()).includes('public.late') ? true : undefined), 15_000, 100);
  await db.query('insert into public.late values (7)');
  const late = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [`${prefix}.public.late`]);
  assert.deepEqual(late.map((r) => r.value?.after), [{ id: 7 }]);
  // Rows written before a table joins are not streamed: walcast says so.
  await db.query('begin; create table public.late_rows (id int primary key); insert into public.late_rows values (1); commit');
  await w.waitForLog(warningAbout('public.late_rows', 'walcast snapshot public.late_rows'), 15_000, 'the warning for late_rows');
  // ...and an incremental snapshot of the added table publishes them.
  await waitFor('the snapshot of public.late_rows to be accepted', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/connectors/${prefix}/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'data-collections': ['public.late_rows'], type: 'incremental' }) });
    return res.status === 202 ? true : undefined;
  }, 15_000, 200);
  const lateRows = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [`${prefix}.public.late_rows`]);
  assert.deepEqual(lateRows.map((r) => [r.value?.op, r.value?.after]), [['r', { id: 1 }]]);

  // A key-less table created later is left out: the application can still update it.
  await db.query("create table public.late_nokey (v text); insert into public.late_nokey values ('x')");
  await w.waitForLog(warningAbout('public.late_nokey', 'table left out of the publication'), 15_000, 'the warning for late_nokey');
  assert.equal((await db.query("update public.late_nokey set v = 'y'")).rowCount, 1);

  // A published table that loses its key is dropped from the publication.
  await db.query('alter table public.keyed drop constraint keyed_pkey');
  await waitFor('the refresh to drop public.keyed', async () => ((await published()).includes('public.keyed') ? undefined : true), 15_000, 100);
  await db.query("insert into public.keyed values (1, 'a')");
  assert.equal((await db.query("update public.keyed set v = 'b'")).rowCount, 1);

  // No topic per partition.
  const admin = new Kafka({ clientId: 'walcast-test', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`)).sort();
  await admin.disconnect();
  assert.deepEqual(topics, [`${prefix}.public.late`, `${prefix}.public.late_rows`, `${prefix}.public.meas`]);

  const stopped = await w.stop();
  assert.equal(stopped.code, 0, w.output.slice(-3000));
});

test("a publication walcast did not create is used as it is: nothing added, dropped or reset; what it breaks is reported", async () => {
  const theirs = `${slot}_theirs`;
  const theirPrefix = `${prefix}t`;
  await db.query(`
    create table public.their_keyed (id int primary key, v text);
    create table public.their_log (at int, line text);
    create table public.their_missing (id int primary key);
    create table public.their_meas (id int, year int, primary key (id, year)) partition by list (year);
    create table public.their_meas_2024 partition of public.their_meas for values in (2024);
    insert into public.their_log values (1, 'before');
    create publication ${theirs} for table public.their_keyed, public.their_log, public.their_meas;
  `);
  const listing = async (): Promise<string> => {
    const r = await db.query<{ l: string }>(
      `select p.pubviaroot::text || ' ' || coalesce(obj_description(p.oid, 'pg_publication'), '-') || ' ' ||
              coalesce((select string_agg(schemaname || '.' || tablename, ',' order by schemaname collate "C", tablename collate "C") from pg_publication_tables t where t.pubname = p.pubname), '') as l
         from pg_publication p where p.pubname = $1`,
      [theirs],
    );
    return r.rows[0]!.l;
  };
  const before = await listing();
  assert.equal(before, 'false - public.their_keyed,public.their_log,public.their_meas_2024');

  const httpPort = await freePort();
  const w = new WalcastProcess(env({
    WALCAST_SLOT: theirs,
    WALCAST_PUBLICATION: theirs,
    WALCAST_TABLES: 'public.their_*',
    WALCAST_TOPIC_PREFIX: theirPrefix,
    WALCAST_OFFSETS_TOPIC: `${theirPrefix}-offsets`,
    WALCAST_HTTP_PORT: String(httpPort),
    WALCAST_HTTP_HOST: '127.0.0.1',
  }));
  walcast = w;
  await w.waitForStreaming();

  // Reported at start: the table it makes unwritable (with the fix), the selected table it does not
  // publish, and the partitioned table it publishes partition by partition.
  await w.waitForLog(warningAbout('public.their_log', 'ALTER TABLE "public"."their_log" REPLICA IDENTITY FULL;'), 5000, 'the warning for their_log');
  const startWarning = await w.waitForLog((l) => l.level === 40 && l.check === 'postgres.publication', 5000, 'the publication warning');
  for (const part of ['not created by walcast, used as it is', 'does not publish public.their_missing, which', 'public.their_meas partition by partition', `Fix: ALTER PUBLICATION "${theirs}" ADD TABLE "public"."their_missing"; ALTER PUBLICATION "${theirs}" SET (publish_via_partition_root = true);`]) {
    assert.ok(startWarning.msg.includes(part), `the warning names ${part}: ${startWarning.msg}`);
  }
  assert.equal(await metric(httpPort, 'walcast_publication_unwritable_tables', theirPrefix), 1);
  assert.equal(await metric(httpPort, 'walcast_publication_excluded_tables', theirPrefix), 0);
  // The report is true: PostgreSQL refuses the application's UPDATE of that table.
  await assert.rejects(db.query("update public.their_log set line = 'after'"), /does not have a replica identity and publishes updates/);

  // The publication's changes flow, partitions under their own names (as it publishes them).
  await db.query("insert into public.their_keyed values (1, 'a')");
  await db.query('insert into public.their_meas values (1, 2024)');
  const records = await readTopics(
    { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2, timeoutMs: 30_000 },
    [`${theirPrefix}.public.their_keyed`, `${theirPrefix}.public.their_meas_2024`],
  );
  assert.deepEqual(records.map((r) => [r.topic, r.value?.after]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))), [
    [`${theirPrefix}.public.their_keyed`, { id: 1, v: 'a' }],
    [`${theirPrefix}.public.their_meas_2024`, { id: 1, year: 2024 }],
  ]);

  // The administrator fixes the table; a refresh sees it (the metric falls) and still changes nothing.
  await db.query('alter table public.their_log replica identity full');
  await db.query('create table public.their_later (id int primary key)');
  await waitFor('a refresh to see the fix', async () => ((await metric(httpPort, 'walcast_publication_unwritable_tables', theirPrefix)) === 0 ? true : undefined), 15_000, 100);
  assert.equal((await db.query("update public.their_log set line = 'after'")).rowCount, 1);
  assert.equal(await listing(), before, 'the publication is as its owner made it');

  const stopped = await w.stop();
  assert.equal(stopped.code, 0, w.output.slice(-3000));

  // The fix the warning gives runs as printed (its owner's decision): every selected table, through its root.
  await db.query(startWarning.msg.slice(startWarning.msg.indexOf('Fix: ') + 'Fix: '.length));
  assert.equal(await listing(), 'true - public.their_keyed,public.their_log,public.their_meas,public.their_missing');
});
