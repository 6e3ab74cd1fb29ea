// walcast end to end against the secured side of the local services (scripts/services.sh):
// PostgreSQL over TLS with verify-full (a role pg_hba admits over TLS only), Kafka over SASL_SSL
// with SCRAM-SHA-512, the registry over HTTPS with basic auth through nginx; then client
// certificates (PostgreSQL `cert` authentication, the broker's SSL listener that requires one);
// then, for each service, a wrong password and an untrusted certificate: exit 2 soon, a message
// naming the service and the setting, the error code docs/operations.md lists, nothing created in
// PostgreSQL, no secret in the output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { capture } from '../helpers/capture.ts';
import { loadSecuredServices, loadServices, waitFor } from '../helpers/services.ts';
import { WalcastProcess, type LogLine } from '../helpers/walcast-process.ts';
import { negotiateTls, plainConnection, type PgConnection } from '../../src/pg/connect.ts';

const exec = promisify(execFile);
const services = loadServices();
const secured = loadSecuredServices();
const cli = join(import.meta.dirname, '..', '..', 'src', 'cli.ts');

const it = capture('sec');
const { schema, slot } = it;
const admin = new pg.Client({ connectionString: services.pgUrl });
const secretsDir = mkdtempSync(join(tmpdir(), 'walcast-secured-'));

/** Every secret of the secured services, as they could leak. */
const secrets = [secured.kafkaSaslPassword, secured.registryPassword, new URL(secured.pgTlsUrl).password, secured.clientKeyPassword];

function assertNoSecret(where: string, text: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s.slice(0, 6)}...) leaked into ${where}:\n${text.slice(-3000)}`);
}

/** A secret in a file, for the <VAR>_FILE settings (with the trailing newline `echo` leaves). */
function secretFile(name: string, value: string): string {
  const path = join(secretsDir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

const withoutPassword = (url: string): string => {
  const u = new URL(url);
  u.password = '';
  return u.toString();
};

/** walcast over every secured service, passwords from files; `overrides` replaces entries (undefined removes). */
function securedEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    ...it.env(),
    WALCAST_PG_URL: withoutPassword(secured.pgTlsUrl),
    WALCAST_PG_PASSWORD_FILE: secretFile('pg-password', new URL(secured.pgTlsUrl).password),
    WALCAST_PG_SSL_MODE: 'verify-full',
    WALCAST_PG_SSL_ROOT_CERT: secured.caFile,
    WALCAST_KAFKA_BROKERS: secured.kafkaSaslSslBrokers.join(','),
    WALCAST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    WALCAST_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    WALCAST_KAFKA_SASL_USERNAME: secured.kafkaSaslUsername,
    WALCAST_KAFKA_SASL_PASSWORD_FILE: secretFile('kafka-password', secured.kafkaSaslPassword),
    WALCAST_KAFKA_SSL_CA_LOCATION: secured.caFile,
    WALCAST_SCHEMA_REGISTRY_URL: secured.registryTlsUrl,
    WALCAST_SCHEMA_REGISTRY_USERNAME: secured.registryUsername,
    WALCAST_SCHEMA_REGISTRY_PASSWORD_FILE: secretFile('registry-password', secured.registryPassword),
    WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: secured.caFile,
    WALCAST_STARTUP_TIMEOUT_MS: '20000',
    // The initial snapshot too (the captures' default is no_data): its connections must use TLS as well.
    WALCAST_SNAPSHOT_MODE: 'initial',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

before(async () => {
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.query(`create table ${schema}.items (id int primary key, note text, price numeric(10,2))`);
  // A row before walcast starts: the initial snapshot reads it over the snapshot's own connections.
  await admin.query(`insert into ${schema}.items values (0, 'snapshot over TLS', 5.00)`);
  for (const role of ['walcast_tls', 'walcast_cert']) {
    await admin.query(`grant usage on schema ${schema} to ${role}`);
    await admin.query(`grant select on ${schema}.items to ${role}`);
  }
  // The roles may replicate but not create publications (they own no table): an administrator does.
  await admin.query(`create publication ${slot} for table ${schema}.items`);
});

after(async () => {
  const slots = await admin.query<{ slot_name: string }>('select slot_name from pg_replication_slots where slot_name like $1 and not active', [`${slot}%`]);
  for (const r of slots.rows) await admin.query('select pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
  await it.cleanup(admin);
  await admin.end();
  rmSync(secretsDir, { recursive: true, force: true });
});

/**
 * The kinds of walcast's backends in PostgreSQL (catalog and snapshot connections, the walsender),
 * each with whether all of them use TLS.
 */
async function backendsOf(user: string): Promise<Array<{ backend_type: string; ssl: boolean }>> {
  const r = await admin.query<{ backend_type: string; ssl: boolean }>(
    `select a.backend_type, bool_and(s.ssl) as ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
      where a.usename = $1 and a.application_name = 'walcast' group by a.backend_type order by a.backend_type`,
    [user],
  );
  return r.rows;
}

describe('secured services, end to end', () => {
  test('PostgreSQL TLS verify-full + Kafka SASL_SSL SCRAM-SHA-512 + registry HTTPS with basic auth, secrets from files, at trace level: streams, and `walcast tail` reads back with SCRAM-SHA-256', async () => {
    const walcast = new WalcastProcess(securedEnv({ WALCAST_LOG_LEVEL: 'trace' }));
    try {
      await walcast.waitForStreaming(60_000);
      const starting = walcast.lines.find((l) => l.msg === 'walcast starting')!;
      assert.equal(starting.kafkaSecurity, 'SASL_SSL SCRAM-SHA-512');
      assert.equal(starting.pgSslMode, 'verify-full');
      // Both of walcast's PostgreSQL connections use TLS: the catalog one and the walsender.
      assert.deepEqual(await backendsOf('walcast_tls'), [{ backend_type: 'client backend', ssl: true }, { backend_type: 'walsender', ssl: true }]);

      await admin.query(`insert into ${schema}.items values (1, 'over TLS', 12.50), (2, 'and SASL', 0.99)`);
      await admin.query(`update ${schema}.items set note = 'updated' where id = 2`);
      const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 4, timeoutMs: 30_000 }, [it.topic('items')]);
      // The snapshot's row and the stream's changes interleave (the snapshot runs beside the stream).
      assert.deepEqual(
        records.map((r) => `${String(r.value?.op)} ${(r.value?.after as { note: string } | null)?.note}`).sort(),
        ['c and SASL', 'c over TLS', 'r snapshot over TLS', 'u updated'],
        walcast.output.slice(-3000),
      );

      // `walcast tail` with the same process settings (here SCRAM-SHA-256 and a password variable).
      const tailEnv = Object.fromEntries(Object.entries(securedEnv({
        WALCAST_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        WALCAST_KAFKA_SASL_PASSWORD_FILE: undefined,
        WALCAST_KAFKA_SASL_PASSWORD: secured.kafkaSaslPassword,
      })).filter(([k]) => !/^WALCAST_(PG|SLOT|PUBLICATION|TABLES|TOPIC_PREFIX|OFFSETS_TOPIC)/.test(k)));
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WALCAST_')));
      const tailed = await exec(process.execPath, [cli, 'tail', it.topic('items'), '--from-beginning', '--max', '4'], { env: { ...base, ...tailEnv }, timeout: 60_000 });
      const lines = tailed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: { after: { id: number; price: string } } });
      assert.deepEqual(lines.map((l) => `${l.value.after.id} ${l.value.after.price}`).sort(), ['0 5.00', '1 12.50', '2 0.99', '2 0.99']);
      assertNoSecret('walcast tail', tailed.stdout + tailed.stderr);
    } finally {
      const stopped = await walcast.stop();
      assert.equal(stopped.code, 0, walcast.output.slice(-3000));
    }
    assert.ok(walcast.lines.some((l) => l.level === 10), 'trace lines were written (the scan below covers them)');
    assertNoSecret('the output of a run at trace level', walcast.output);
  });

  test('client certificates: PostgreSQL cert authentication and the broker\'s SSL listener, with an encrypted key (debug level)', async () => {
    const certSlot = `${slot}_cert`;
    const walcast = new WalcastProcess({
      ...it.env(),
      WALCAST_SLOT: certSlot,
      WALCAST_PUBLICATION: slot,
      WALCAST_OFFSETS_TOPIC: `${it.prefix}-cert-offsets`,
      WALCAST_TOPIC_PREFIX: `${it.prefix}cert`,
      WALCAST_FORMAT: 'json',
      WALCAST_LOG_LEVEL: 'debug',
      // libpq's parameters in the URL, as libpq users write them; the passphrase as a variable.
      WALCAST_PG_URL: `${secured.pgCertUrl}?sslmode=verify-full&sslrootcert=${encodeURIComponent(secured.caFile)}&sslcert=${encodeURIComponent(secured.clientCertFile)}&sslkey=${encodeURIComponent(secured.clientKeyFile)}`,
      WALCAST_PG_SSL_KEY_PASSWORD: secured.clientKeyPassword,
      WALCAST_KAFKA_BROKERS: secured.kafkaSslBrokers.join(','),
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'SSL',
      WALCAST_KAFKA_SSL_CA_LOCATION: secured.caFile,
      WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION: secured.clientCertFile,
      WALCAST_KAFKA_SSL_KEY_LOCATION: secured.clientKeyFile,
      WALCAST_KAFKA_SSL_KEY_PASSWORD_FILE: secretFile('client-key-password', secured.clientKeyPassword),
    });
    try {
      await walcast.waitForStreaming(60_000);
      assert.deepEqual(await backendsOf('walcast_cert'), [{ backend_type: 'client backend', ssl: true }, { backend_type: 'walsender', ssl: true }]);
      await admin.query(`insert into ${schema}.items values (3, 'by certificate', 1)`);
      // Read back over the plain listener, read_committed: an independent client.
      const kafka = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
      const topic = `${it.prefix}cert.${schema}.items`;
      const kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      await waitFor(`walcast to create ${topic}`, async () => ((await kafkaAdmin.listTopics()).includes(topic) ? true : undefined), 30_000, 200).finally(() => kafkaAdmin.disconnect());
      const consumer = kafka.consumer({ groupId: `${it.prefix}-cert-check`, readUncommitted: false });
      const seen: string[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => void (message.value && seen.push(message.value.toString())) });
        await waitFor('the JSON event', () => (seen.some((v) => v.includes('by certificate')) ? true : undefined), 30_000);
      } finally {
        await consumer.disconnect();
      }
    } finally {
      const stopped = await walcast.stop();
      assert.equal(stopped.code, 0, walcast.output.slice(-3000));
      await admin.query('select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active', [certSlot]).catch(() => undefined);
    }
    assertNoSecret('the output of a client-certificate run', walcast.output);
  });

  test('libpq\'s prefer and allow, settled against the real server', async () => {
    const tlsOnly: PgConnection = { ...plainConnection(secured.pgTlsUrl), tls: { mode: 'allow' } };
    // allow: plain first; pg_hba refuses walcast_tls without TLS, so TLS.
    assert.equal((await negotiateTls(tlsOnly)).tls.mode, 'require');
    // allow for a role pg_hba admits without TLS: no TLS.
    assert.equal((await negotiateTls({ ...plainConnection(services.pgUrl), tls: { mode: 'allow' } })).tls.mode, 'disable');
    // prefer: the server offers TLS, so TLS (not verified, as libpq).
    const preferred = await negotiateTls({ ...plainConnection(services.pgUrl), tls: { mode: 'prefer', ca: ['unused'] } });
    assert.deepEqual(preferred.tls, { mode: 'require', cert: undefined, key: undefined, passphrase: undefined });
  });
});

interface Failure {
  code: number | null;
  ms: number;
  message: string;
  output: string;
  lines: LogLine[];
}

async function runToExit(env: Record<string, string>): Promise<Failure> {
  const t0 = Date.now();
  const walcast = new WalcastProcess(env);
  const timer = setTimeout(() => walcast.child.kill('SIGKILL'), 60_000);
  const { code } = await walcast.exited;
  clearTimeout(timer);
  const fatal = walcast.lines.find((l) => l.level === 60);
  return { code, ms: Date.now() - t0, message: fatal?.msg ?? walcast.output, output: walcast.output, lines: walcast.lines };
}

async function slotsLeft(name: string): Promise<number> {
  return (await admin.query('select 1 from pg_replication_slots where slot_name = $1', [name])).rowCount ?? 0;
}

describe('refused credentials and untrusted certificates: exit 2, naming the service and the setting', { concurrency: 3 }, () => {
  // Well within the 20 s startup timeout: none of these may be retried until the deadline.
  const SOON_MS = 15_000;
  // code: the one docs/operations.md lists for the failure (the fatal line's `code`; PostgreSQL's own SQLSTATE for its refusals).
  const cases: Array<{ name: string; env: Record<string, string | undefined>; expect: RegExp[]; code: string }> = [
    {
      name: 'PostgreSQL: wrong password',
      env: { WALCAST_PG_PASSWORD_FILE: secretFile('pg-wrong', `${new URL(secured.pgTlsUrl).password}-wrong`) },
      expect: [/connecting to PostgreSQL/, /password authentication failed for user "walcast_tls"/, /WALCAST_PG_URL \(or WALCAST_PG_PASSWORD\)/],
      code: '28P01',
    },
    {
      name: 'PostgreSQL: untrusted certificate',
      env: { WALCAST_PG_SSL_ROOT_CERT: secured.untrustedCaFile },
      expect: [/TLS to PostgreSQL failed: the PostgreSQL server presented a certificate walcast does not trust/, /set WALCAST_PG_SSL_ROOT_CERT/],
      code: 'WALCAST_TLS',
    },
    {
      name: 'PostgreSQL: TLS required by pg_hba, none configured',
      env: { WALCAST_PG_SSL_MODE: 'disable', WALCAST_PG_SSL_ROOT_CERT: undefined },
      expect: [/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "walcast_tls".*no encryption/, /WALCAST_PG_SSL_MODE/],
      code: '28000',
    },
    {
      name: 'Kafka: wrong SASL password',
      env: { WALCAST_KAFKA_SASL_PASSWORD_FILE: secretFile('kafka-wrong', `${secured.kafkaSaslPassword}-wrong`) },
      expect: [/connecting to Kafka/, /Kafka refused walcast's SASL credentials: check WALCAST_KAFKA_SASL_USERNAME, WALCAST_KAFKA_SASL_PASSWORD/, /SCRAM SHA512 authentication failed/],
      code: 'WALCAST_KAFKA_AUTH',
    },
    {
      name: 'Kafka: untrusted certificate',
      env: { WALCAST_KAFKA_SSL_CA_LOCATION: secured.untrustedCaFile },
      expect: [/TLS to Kafka broker 127\.0\.0\.1:\d+ failed: Kafka broker 127\.0\.0\.1:\d+ presented a certificate walcast does not trust/, /set WALCAST_KAFKA_SSL_CA_LOCATION/],
      code: 'WALCAST_TLS',
    },
    {
      name: 'registry: wrong password',
      env: { WALCAST_SCHEMA_REGISTRY_PASSWORD_FILE: secretFile('registry-wrong', `${secured.registryPassword}-wrong`) },
      expect: [/connecting to the schema registry/, /schema registry https:\/\/127\.0\.0\.1:\d+ refused walcast's credentials \(401: Unauthorized\)/, /check WALCAST_SCHEMA_REGISTRY_USERNAME and WALCAST_SCHEMA_REGISTRY_PASSWORD/],
      code: 'WALCAST_REGISTRY_AUTH',
    },
    {
      name: 'registry: a URL that is not the Confluent-compatible API',
      env: { WALCAST_SCHEMA_REGISTRY_URL: new URL(secured.registryTlsUrl).origin },
      expect: [/answered 404 to GET \/config: WALCAST_SCHEMA_REGISTRY_URL must be the Confluent-compatible API/],
      code: 'WALCAST_CONFIG',
    },
    {
      name: 'registry: untrusted certificate',
      env: { WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: secured.untrustedCaFile },
      expect: [/TLS to the schema registry https:\/\/127\.0\.0\.1:\d+ failed: the schema registry .* presented a certificate walcast does not trust/, /set WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION/],
      code: 'WALCAST_TLS',
    },
  ];
  cases.forEach((c, i) => {
    test(c.name, async () => {
      const caseSlot = `${slot}_f${i}`;
      const r = await runToExit(securedEnv({ ...c.env, WALCAST_SLOT: caseSlot }));
      assertNoSecret(`the output of "${c.name}"`, r.output);
      assert.equal(r.code, 2, `exit 2 (documented: configuration or authentication), got ${r.code} after ${r.ms} ms:\n${r.output.slice(-3000)}`);
      assert.ok(r.ms < SOON_MS, `stopped within ${SOON_MS} ms, not at the startup deadline (took ${r.ms} ms)`);
      for (const pattern of c.expect) assert.match(r.message, pattern);
      const fatal = r.lines.find((l) => l.level === 60);
      assert.equal(fatal?.code ?? (fatal?.err as { code?: unknown } | undefined)?.code, c.code, 'the code docs/operations.md lists for it');
      assert.equal(await slotsLeft(caseSlot), 0, 'no replication slot left behind');
    });
  });
});
