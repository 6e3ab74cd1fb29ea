// Issue 6, items 4 and 5: the bad-configuration matrix and the secrets check, against the real
// services. Every failure case runs the real CLI and asserts the documented exit code
// (docs/operations.md), a message that names the cause and the variable or the fix, an exit
// within a bounded time, and that nothing was left behind: no slot, no publication (looked up by
// the unique names each case passes) and no Kafka topic when the failure comes before Kafka is used.
// The secrets cases run with known, distinctive passwords and grep every byte walcast wrote, and
// every answer of its management API, for them. Every secret setting at every log level, against
// the secured side of the local services (issue 13): secrets.test.ts.
//
// The cases are independent (unique slot, publication, topic prefix and role per case) and run
// concurrently; the slowest one bounds the file's run time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess, type LogLine } from '../helpers/walcast-process.ts';

const exec = promisify(execFile);
const services = loadServices();
const id = uniqueSuffix(); // [a-z0-9_]: usable in slot names
const tag = `bc_${id}`;
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Startup timeout for the "unreachable" cases, and the slack an exit may take beyond it. */
const STARTUP_TIMEOUT_MS = 3000;
/** Cases that stream: the tight deadline above is for the cases that must give up; these must not. */
const STREAMING = { WALCAST_STARTUP_TIMEOUT_MS: '60000' };
const STARTUP_SLACK_MS = 7000;
/** A failure that needs no retrying (bad setting, refused password, missing privilege). */
const IMMEDIATE_MS = 10_000;
/** Kill a walcast that has not exited by then (the assertion on its exit time fails first). */
const HARD_KILL_MS = 45_000;

// Distinctive secrets: the 16 hex digits appear in any rendering of them (raw, %-encoded).
const hex = (): string => randomBytes(8).toString('hex');
const pgSecretCore = hex();
const pgSecret = `Pw+${pgSecretCore}/x`;
const wrongSecretCore = hex();
const wrongSecret = `Wrong+${wrongSecretCore}/x`;
const regSecretCore = hex();
const regSecret = `Reg+${regSecretCore}/x`;
const regUser = 'walcast_registry_user';
const secrets = [pgSecretCore, wrongSecretCore, regSecretCore, Buffer.from(`${regUser}:${regSecret}`).toString('base64')];

// Objects of this file, all carrying `id`.
const schema = `${tag}`; // a plain schema with one table, for the happy-path parts of failure cases
const secretRole = `${tag}_secret`; // LOGIN REPLICATION, CREATE on the database, owns secretSchema
const secretSchema = `${tag}_sec`;
const noReplRole = `${tag}_norepl`; // LOGIN, no REPLICATION
const noReplSecret = `NoRepl${hex()}`;
const oddSchema = `Odd Schema ${id}`;
const oddTable = 'we"ird.Tab le ü';
const oddPublication = `${tag} "pub". ü`;

const admin = new pg.Client({ connectionString: services.pgUrl });
const kafka = new Kafka({ clientId: `walcast-${tag}`, brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
const kafkaAdmin: Admin = kafka.admin();

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function withUserinfo(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password; // %-encodes what a URL cannot hold
  return u.toString().replace(/\/+$/, '');
}

function pgUrlAs(user: string, password: string, overrides: { port?: number } = {}): string {
  const u = new URL(withUserinfo(services.pgUrl, user, password));
  if (overrides.port !== undefined) u.port = String(overrides.port);
  return u.toString();
}

/** A loopback port nothing listens on (bound and released: connections to it are refused). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const slotOf = (c: string): string => `${tag}_${c}`;
const prefixOf = (c: string): string => `${tag.replaceAll('_', '')}${c.replaceAll('_', '')}`;

/** A valid configuration for case `c`; `overrides` replaces entries, `undefined` removes one. */
function envFor(c: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    WALCAST_PG_URL: services.pgUrl,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: slotOf(c),
    WALCAST_PUBLICATION: slotOf(c),
    WALCAST_TABLES: `${schema}.accounts`,
    WALCAST_TOPIC_PREFIX: prefixOf(c),
    WALCAST_OFFSETS_TOPIC: `${prefixOf(c)}-offsets`,
    WALCAST_SNAPSHOT_MODE: 'no_data',
    WALCAST_HTTP_PORT: '0',
    WALCAST_STARTUP_TIMEOUT_MS: String(STARTUP_TIMEOUT_MS),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall time from spawn to exit. */
  ms: number;
  /** From walcast's own "walcast starting" line (its clock) to its exit: independent of how long Node took to load. */
  sinceStartMs: number | null;
  output: string;
  lines: LogLine[];
  /** The `fatal` log line's message, or (configuration errors) everything on stderr/stdout. */
  message: string;
}

/**
 * At most this many walcast processes at once: a dozen Node processes loading TypeScript together
 * on a 2-core machine take several seconds each to start, which would blur the exit-time bounds.
 */
const LANES = 5;
let busyLanes = 0;
const waitingForLane: Array<() => void> = [];
async function inLane<T>(fn: () => Promise<T>): Promise<T> {
  if (busyLanes >= LANES) await new Promise<void>((resolve) => waitingForLane.push(resolve));
  else busyLanes += 1;
  try {
    return await fn();
  } finally {
    const next = waitingForLane.shift();
    if (next) next();
    else busyLanes -= 1;
  }
}

function runToExit(env: Record<string, string>, during?: (p: WalcastProcess) => Promise<void>): Promise<Run> {
  return inLane(async () => {
    const t0 = Date.now();
    const p = new WalcastProcess(env);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), HARD_KILL_MS);
    const watching = during?.(p);
    const { code, signal } = await p.exited;
    const exitedAt = Date.now();
    clearTimeout(timer);
    await watching;
    const starting = p.lines.find((l) => l.msg === 'walcast starting');
    const fatal = p.lines.find((l) => l.level === 60);
    return {
      code,
      signal,
      ms: exitedAt - t0,
      sinceStartMs: typeof starting?.time === 'string' ? exitedAt - Date.parse(starting.time) : null,
      output: p.output,
      lines: p.lines,
      message: fatal?.msg ?? p.output,
    };
  });
}

function describeRun(r: Run): string {
  return `exit ${r.code} (signal ${r.signal}) after ${r.ms} ms (${r.sinceStartMs} ms after "walcast starting"); output:\n${r.output.slice(-3000)}`;
}

/** Exit code, and exit within `withinMs` of walcast starting (of the spawn, when it never logged). */
function assertExit(r: Run, code: number, withinMs: number): void {
  assert.equal(r.code, code, `expected exit ${code}: ${describeRun(r)}`);
  const elapsed = r.sinceStartMs ?? r.ms;
  assert.ok(elapsed <= withinMs, `expected an exit within ${withinMs} ms, took ${elapsed} ms: ${describeRun(r)}`);
}

/** Checks every expectation and reports all that fail at once (one walcast run can break several). */
function assertAll(checks: Array<[boolean, string]>, r: Run): void {
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  assert.deepEqual(failed, [], `${failed.length} expectation(s) failed:\n  - ${failed.join('\n  - ')}\n${describeRun(r)}`);
}

function assertNoSecret(where: string, text: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}...) leaked into ${where}:\n${text.slice(0, 3000)}`);
}

async function slotAndPublication(client: pg.Client, slot: string, publication: string): Promise<{ slots: number; publications: number }> {
  const slots = await client.query('select 1 from pg_replication_slots where slot_name = $1', [slot]);
  const publications = await client.query('select 1 from pg_publication where pubname = $1', [publication]);
  return { slots: slots.rowCount ?? 0, publications: publications.rowCount ?? 0 };
}

/** Nothing half-created: no slot, no publication, and (unless Kafka was legitimately used) no topic. */
async function assertNothingCreated(c: string, options: { client?: pg.Client; slot?: string; publication?: string; topics?: boolean } = {}): Promise<void> {
  const left = await slotAndPublication(options.client ?? admin, options.slot ?? slotOf(c), options.publication ?? slotOf(c));
  assert.deepEqual(left, { slots: 0, publications: 0 }, `case ${c} left a replication slot or publication behind`);
  if (options.topics !== false) {
    const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(prefixOf(c)));
    assert.deepEqual(topics, [], `case ${c} created Kafka topics although it failed before using Kafka`);
  }
}

/** Polls the management API until the process exits; returns every body it answered. */
async function pollHttp(p: WalcastProcess, port: number, paths: string[]): Promise<Array<{ path: string; status: number; body: string }>> {
  const seen: Array<{ path: string; status: number; body: string }> = [];
  let exited = false;
  void p.exited.then(() => (exited = true));
  while (!exited) {
    for (const path of paths) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
        seen.push({ path, status: res.status, body: await res.text() });
      } catch {
        // not listening yet, or already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return seen;
}

async function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

// ---- a throwaway PostgreSQL 15 with wal_level=replica (the shared one must stay logical) ----

interface ReplicaCluster {
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function startReplicaCluster(): Promise<ReplicaCluster> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'walcast-bc-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  // initdb and the server must run as the postgres OS user when we are root.
  const run = (cmd: string, args: string[]) =>
    asRoot ? exec('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: '/' }) : exec(cmd, args, { cwd: '/' });
  const stop = async (): Promise<void> => {
    await run(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--auth=trust', '--no-sync']);
    await run(join(PG_BIN, 'pg_ctl'), [
      '-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '30',
      '-o', `-c port=${port} -c listen_addresses=127.0.0.1 -c wal_level=replica -c unix_socket_directories=${dir} -c fsync=off`,
      'start',
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

let replica: ReplicaCluster | undefined;
let replicaClient: pg.Client | undefined;

before(async () => {
  await admin.connect();
  await kafkaAdmin.connect();
  await Promise.all([
    (async () => {
      replica = await startReplicaCluster();
      replicaClient = new pg.Client({ connectionString: replica.url });
      await replicaClient.connect();
      // A table the include list selects: were the wal_level check missing, walcast would go on
      // to create a publication for it (and we would see it).
      await replicaClient.query('create table public.accounts (id int primary key)');
    })(),
    (async () => {
      await admin.query(`create schema ${schema}`);
      await admin.query(`create table ${schema}.accounts (id int primary key, note text)`);
      await admin.query(`grant usage on schema ${schema} to walcast_repl`);
      await admin.query(`grant select on ${schema}.accounts to walcast_repl`);

      await admin.query(`create role ${secretRole} login replication password '${pgSecret.replaceAll("'", "''")}'`);
      await admin.query(`grant create on database ${quoteIdent((await admin.query('select current_database() as d')).rows[0].d as string)} to ${secretRole}`);
      await admin.query(`create schema ${secretSchema} authorization ${secretRole}`);
      await admin.query(`create table ${secretSchema}.items (id int primary key, note text)`);
      await admin.query(`alter table ${secretSchema}.items owner to ${secretRole}`);

      await admin.query(`create role ${noReplRole} login password '${noReplSecret}'`);

      await admin.query(`create schema ${quoteIdent(oddSchema)}`);
      await admin.query(`create table ${quoteIdent(oddSchema)}.${quoteIdent(oddTable)} (id int primary key, note text)`);
    })(),
  ]);
});

after(async () => {
  await replicaClient?.end().catch(() => undefined);
  await replica?.stop();
  // Whatever walcast (legitimately or through a bug) left behind.
  const slots = await admin.query(`select slot_name from pg_replication_slots where slot_name like $1`, [`${tag}%`]);
  for (const r of slots.rows) await admin.query('select pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
  const pubs = await admin.query(`select pubname from pg_publication where pubname like $1`, [`${tag}%`]);
  for (const r of pubs.rows) await admin.query(`drop publication if exists ${quoteIdent(r.pubname as string)}`).catch(() => undefined);
  for (const s of [schema, secretSchema, oddSchema]) await admin.query(`drop schema if exists ${quoteIdent(s)} cascade`).catch(() => undefined);
  for (const role of [secretRole, noReplRole]) {
    await admin.query(`drop owned by ${role} cascade`).catch(() => undefined);
    await admin.query(`drop role if exists ${role}`).catch(() => undefined);
  }
  await admin.end();
  const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(tag.replaceAll('_', '')));
  if (topics.length > 0) await kafkaAdmin.deleteTopics({ topics }).catch(() => undefined);
  await kafkaAdmin.disconnect();
});

describe('bad configuration matrix and secrets (issue 6, items 4 and 5)', { concurrency: true }, () => {
  // The slow cases first, so that they hold lanes while the quick ones share the others.

  // ---- Kafka unreachable: exit 4 in bounded time; nothing half-created in PostgreSQL ----

  test('unreachable Kafka: exit 4 soon after WALCAST_STARTUP_TIMEOUT_MS, naming Kafka; no slot or publication left; nothing leaks', async () => {
    const closed = await freePort();
    const httpPort = await freePort();
    let http: Array<{ path: string; status: number; body: string }> = [];
    const r = await runToExit(
      envFor('kafkadown', {
        WALCAST_PG_URL: pgUrlAs(secretRole, pgSecret),
        WALCAST_TABLES: `${secretSchema}.items`,
        WALCAST_KAFKA_BROKERS: `127.0.0.1:${closed}`,
        WALCAST_SCHEMA_REGISTRY_URL: withUserinfo(services.schemaRegistryUrl, regUser, regSecret),
        WALCAST_HTTP_PORT: String(httpPort),
        WALCAST_HTTP_HOST: '127.0.0.1',
      }),
      async (p) => {
        http = await pollHttp(p, httpPort, [`/connectors/${prefixOf('kafkadown')}/status`, '/metrics']);
      },
    );
    // Secrets first: these hold whatever the exit code.
    assertNoSecret('the output', r.output);
    for (const h of http) assertNoSecret(`GET ${h.path}`, h.body);
    assert.ok(http.length > 0, 'the management API answered while walcast retried');

    const leftovers = await slotAndPublication(admin, slotOf('kafkadown'), slotOf('kafkadown'));
    const elapsed = r.sinceStartMs ?? r.ms;
    assertAll([
      [r.code === 4, `exit code 4, got ${r.code}`],
      [elapsed >= STARTUP_TIMEOUT_MS, `retried for WALCAST_STARTUP_TIMEOUT_MS before giving up (exited after ${elapsed} ms)`],
      [elapsed <= STARTUP_TIMEOUT_MS + STARTUP_SLACK_MS, `exit within ${STARTUP_TIMEOUT_MS + STARTUP_SLACK_MS} ms of starting, took ${elapsed} ms`],
      [r.message.includes(`127.0.0.1:${closed}`), 'the message names the address'],
      [/Kafka|WALCAST_KAFKA_BROKERS/.test(r.message), 'the message says which service is unreachable (Kafka / WALCAST_KAFKA_BROKERS)'],
      [leftovers.slots === 0, 'no replication slot left behind (a start that never reached Kafka must not leave a slot retaining WAL)'],
      [leftovers.publications === 0, 'no publication left behind'],
    ], r);
  });

  // ---- identifiers from configuration are quoted safely ----

  test('quotes, dots, spaces, capitals and unicode in schema, table and publication names: streams', () => inLane(async () => {
    const c = 'oddnames';
    const p = new WalcastProcess(envFor(c, {
      ...STREAMING,
      WALCAST_TABLES: `${oddSchema}.${oddTable}`,
      WALCAST_PUBLICATION: oddPublication,
    }));
    try {
      await p.waitForStreaming(30_000);
      const pub = await admin.query('select schemaname, tablename from pg_publication_tables where pubname = $1', [oddPublication]);
      assert.deepEqual(pub.rows, [{ schemaname: oddSchema, tablename: oddTable }]);
      await admin.query(`insert into ${quoteIdent(oddSchema)}.${quoteIdent(oddTable)} values (1, 'ü "quoted"')`);
      // Kafka forbids ' ', '"' and 'ü' in topic names: they become '_'; capitals and dots stay.
      const topic = `${prefixOf(c)}.Odd_Schema_${id}.we_ird.Tab_le__`;
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [topic]);
      assert.equal(records.length, 1, p.output.slice(-3000));
      const value = records[0]!.value!;
      assert.equal(value.op, 'c');
      assert.deepEqual(value.after, { id: 1, note: 'ü "quoted"' });
      assert.equal((value.source as { schema: string }).schema, oddSchema);
      assert.equal((value.source as { table: string }).table, oddTable);
      const stopped = await p.stop();
      assert.equal(stopped.code, 0, p.output.slice(-3000));
    } finally {
      await p.stop('SIGKILL', 1000);
    }
  }));

  // ---- secrets through a normal run ----

  test('secrets: start + stream + SIGTERM with passwords in WALCAST_PG_URL and the registry URL; not in output, /status or /metrics', () => inLane(async () => {
    const c = 'secretrun';
    const httpPort = await freePort();
    const p = new WalcastProcess(envFor(c, {
      ...STREAMING,
      WALCAST_PG_URL: pgUrlAs(secretRole, pgSecret),
      WALCAST_SCHEMA_REGISTRY_URL: withUserinfo(services.schemaRegistryUrl, regUser, regSecret),
      WALCAST_TABLES: `${secretSchema}.items`,
      WALCAST_HTTP_PORT: String(httpPort),
      WALCAST_HTTP_HOST: '127.0.0.1',
      WALCAST_LOG_LEVEL: 'debug',
    }));
    const bodies: Array<{ path: string; body: string }> = [];
    try {
      await p.waitForStreaming(30_000);
      // The registry accepts (ignores) the Basic credentials: an Avro event goes through it.
      await admin.query(`insert into ${secretSchema}.items values (1, 'secret-run')`);
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [`${prefixOf(c)}.${secretSchema}.items`]);
      assert.deepEqual(records.map((r) => r.value?.after), [{ id: 1, note: 'secret-run' }], p.output.slice(-3000));
      await waitFor('the event to be counted', async () => {
        const m = await getText(httpPort, '/metrics');
        return new RegExp(`^walcast_events_total\\{connector="${prefixOf(c)}"\\} 1$`, 'm').test(m.body) ? true : undefined;
      }, 10_000, 100);
      for (const path of ['/', '/health', '/ready', '/connectors', `/connectors/${prefixOf(c)}/status`, '/metrics']) {
        const res = await getText(httpPort, path);
        assert.equal(res.status, 200, `GET ${path}: ${res.body}\n${p.output.slice(-3000)}`);
        bodies.push({ path, body: res.body });
      }
      const status = JSON.parse(bodies.find((b) => b.path.endsWith('/status'))!.body) as { connector: { state: string } };
      assert.equal(status.connector.state, 'RUNNING');
      const stopped = await p.stop();
      assert.equal(stopped.code, 0, p.output.slice(-3000));
    } finally {
      await p.stop('SIGKILL', 1000);
    }
    assert.ok(p.output.includes('walcast starting') && p.output.includes('walcast stopped'), 'a whole run was captured');
    // Control: the URLs were logged, with the passwords masked, so the scan below looked at them.
    assert.ok(p.output.includes(`${secretRole}:*****@`) && p.output.includes(`${regUser}:*****@`), 'both URLs logged redacted');
    assertNoSecret('the output of a normal run', p.output);
    for (const b of bodies) assertNoSecret(`GET ${b.path}`, b.body);
  }));

  // ---- configuration: exit 2, every problem named, nothing touched ----

  test('WALCAST_PG_URL missing: exit 2 naming it', async () => {
    const r = await runToExit(envFor('nopgurl', { WALCAST_PG_URL: undefined }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /invalid configuration/);
    assert.match(r.message, /WALCAST_PG_URL\b[^\n]*must be set/);
    await assertNothingCreated('nopgurl');
  });

  test('WALCAST_KAFKA_BROKERS missing: exit 2 naming it', async () => {
    const r = await runToExit(envFor('nobrokers', { WALCAST_KAFKA_BROKERS: undefined }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /WALCAST_KAFKA_BROKERS\b[^\n]*must be set/);
    await assertNothingCreated('nobrokers');
  });

  test('WALCAST_SCHEMA_REGISTRY_URL missing with the default format avro: exit 2 naming it and the way out', async () => {
    const r = await runToExit(envFor('noregistry', { WALCAST_SCHEMA_REGISTRY_URL: undefined }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /WALCAST_SCHEMA_REGISTRY_URL must be set when WALCAST_FORMAT=avro \(or set WALCAST_FORMAT=json\)/);
    await assertNothingCreated('noregistry');
  });

  test('malformed values: every problem reported at once, exit 2, the secret in the URL never echoed', async () => {
    const r = await runToExit(envFor('malformed', {
      WALCAST_PG_URL: `${pgUrlAs(secretRole, pgSecret).replace(/\/[^/]*$/, '')}`, // no database
      WALCAST_KAFKA_BROKERS: '127.0.0.1', // no port
      WALCAST_SLOT: 'Bad_Slot', // capitals
      WALCAST_FORMAT: 'xml',
      WALCAST_BATCH_MAX_EVENTS: '-5',
    }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /WALCAST_PG_URL: must name the database/);
    assert.match(r.message, /WALCAST_KAFKA_BROKERS: "127\.0\.0\.1" is not host:port/);
    assert.match(r.message, /WALCAST_SLOT: [^\n]*1-63 characters of a-z, 0-9 and _/);
    assert.match(r.message, /WALCAST_FORMAT: [^\n]*\["avro","json"\]/);
    assert.match(r.message, /WALCAST_BATCH_MAX_EVENTS: must be a positive integer/);
    assert.equal(r.message.match(/^ {2}- /gm)?.length, 5, `exactly the five problems:\n${r.message}`);
    assertNoSecret('the configuration error', r.output);
    await assertNothingCreated('malformed', { slot: 'Bad_Slot' });
  });

  test('unknown WALCAST_ variables: exit 2 with a did-you-mean', async () => {
    const r = await runToExit(envFor('unknownvar', { WALCAST_SLOTT: 'x', WALCAST_KAFKA_BROKER: '127.0.0.1:9092' }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /WALCAST_SLOTT is not a walcast setting \(did you mean WALCAST_SLOT\?\)/);
    assert.match(r.message, /WALCAST_KAFKA_BROKER is not a walcast setting \(did you mean WALCAST_KAFKA_BROKERS\?\)/);
    await assertNothingCreated('unknownvar');
  });

  test('secrets in unparseable URLs are not echoed: exit 2', async () => {
    const r = await runToExit(envFor('badurls', {
      WALCAST_PG_URL: `postgres://${secretRole}:${encodeURIComponent(pgSecret)}@127.0.0.1:notaport/walcast`,
      WALCAST_SCHEMA_REGISTRY_URL: `ftp://${regUser}:${encodeURIComponent(regSecret)}@127.0.0.1/`,
    }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /WALCAST_PG_URL: must be a URL like postgres:\/\//);
    assert.match(r.message, /WALCAST_SCHEMA_REGISTRY_URL: must be an http\(s\) URL/);
    assertNoSecret('the configuration error', r.output);
    await assertNothingCreated('badurls');
  });

  // ---- PostgreSQL: refused password, unreachable, not ready ----

  test('wrong PostgreSQL password: exit 2, says authentication, names WALCAST_PG_URL, leaks neither password', async () => {
    const r = await runToExit(envFor('wrongpw', { WALCAST_PG_URL: pgUrlAs(secretRole, wrongSecret), WALCAST_TABLES: `${secretSchema}.items` }));
    assertExit(r, 2, IMMEDIATE_MS);
    assert.match(r.message, /password authentication failed/);
    assert.match(r.message, /WALCAST_PG_URL/);
    assert.ok(r.message.includes(`"${secretRole}"`), 'names the role that was refused');
    assertNoSecret('the output of a refused login', r.output);
    await assertNothingCreated('wrongpw');
  });

  test('unreachable PostgreSQL: exit 4 after WALCAST_STARTUP_TIMEOUT_MS, naming PostgreSQL and its address; /status trace leaks nothing', async () => {
    const closed = await freePort();
    const httpPort = await freePort();
    let http: Array<{ path: string; status: number; body: string }> = [];
    const r = await runToExit(
      envFor('pgdown', {
        WALCAST_PG_URL: pgUrlAs(secretRole, pgSecret, { port: closed }),
        WALCAST_SCHEMA_REGISTRY_URL: withUserinfo(services.schemaRegistryUrl, regUser, regSecret),
        WALCAST_HTTP_PORT: String(httpPort),
        WALCAST_HTTP_HOST: '127.0.0.1',
      }),
      async (p) => {
        http = await pollHttp(p, httpPort, [`/connectors/${prefixOf('pgdown')}/status`, '/metrics']);
      },
    );
    // Secrets and leftovers hold whatever else fails.
    assertNoSecret('the output', r.output);
    for (const h of http) assertNoSecret(`GET ${h.path}`, h.body);
    const traces = http.filter((h) => h.path.endsWith('/status') && h.body.includes('"trace"'));
    assert.ok(traces.length > 0, `the status API showed the retried error (${http.length} answers)`);
    assert.ok(http.some((h) => h.path === '/metrics' && h.status === 200), 'metrics answered');
    await assertNothingCreated('pgdown');

    const elapsed = r.sinceStartMs ?? r.ms;
    assertAll([
      [r.code === 4, `exit code 4, got ${r.code}`],
      [elapsed >= STARTUP_TIMEOUT_MS, `retried for WALCAST_STARTUP_TIMEOUT_MS before giving up (exited after ${elapsed} ms)`],
      [elapsed <= STARTUP_TIMEOUT_MS + STARTUP_SLACK_MS, `exit within ${STARTUP_TIMEOUT_MS + STARTUP_SLACK_MS} ms of starting, took ${elapsed} ms`],
      [r.message.includes(`could not start within ${STARTUP_TIMEOUT_MS} ms`), 'the message says it gave up after the startup timeout'],
      [r.message.includes(`127.0.0.1:${closed}`), 'the message names the address'],
      [/PostgreSQL|WALCAST_PG_URL/.test(r.message), 'the message says which service is unreachable (PostgreSQL / WALCAST_PG_URL)'],
    ], r);
  });

  test('wal_level=replica (a second, throwaway cluster): exit 3 with the ALTER SYSTEM fix, nothing created', async () => {
    assert.ok(replica && replicaClient);
    const r = await runToExit(envFor('replica', { WALCAST_PG_URL: replica.url, WALCAST_TABLES: 'public.accounts' }));
    assertExit(r, 3, IMMEDIATE_MS);
    assert.match(r.message, /wal_level=replica/);
    assert.match(r.message, /ALTER SYSTEM SET wal_level = logical;/);
    assert.match(r.message, /restart PostgreSQL/);
    await assertNothingCreated('replica', { client: replicaClient });
  });

  test('role without REPLICATION: exit 3 naming REPLICATION and the ALTER ROLE fix', async () => {
    const r = await runToExit(envFor('norepl', { WALCAST_PG_URL: pgUrlAs(noReplRole, noReplSecret) }));
    assertExit(r, 3, IMMEDIATE_MS);
    assert.match(r.message, new RegExp(`role ${noReplRole} lacks the REPLICATION attribute`));
    assert.match(r.message, new RegExp(`ALTER ROLE "${noReplRole}" WITH REPLICATION;`));
    await assertNothingCreated('norepl');
  });

  test('walcast_repl (REPLICATION, not owner) and a missing publication: exit 3 with the exact CREATE PUBLICATION, no slot', async () => {
    const r = await runToExit(envFor('nopub', { WALCAST_PG_URL: services.pgReplUrl }));
    assertExit(r, 3, IMMEDIATE_MS);
    const publication = slotOf('nopub');
    assert.match(r.message, new RegExp(`publication ${publication} does not exist and role walcast_repl may not create it`));
    assert.ok(
      r.message.includes(`CREATE PUBLICATION "${publication}" FOR TABLE "${schema}"."accounts" WITH (publish_via_partition_root = true);`),
      `the exact SQL for an administrator: ${r.message}`,
    );
    await assertNothingCreated('nopub');
  });

  test('an include list naming no table: exit 3 naming WALCAST_TABLES and listing tables', async () => {
    const pattern = `${schema}.no_such_table,nowhere_${id}.*`;
    const r = await runToExit(envFor('notables', { WALCAST_TABLES: pattern }));
    assertExit(r, 3, IMMEDIATE_MS);
    assert.ok(r.message.includes(`WALCAST_TABLES=${pattern} matches no table in this database`), r.message);
    // It lists real tables (the first few in name order; other tests' tables may come first).
    const tables = await admin.query<{ name: string }>(
      `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`,
    );
    assert.match(r.message, /\(user tables: /);
    assert.ok(tables.rows.some((t) => r.message.includes(t.name)), `lists tables of the database: ${r.message}`);
    await assertNothingCreated('notables');
  });
});
