// Smoke test of the secured side of the local services (scripts/services.sh), with plain clients:
// what walcast's own TLS and SASL tests stand on. PostgreSQL enforces TLS for walcast_tls and a
// client certificate for walcast_cert; the broker's SASL_SSL listener knows the user under SCRAM-
// SHA-512, SCRAM-SHA-256 and PLAIN, and its SSL listener requires a client certificate; nginx
// serves the registry over TLS to basic-auth callers only, answering others with a JSON 401.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import pg from 'pg';
import { loadSecuredServices } from '../helpers/services.ts';

const secured = loadSecuredServices();
const ca = readFileSync(secured.caFile, 'utf8');

async function pgQuery(config: pg.ClientConfig, sql: string): Promise<unknown[]> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

test('PostgreSQL: walcast_tls is refused without TLS and connects with a verified one; walcast_cert logs in by certificate', async () => {
  await assert.rejects(pgQuery({ connectionString: secured.pgTlsUrl, ssl: false }, 'select 1'), /pg_hba\.conf rejects connection .*"walcast_tls".*no encryption/);
  const rows = await pgQuery({ connectionString: secured.pgTlsUrl, ssl: { ca } }, 'select ssl, version from pg_stat_ssl where pid = pg_backend_pid()');
  assert.deepEqual((rows as Array<{ ssl: boolean }>).map((r) => r.ssl), [true]);
  // Replication connections go through the same rules (pg_hba's `replication` lines).
  const replication = new pg.Client({ connectionString: secured.pgTlsUrl, ssl: { ca }, replication: 'database' } as pg.ClientConfig);
  try {
    await replication.connect();
    const identify = await replication.query('IDENTIFY_SYSTEM');
    assert.equal(identify.rows.length, 1);
  } finally {
    await replication.end().catch(() => undefined);
  }
  const cert = readFileSync(secured.clientCertFile, 'utf8');
  const key = readFileSync(secured.clientKeyFile, 'utf8');
  const asCert = await pgQuery({ connectionString: secured.pgCertUrl, ssl: { ca, cert, key, passphrase: secured.clientKeyPassword } }, 'select current_user as u');
  assert.deepEqual(asCert, [{ u: 'walcast_cert' }]);
  // Without the certificate, pg_hba's `cert` method refuses the role.
  await assert.rejects(pgQuery({ connectionString: secured.pgCertUrl, ssl: { ca } }, 'select 1'), /certificate authentication failed|connection requires a valid client certificate/);
});

async function listTopics(brokers: string[], ssl: object, sasl?: SASLOptions): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'walcast-smoke-secured', brokers, ssl, ...(sasl ? { sasl } : {}), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

test('Kafka: the SASL_SSL listener takes SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN and refuses a wrong password; the SSL listener wants a client certificate', async () => {
  const { kafkaSaslUsername: username, kafkaSaslPassword: password } = secured;
  for (const mechanism of ['scram-sha-512', 'scram-sha-256', 'plain'] as const) {
    const topics = await listTopics(secured.kafkaSaslSslBrokers, { ca: [ca] }, { mechanism, username, password } as SASLOptions);
    assert.ok(Array.isArray(topics), mechanism);
  }
  await assert.rejects(listTopics(secured.kafkaSaslSslBrokers, { ca: [ca] }, { mechanism: 'scram-sha-512', username, password: `${password}x` }), /SASL SCRAM SHA512 authentication failed/);
  const clientTls = { ca: [ca], cert: readFileSync(secured.clientCertFile, 'utf8'), key: readFileSync(secured.clientKeyFile, 'utf8'), passphrase: secured.clientKeyPassword };
  assert.ok(Array.isArray(await listTopics(secured.kafkaSslBrokers, clientTls)));
  await assert.rejects(listTopics(secured.kafkaSslBrokers, { ca: [ca] }), /certificate required/);
});

function get(url: string, auth?: string): Promise<{ status: number; body: string; contentType: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca, keepAlive: false }), ...(auth ? { auth } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('registry behind nginx: TLS with the local CA; basic auth required, answered with a JSON 401', async () => {
  const anonymous = await get(`${secured.registryTlsUrl}/config`);
  assert.equal(anonymous.status, 401);
  assert.deepEqual(JSON.parse(anonymous.body), { error_code: 401, message: 'Unauthorized' });
  const wrong = await get(`${secured.registryTlsUrl}/config`, `${secured.registryUsername}:${secured.registryPassword}x`);
  assert.equal(wrong.status, 401);
  const ok = await get(`${secured.registryTlsUrl}/config`, `${secured.registryUsername}:${secured.registryPassword}`);
  assert.equal(ok.status, 200, ok.body);
  assert.equal((JSON.parse(ok.body) as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');
});
