// Issue 14, item 5: `walcast check` passes on the healthy services and fails precisely (that line,
// and the checks that depend on it, nothing else) on wal_level=replica (a throwaway cluster), on a
// role without REPLICATION, on a wrong Kafka password (the services' SASL_SSL listener), on Kafka it
// cannot reach, and on a publication of someone else that makes a table unwritable. `walcast setup
// --print` prints SQL that, run by an administrator, gives a least-privilege role everything
// `walcast check` and `walcast run` need.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { freePort, startScratchPostgres, type ScratchPostgres } from '../helpers/scratch-postgres.ts';
import { loadSecuredServices, loadServices, uniqueSuffix } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const exec = promisify(execFile);
const services = loadServices();
const secured = loadSecuredServices();
const id = uniqueSuffix();
const schema = `chk_${id}`;
const noReplRole = `chk_norepl_${id}`;
// Distinctive: walcast masks a secret wherever it appears, even inside a role name.
const noReplPassword = `pw-${id.replace(/_/g, '')}-x7`;
const prefix = `chk${id.replace(/_/g, '')}`;
const ALL_CHECKS = [
  'postgres.connect', 'postgres.wal_level', 'postgres.replication', 'postgres.tables', 'postgres.select', 'postgres.publication',
  'postgres.writes', 'postgres.slot', 'postgres.senders', 'kafka.connect', 'kafka.transactions', 'kafka.offsets_topic',
  'registry.connect', 'registry.compatibility',
];

const admin = new pg.Client({ connectionString: services.pgUrl });
let replica: ScratchPostgres;
let logical: ScratchPostgres;
const sqlDir = mkdtempSync(join(tmpdir(), 'walcast-setup-sql-'));

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    WALCAST_PG_URL: services.pgUrl,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: schema,
    WALCAST_PUBLICATION: schema,
    // One table: the cases run concurrently, and one adds a key-less table to the schema.
    WALCAST_TABLES: `${schema}.orders`,
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_HTTP_PORT: '0',
    ...overrides,
  };
}

interface CheckRun {
  code: number | null;
  output: string;
  lines: Map<string, { status: string; text: string }>;
}

async function check(overrides: Record<string, string> = {}): Promise<CheckRun> {
  const p = new WalcastProcess(env(overrides), ['check']);
  const { code } = await p.exited;
  const lines = new Map<string, { status: string; text: string }>();
  let current: { status: string; text: string } | null = null;
  for (const row of p.output.split('\n')) {
    const match = /^(PASS|WARN|FAIL|SKIP) {2}(\S+) +(.*)$/.exec(row);
    if (match) lines.set(match[2]!, (current = { status: match[1]!, text: match[3]! }));
    // A line's fix follows it, indented.
    else if (current && row.startsWith('      ')) current.text += `\n${row.trim()}`;
    else current = null;
  }
  return { code, output: p.output, lines };
}

const having = (run: CheckRun, status: string): string[] => [...run.lines].filter(([, l]) => l.status === status).map(([name]) => name);

before(async () => {
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.query(`create table ${schema}.orders (id int primary key, note text)`);
  await admin.query(`create role ${noReplRole} login password '${noReplPassword}'`);
  await admin.query(`grant usage on schema ${schema} to ${noReplRole}`);
  await admin.query(`grant select on all tables in schema ${schema} to ${noReplRole}`);
  [replica, logical] = await Promise.all([startScratchPostgres({ wal_level: 'replica' }), startScratchPostgres()]);
});

after(async () => {
  await admin.query(`drop publication if exists ${schema}`).catch(() => undefined);
  await admin.query(`drop publication if exists ${schema}_theirs`).catch(() => undefined);
  await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
  await admin.query(`drop owned by ${noReplRole} cascade`).catch(() => undefined);
  await admin.query(`drop role if exists ${noReplRole}`).catch(() => undefined);
  await admin.end();
  await replica?.stop();
  await logical?.stop();
  rmSync(sqlDir, { recursive: true, force: true });
});

describe('walcast check', { concurrency: true }, () => {
  test('healthy services: every check passes, exit 0', async () => {
    const run = await check();
    assert.equal(run.code, 0, run.output);
    assert.deepEqual([...run.lines.keys()], ALL_CHECKS, run.output);
    assert.deepEqual(having(run, 'FAIL'), [], run.output);
    assert.deepEqual(having(run, 'SKIP'), [], run.output);
    assert.match(run.output, /\n14 passed, 0 warning\(s\), 0 failed, 0 not checked\n/);
  });

  test('wal_level=replica: exactly that check fails, with the ALTER SYSTEM fix', async () => {
    const db = new pg.Client({ connectionString: replica.url });
    await db.connect();
    await db.query('create table public.orders (id int primary key)');
    await db.end();
    const run = await check({ WALCAST_PG_URL: replica.url, WALCAST_TABLES: 'public.orders' });
    assert.equal(run.code, 1, run.output);
    assert.deepEqual(having(run, 'FAIL'), ['postgres.wal_level'], run.output);
    assert.deepEqual(having(run, 'SKIP'), []);
    assert.match(run.lines.get('postgres.wal_level')!.text, /wal_level=replica[\s\S]*ALTER SYSTEM SET wal_level = logical;/);
  });

  test('a role without REPLICATION: exactly that check fails, with the ALTER ROLE fix', async () => {
    await admin.query(`create publication ${schema} for table ${schema}.orders`);
    const url = new URL(services.pgUrl);
    url.username = noReplRole;
    url.password = noReplPassword;
    const run = await check({ WALCAST_PG_URL: url.toString() });
    assert.equal(run.code, 1, run.output);
    assert.deepEqual(having(run, 'FAIL'), ['postgres.replication'], run.output);
    assert.match(run.lines.get('postgres.replication')!.text, new RegExp(`ALTER ROLE "${noReplRole}" WITH REPLICATION;`));
    assert.ok(!run.output.includes(noReplPassword), 'no password in the output');
  });

  test('a wrong Kafka password (SASL_SSL): exactly the connection fails, naming the SASL settings; the right one passes every Kafka check', async () => {
    const sasl = (password: string): Record<string, string> => ({
      WALCAST_KAFKA_BROKERS: secured.kafkaSaslSslBrokers.join(','),
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      WALCAST_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      WALCAST_KAFKA_SASL_USERNAME: secured.kafkaSaslUsername,
      WALCAST_KAFKA_SASL_PASSWORD: password,
      WALCAST_KAFKA_SSL_CA_LOCATION: secured.caFile,
    });
    const wrongPassword = `wrong-${id}`;
    const run = await check(sasl(wrongPassword));
    assert.equal(run.code, 1, run.output);
    assert.deepEqual(having(run, 'FAIL'), ['kafka.connect'], run.output);
    assert.deepEqual(having(run, 'SKIP'), ['kafka.transactions', 'kafka.offsets_topic']);
    assert.match(run.lines.get('kafka.connect')!.text, /SASL credentials: check WALCAST_KAFKA_SASL_USERNAME, WALCAST_KAFKA_SASL_PASSWORD/);
    assert.ok(!run.output.includes(wrongPassword), 'the password is not printed');
    const right = await check(sasl(secured.kafkaSaslPassword));
    assert.equal(right.code, 0, right.output);
    assert.deepEqual([...right.lines].filter(([name]) => name.startsWith('kafka.')).map(([name, l]) => [name, l.status]), [['kafka.connect', 'PASS'], ['kafka.transactions', 'PASS'], ['kafka.offsets_topic', 'PASS']]);
  });

  test('Kafka not reachable: the connection fails, the Kafka checks that need it are skipped', async () => {
    const port = await freePort();
    const run = await check({ WALCAST_KAFKA_BROKERS: `127.0.0.1:${port}` });
    assert.equal(run.code, 1, run.output);
    assert.deepEqual(having(run, 'FAIL'), ['kafka.connect'], run.output);
    assert.deepEqual(having(run, 'SKIP'), ['kafka.transactions', 'kafka.offsets_topic']);
    assert.match(run.lines.get('kafka.connect')!.text, new RegExp(`127\\.0\\.0\\.1:${port}[\\s\\S]*Fix: WALCAST_KAFKA_BROKERS`));
  });

  test("someone else's publication that makes a table unwritable: the writes check fails with the fix", async () => {
    await admin.query(`create table ${schema}.log (at timestamptz, line text)`);
    await admin.query(`create publication ${schema}_theirs for table ${schema}.orders, ${schema}.log`);
    const run = await check({ WALCAST_PUBLICATION: `${schema}_theirs` });
    assert.equal(run.code, 1, run.output);
    assert.deepEqual(having(run, 'FAIL'), ['postgres.writes'], run.output);
    assert.match(run.lines.get('postgres.writes')!.text, new RegExp(`makes ${schema}\\.log unwritable[\\s\\S]*ALTER TABLE "${schema}"\\."log" REPLICA IDENTITY FULL;`));
  });
});

test('setup --print: the SQL gives a least-privilege role what check and run need', async () => {
  const db = new pg.Client({ connectionString: logical.url });
  await db.connect();
  try {
    await db.query('create schema shop');
    await db.query('create table shop.orders (id int primary key, total int)');
    await db.query('create table shop.audit (at text, what text)');
    await db.query('create table shop.meas (id int, year int, primary key (id, year)) partition by list (year)');
    await db.query('create table shop.meas_2024 partition of shop.meas for values in (2024)');
    const setupEnv = env({ WALCAST_PG_URL: logical.url, WALCAST_TABLES: 'shop.*', WALCAST_SLOT: 'setup_test', WALCAST_PUBLICATION: 'walcast_pub' });
    const printer = new WalcastProcess(setupEnv, ['setup', '--print', '--role', 'walcast_app']);
    const { code } = await printer.exited;
    assert.equal(code, 0, printer.output);
    const sql = printer.output;
    assert.match(sql, /CREATE ROLE "walcast_app" LOGIN REPLICATION PASSWORD :'walcast_password';/);
    assert.match(sql, /GRANT SELECT ON "shop"."audit", "shop"."meas", "shop"."orders" TO "walcast_app";/);
    assert.match(sql, /ALTER TABLE "shop"."audit" REPLICA IDENTITY FULL;/);
    assert.match(sql, /CREATE PUBLICATION "walcast_pub" FOR TABLE "shop"."audit", "shop"."meas", "shop"."orders" WITH \(publish_via_partition_root = true\);/);
    assert.ok(!/superuser/i.test(sql.split('\n').filter((l) => !l.startsWith('--')).join('\n')), 'grants nothing beyond REPLICATION and SELECT');

    // An administrator runs it as printed.
    const file = join(sqlDir, 'setup.sql');
    writeFileSync(file, sql);
    await exec('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'walcast_password=app-secret', '-d', logical.url, '-f', file]);

    const asApp = { ...setupEnv, WALCAST_PG_URL: logical.urlAs('walcast_app') };
    const run = await check(asApp);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual([...having(run, 'WARN'), ...having(run, 'FAIL')], [], run.output);
    assert.match(run.lines.get('postgres.replication')!.text, /has REPLICATION/);

    // And walcast runs as that role: its initial snapshot reads the existing row, the key-less
    // table stays writable and is captured.
    await db.query('insert into shop.orders values (1, 100)');
    const walcast = new WalcastProcess({ ...asApp, WALCAST_SNAPSHOT_MODE: 'initial' });
    try {
      await walcast.waitForStreaming();
      const snapshot = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [`${prefix}.shop.orders`]);
      assert.deepEqual(snapshot.map((r) => [r.value?.op, r.value?.after]), [['r', { id: 1, total: 100 }]]);
      await db.query("insert into shop.audit values ('now', 'x')");
      await db.query("update shop.audit set what = 'y'");
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 2, timeoutMs: 30_000 }, [`${prefix}.shop.audit`]);
      assert.deepEqual(records.map((r) => [r.value?.op, r.value?.after]), [['c', { at: 'now', what: 'x' }], ['u', { at: 'now', what: 'y' }]]);
      const stopped = await walcast.stop();
      assert.equal(stopped.code, 0, walcast.output.slice(-3000));
    } finally {
      await walcast.stop('SIGKILL', 1000);
    }
  } finally {
    await db.end();
  }
});
