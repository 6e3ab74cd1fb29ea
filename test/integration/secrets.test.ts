// Secrets never leave the process (GUIDE, invariant 6), for every secret setting of `walcast run`
// at every log level (issue 13), against the secured side of the local services. At each of the
// six levels walcast runs twice with every secret set, and every byte it writes and every answer
// of its management API is scanned for each of them:
// - streaming, each secret in a variable or file of its own (PostgreSQL password and key
//   passphrase, SASL PLAIN password, Kafka and HTTPS key passphrases, registry password, admin
//   token): an event, every read of the API, refused and accepted state changes, SIGTERM;
// - refused by Kafka (a wrong SCRAM-SHA-512 password), with the PostgreSQL password and the
//   registry credentials inside their URLs and the other secrets in the other form, so that the
//   lines of a failure at that level are scanned too.
// At trace, the second form also streams. A level only drops lines (kafkajs' own log follows
// walcast's level), so each run also checks that nothing below its level was written, and that
// what its level should show (the refusal warnings, the stop, the fatal line) was.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { capturedSchema } from '../helpers/capture.ts';
import { freePort } from '../helpers/scratch-postgres.ts';
import { loadSecuredServices, loadServices, waitFor } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const secured = loadSecuredServices();
const dir = mkdtempSync(join(tmpdir(), 'walcast-secrets-'));
/** The runs' own statements (tables, publications, slots): they overlap, one client runs one query at a time. */
const pool = new pg.Pool({ connectionString: services.pgUrl, max: 3 });

/** pino's level numbers. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type Level = keyof typeof LEVELS;

const it = capturedSchema('secrets', {
  setup: async (db) => {
    await db.query(`grant usage on schema ${it.schema} to walcast_tls, walcast_cert`);
  },
  teardown: async (db) => {
    await db.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name like $1 and not active`, [`${it.slot}\\_%`]).catch(() => undefined);
    const pubs = await db.query<{ pubname: string }>('select pubname from pg_publication where pubname like $1', [`${it.slot}\\_%`]);
    for (const r of pubs.rows) await db.query(`drop publication if exists "${r.pubname}"`);
    const kafka = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(it.prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
    await pool.end();
  },
});

const hex = (): string => randomBytes(12).toString('hex');

/** A secret in a file, for the <VAR>_FILE settings (with the trailing newline `echo` leaves). */
function inFile(name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

/** What one run configures: its environment and every secret value in it. */
interface Setup {
  env: Record<string, string>;
  secrets: string[];
}

/** Each secret in a variable or file of its own; PostgreSQL by client certificate, Kafka by SASL PLAIN. */
function separateSettings(run: string): Setup {
  const token = `admin-${hex()}`;
  const pgPassword = `pgpw-${hex()}`; // set, and unused by pg_hba's cert method: still a secret
  return {
    secrets: [token, pgPassword, secured.kafkaSaslPassword, secured.registryPassword, secured.clientKeyPassword],
    env: {
      WALCAST_PG_URL: secured.pgCertUrl,
      WALCAST_PG_PASSWORD_FILE: inFile(`${run}-pg`, pgPassword),
      WALCAST_PG_SSL_MODE: 'verify-full',
      WALCAST_PG_SSL_ROOT_CERT: secured.caFile,
      WALCAST_PG_SSL_CERT: secured.clientCertFile,
      WALCAST_PG_SSL_KEY: secured.clientKeyFile,
      WALCAST_PG_SSL_KEY_PASSWORD: secured.clientKeyPassword,
      WALCAST_KAFKA_BROKERS: secured.kafkaSaslSslBrokers.join(','),
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      WALCAST_KAFKA_SASL_MECHANISM: 'PLAIN',
      WALCAST_KAFKA_SASL_USERNAME: secured.kafkaSaslUsername,
      WALCAST_KAFKA_SASL_PASSWORD: secured.kafkaSaslPassword,
      WALCAST_KAFKA_SSL_CA_LOCATION: secured.caFile,
      // The SASL_SSL listener asks for no client certificate; the key is still loaded and decrypted.
      WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION: secured.clientCertFile,
      WALCAST_KAFKA_SSL_KEY_LOCATION: secured.clientKeyFile,
      WALCAST_KAFKA_SSL_KEY_PASSWORD_FILE: inFile(`${run}-kafka-key`, secured.clientKeyPassword),
      WALCAST_SCHEMA_REGISTRY_URL: secured.registryTlsUrl,
      WALCAST_SCHEMA_REGISTRY_USERNAME: secured.registryUsername,
      WALCAST_SCHEMA_REGISTRY_PASSWORD_FILE: inFile(`${run}-registry`, secured.registryPassword),
      WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: secured.caFile,
      WALCAST_HTTP_SSL_KEY_PASSWORD: secured.clientKeyPassword,
      WALCAST_ADMIN_TOKEN_FILE: inFile(`${run}-token`, token),
    },
  };
}

/** The PostgreSQL password and registry credentials inside their URLs, the other secrets in the other form; Kafka by SCRAM-SHA-512. */
function inUrls(run: string, kafkaPassword: string): Setup {
  const token = `admin-${hex()}`;
  const registry = new URL(secured.registryTlsUrl);
  registry.username = secured.registryUsername;
  registry.password = secured.registryPassword;
  return {
    secrets: [token, new URL(secured.pgTlsUrl).password, kafkaPassword, secured.registryPassword, secured.clientKeyPassword],
    env: {
      WALCAST_PG_URL: secured.pgTlsUrl,
      WALCAST_PG_SSL_MODE: 'verify-full',
      WALCAST_PG_SSL_ROOT_CERT: secured.caFile,
      // pg_hba asks walcast_tls for its password; the client certificate is offered and verified too.
      WALCAST_PG_SSL_CERT: secured.clientCertFile,
      WALCAST_PG_SSL_KEY: secured.clientKeyFile,
      WALCAST_PG_SSL_KEY_PASSWORD_FILE: inFile(`${run}-pg-key`, secured.clientKeyPassword),
      WALCAST_KAFKA_BROKERS: secured.kafkaSaslSslBrokers.join(','),
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      WALCAST_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      WALCAST_KAFKA_SASL_USERNAME: secured.kafkaSaslUsername,
      WALCAST_KAFKA_SASL_PASSWORD_FILE: inFile(`${run}-kafka`, kafkaPassword),
      WALCAST_KAFKA_SSL_CA_LOCATION: secured.caFile,
      WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION: secured.clientCertFile,
      WALCAST_KAFKA_SSL_KEY_LOCATION: secured.clientKeyFile,
      WALCAST_KAFKA_SSL_KEY_PASSWORD: secured.clientKeyPassword,
      WALCAST_SCHEMA_REGISTRY_URL: registry.toString(),
      WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: secured.caFile,
      WALCAST_HTTP_SSL_KEY_PASSWORD_FILE: inFile(`${run}-http-key`, secured.clientKeyPassword),
      WALCAST_ADMIN_TOKEN: token,
    },
  };
}

/** The secrets in every form they could leak in: raw, and the registry's Basic credentials. */
function leakForms(setup: Setup): string[] {
  const basic = Buffer.from(`${secured.registryUsername}:${secured.registryPassword}`).toString('base64');
  return [...setup.secrets, basic];
}

function assertNoSecret(setup: Setup, where: string, text: string): void {
  for (const s of leakForms(setup)) assert.ok(!text.includes(s), `a secret (${s.slice(0, 6)}...) leaked into ${where}:\n${text.slice(-3000)}`);
}

/** The API over HTTPS (its certificate here is the client one, which names no host: not verified). */
function https(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A run's own table, publication (the roles may not create one), slot, topics and API port. */
async function runEnv(run: string, level: Level, setup: Setup): Promise<{ env: Record<string, string>; table: string; slot: string; prefix: string; port: number }> {
  const slot = `${it.slot}_${run}`;
  const table = `${it.schema}.t_${run}`;
  await pool.query(`create table ${table} (id int primary key, note text)`);
  await pool.query(`grant select on ${table} to walcast_tls, walcast_cert`);
  await pool.query(`create publication ${slot} for table ${table}`);
  const prefix = `${it.prefix}${run}`;
  const port = await freePort();
  const env = it.env({
    ...setup.env,
    WALCAST_LOG_LEVEL: level,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: table,
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_STARTUP_TIMEOUT_MS: '60000',
    WALCAST_HTTP_HOST: '0.0.0.0',
    WALCAST_HTTP_PORT: String(port),
    WALCAST_HTTP_SSL_CERTIFICATE_LOCATION: secured.clientCertFile,
    WALCAST_HTTP_SSL_KEY_LOCATION: secured.clientKeyFile,
  });
  return { env, table, slot, prefix, port };
}

/** Nothing below `level` was written: the level took effect, so this run's scan covers that level's output. */
function assertLevelHeld(p: WalcastProcess, level: Level): void {
  const below = p.lines.filter((l) => l.level < LEVELS[level]);
  assert.deepEqual(below.map((l) => `${l.level} ${l.msg}`), [], `lines below ${level}`);
}

/** Streams with every secret, uses every read and state change of the API, stops; scans it all. */
async function streamingRun(run: string, level: Level, setup: Setup): Promise<void> {
  const { env, table, slot, prefix, port } = await runEnv(run, level, setup);
  const p = new WalcastProcess(env);
  const answers: Array<{ what: string; status: number; body: string }> = [];
  const call = async (method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> => {
    const answer = await https(port, method, path, headers);
    answers.push({ what: `${method} ${path}${headers.authorization ? ' (token)' : ''}`, ...answer });
    return answer;
  };
  const token = setup.secrets[0]!;
  try {
    // Streaming: the API's readiness, not the "streaming" line (info), which the higher levels drop.
    await waitFor(`${run}: streaming`, async () => ((await call('GET', '/ready').catch(() => null))?.status === 200 ? true : undefined), 60_000, 200);
    await pool.query(`insert into ${table} values (1, 'every secret at ${level}')`);
    await waitFor(`${run}: the event to be counted`, async () => {
      const metrics = await call('GET', '/metrics');
      return new RegExp(`^walcast_events_total\\{connector="${prefix}"\\} 1$`, 'm').test(metrics.body) ? true : undefined;
    }, 30_000, 200);
    for (const path of ['/', '/health', '/connectors', `/connectors/${prefix}/status`]) await call('GET', path);
    const changes = [
      await call('PUT', `/connectors/${prefix}/pause`),
      await call('PUT', `/connectors/${prefix}/pause`, { authorization: `Bearer ${token.slice(0, -1)}x` }),
      await call('PUT', `/connectors/${prefix}/pause`, { authorization: `Bearer ${token}` }),
      await call('PUT', `/connectors/${prefix}/resume`, { authorization: `Bearer ${token}` }),
    ];
    assert.deepEqual(changes.map((a) => a.status), [401, 401, 202, 202]);
    const stopped = await p.stop();
    assert.equal(stopped.code, 0, p.output.slice(-3000));
  } finally {
    await p.stop('SIGKILL', 1000);
    await pool.query('select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active', [slot]).catch(() => undefined);
  }
  assertLevelHeld(p, level);
  const shown = (msg: string): boolean => p.lines.some((l) => l.msg === msg);
  if (LEVELS[level] <= LEVELS.warn) assert.ok(shown('management API refused a state change'), 'the refused pause was logged (warn)');
  if (LEVELS[level] <= LEVELS.info) assert.ok(shown('walcast starting') && shown('walcast stopped'), 'a whole run was captured');
  if (level === 'trace') assert.ok(p.lines.some((l) => l.level === 10 && l.component === 'kafkajs'), 'kafkajs\' debug lines were written (the scan covers them)');
  assertNoSecret(setup, `the output at ${level}`, p.output);
  for (const a of answers) assertNoSecret(setup, `the answer to ${a.what} at ${level}`, a.body);
}

/** Refused by Kafka after PostgreSQL and the registry accepted their credentials: exit 2; scans the failure's output. */
async function refusedRun(run: string, level: Level): Promise<void> {
  const setup = inUrls(run, `wrong-${hex()}`);
  const { env, slot } = await runEnv(run, level, setup);
  const p = new WalcastProcess(env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  assert.equal(code, 2, p.output.slice(-3000));
  const fatal = p.lines.find((l) => l.level === 60);
  assert.equal(fatal?.code, 'WALCAST_KAFKA_AUTH', p.output.slice(-3000));
  assertLevelHeld(p, level);
  assertNoSecret(setup, `the output of a refused start at ${level}`, p.output);
  const left = await pool.query('select 1 from pg_replication_slots where slot_name = $1', [slot]);
  assert.equal(left.rowCount, 0, 'no slot left behind');
}

// Three walcast processes at a time: enough to overlap their start-up waits on two cores.
describe('every secret setting at every log level: not in the output, not in any API answer', { concurrency: 3 }, () => {
  for (const level of Object.keys(LEVELS) as Level[]) {
    test(`${level}: streaming, each secret in its own variable or file`, () => streamingRun(`${level}_s`, level, separateSettings(`${level}_s`)));
    test(`${level}: refused by Kafka, PostgreSQL and registry secrets in their URLs`, () => refusedRun(`${level}_r`, level));
  }
  test('trace: streaming, PostgreSQL and registry secrets in their URLs', () => streamingRun('trace_u', 'trace', inUrls('trace_u', secured.kafkaSaslPassword)));
});
