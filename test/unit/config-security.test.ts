/**
 * Security settings: secrets from files, Kafka's protocol and SASL, the registry's credentials and
 * CA, the management API's token and TLS, PostgreSQL's sslmode with libpq's meaning (from the URL
 * or the variables), and the certificate files read and checked at load. Certificates are made
 * with openssl in a temporary directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadWorkerConfig, type WalcastConfig } from '../../src/config/load.ts';
import { connectionConfig } from '../../src/pg/connect.ts';
import { sslOption } from '../../src/pg/tls.ts';
import { forgetSecretsForTests, scrub } from '../../src/secrets.ts';
import { makeCertificates, type TestCertificates } from '../helpers/certs.ts';

const BASE: Record<string, string> = {
  WALCAST_PG_URL: 'postgres://walcast@db.example:5432/shop',
  WALCAST_KAFKA_BROKERS: 'kafka-1:9093',
  WALCAST_SCHEMA_REGISTRY_URL: 'https://registry.example/apis/ccompat/v7',
};

let certs: TestCertificates;
const FILES: Record<string, () => string> = {
  'ca.crt': () => certs.caCert,
  'client.crt': () => certs.clientCert,
  'client.enc.key': () => certs.clientKey,
  'other.key': () => certs.otherKey,
};
/** A file of the certificate set, or any other name in its directory. */
const file = (name: string): string => FILES[name]?.() ?? join(certs.dir, name);
let PASSPHRASE = '';

before(() => {
  certs = makeCertificates();
  PASSPHRASE = certs.clientKeyPassphrase;
  writeFileSync(file('not-a-cert.pem'), 'hello\n');
  writeFileSync(file('secret.txt'), 'from-a-file-7c1e\n\n');
});

after(() => {
  certs.remove();
  forgetSecretsForTests();
});

/** BASE with `env` on top; a variable given as its _FILE replaces BASE's value of it. */
function withBase(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...BASE };
  for (const name of Object.keys(env)) if (name.endsWith('_FILE')) delete out[name.slice(0, -'_FILE'.length)];
  return { ...out, ...env };
}

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(withBase(env));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const load = (env: Record<string, string>): WalcastConfig => loadConfig(withBase(env));

describe('secrets from files (<VAR>_FILE)', () => {
  test('a secret is read from its _FILE, trailing line breaks dropped', () => {
    const c = load({ WALCAST_PG_PASSWORD_FILE: file('secret.txt'), WALCAST_ADMIN_TOKEN_FILE: file('secret.txt') });
    assert.equal(c.connector.pg.connection.password, 'from-a-file-7c1e');
    assert.equal(c.worker.http.adminToken, 'from-a-file-7c1e');
  });

  test('every secret setting accepts _FILE, and a value read from one is scrubbed like any secret', () => {
    const secrets = ['WALCAST_PG_URL', 'WALCAST_PG_PASSWORD', 'WALCAST_PG_SSL_KEY_PASSWORD', 'WALCAST_KAFKA_SASL_PASSWORD', 'WALCAST_KAFKA_SSL_KEY_PASSWORD', 'WALCAST_SCHEMA_REGISTRY_URL', 'WALCAST_SCHEMA_REGISTRY_PASSWORD', 'WALCAST_HTTP_SSL_KEY_PASSWORD', 'WALCAST_ADMIN_TOKEN'];
    for (const name of secrets) {
      const found = problems({ [`${name}_FILE`]: file('missing') });
      assert.ok(found.some((p) => p.startsWith(`${name}_FILE: cannot read ${file('missing')} (ENOENT)`)), `${name}: ${found.join(' | ')}`);
    }
    assert.equal(scrub('token=from-a-file-7c1e'), 'token=*****');
  });

  test('both the variable and its _FILE: refused, naming both', () => {
    assert.deepEqual(problems({ WALCAST_ADMIN_TOKEN: 'x'.repeat(20), WALCAST_ADMIN_TOKEN_FILE: file('secret.txt') }), ['WALCAST_ADMIN_TOKEN and WALCAST_ADMIN_TOKEN_FILE are both set: set only one']);
  });

  test('_FILE of a setting that is not a secret: refused with the way out', () => {
    assert.deepEqual(problems({ WALCAST_SLOT_FILE: file('secret.txt') }), ['WALCAST_SLOT_FILE: only secrets can be read from a file; set WALCAST_SLOT itself']);
  });

  test('the URL from a file is validated like the variable, its password never echoed', () => {
    writeFileSync(file('url.txt'), 'postgres://u:pw-in-file-91ab@db:notaport/x\n');
    const found = problems({ WALCAST_PG_URL_FILE: file('url.txt') });
    assert.deepEqual(found, ['WALCAST_PG_URL: must be a URL like postgres://user:password@host:5432/database']);
    writeFileSync(file('url.txt'), 'postgres://u:pw-in-file-91ab@db:5432/x\n');
    assert.equal(load({ WALCAST_PG_URL_FILE: file('url.txt') }).connector.pg.connection.url, 'postgres://u:pw-in-file-91ab@db:5432/x');
  });
});

describe('Kafka security', () => {
  test('default: PLAINTEXT, no TLS, no SASL', () => {
    assert.deepEqual(load({}).worker.kafka.security, { protocol: 'PLAINTEXT', tls: null, sasl: null });
  });

  test('SASL_SSL with SCRAM-SHA-512 and a CA file', () => {
    const c = load({
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      WALCAST_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      WALCAST_KAFKA_SASL_USERNAME: 'walcast',
      WALCAST_KAFKA_SASL_PASSWORD: 'sasl-secret-55d1',
      WALCAST_KAFKA_SSL_CA_LOCATION: file('ca.crt'),
    });
    const { security } = c.worker.kafka;
    assert.equal(security.protocol, 'SASL_SSL');
    assert.deepEqual(security.sasl, { mechanism: 'SCRAM-SHA-512', username: 'walcast', password: 'sasl-secret-55d1' });
    assert.deepEqual(security.tls, { ca: [readFileSync(file('ca.crt'), 'utf8').trim()] });
    // The connector runs with the process's Kafka security.
    assert.deepEqual(c.connector.kafka.security, security);
    assert.equal(scrub('password sasl-secret-55d1'), 'password *****');
  });

  test('SASL without mechanism, user or password: one problem naming what is missing', () => {
    assert.deepEqual(problems({ WALCAST_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }), [
      'WALCAST_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs WALCAST_KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), WALCAST_KAFKA_SASL_USERNAME, WALCAST_KAFKA_SASL_PASSWORD',
    ]);
  });

  test('TLS or SASL settings with a protocol that ignores them: refused, naming the protocol to set', () => {
    const found = problems({ WALCAST_KAFKA_SSL_CA_LOCATION: file('ca.crt'), WALCAST_KAFKA_SASL_USERNAME: 'walcast' });
    assert.deepEqual(found, [
      'WALCAST_KAFKA_SSL_CA_LOCATION set but WALCAST_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS: set it to SSL or SASL_SSL',
      'WALCAST_KAFKA_SASL_USERNAME set but WALCAST_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL: set it to SASL_SSL (or SASL_PLAINTEXT)',
    ]);
  });

  test('an unknown protocol or mechanism is refused with the choices', () => {
    const found = problems({ WALCAST_KAFKA_SECURITY_PROTOCOL: 'TLS', WALCAST_KAFKA_SASL_MECHANISM: 'GSSAPI' });
    assert.ok(found.includes('WALCAST_KAFKA_SECURITY_PROTOCOL: must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL: value was "TLS"'), found.join(' | '));
    assert.ok(found.some((p) => p.startsWith('WALCAST_KAFKA_SASL_MECHANISM: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (or empty)')), found.join(' | '));
  });

  test('client certificate: the pair with an encrypted key and its passphrase', () => {
    const c = load({
      WALCAST_KAFKA_SECURITY_PROTOCOL: 'SSL',
      WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION: file('client.crt'),
      WALCAST_KAFKA_SSL_KEY_LOCATION: file('client.enc.key'),
      WALCAST_KAFKA_SSL_KEY_PASSWORD: PASSPHRASE,
    });
    const tls = c.worker.kafka.security.tls!;
    assert.match(tls.cert!, /BEGIN CERTIFICATE/);
    assert.match(tls.key!, /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(tls.passphrase, PASSPHRASE);
  });

  test('certificate files checked at load: wrong passphrase, missing passphrase, key of another certificate, half a pair, not a certificate', () => {
    const ssl = { WALCAST_KAFKA_SECURITY_PROTOCOL: 'SSL', WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION: file('client.crt') };
    assert.deepEqual(problems({ ...ssl, WALCAST_KAFKA_SSL_KEY_LOCATION: file('client.enc.key'), WALCAST_KAFKA_SSL_KEY_PASSWORD: 'wrong-passphrase-0000' }), [
      `WALCAST_KAFKA_SSL_KEY_PASSWORD does not decrypt WALCAST_KAFKA_SSL_KEY_LOCATION (${file('client.enc.key')}): wrong passphrase`,
    ]);
    assert.deepEqual(problems({ ...ssl, WALCAST_KAFKA_SSL_KEY_LOCATION: file('client.enc.key') }), [
      `WALCAST_KAFKA_SSL_KEY_LOCATION: ${file('client.enc.key')} is encrypted: set WALCAST_KAFKA_SSL_KEY_PASSWORD`,
    ]);
    assert.deepEqual(problems({ ...ssl, WALCAST_KAFKA_SSL_KEY_LOCATION: file('other.key') }), [
      `WALCAST_KAFKA_SSL_KEY_LOCATION (${file('other.key')}) is not the private key of the certificate in WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION (${file('client.crt')})`,
    ]);
    assert.deepEqual(problems(ssl), [
      'WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION is set but WALCAST_KAFKA_SSL_KEY_LOCATION is not: a certificate needs both the certificate and its key',
    ]);
    assert.deepEqual(problems({ WALCAST_KAFKA_SECURITY_PROTOCOL: 'SSL', WALCAST_KAFKA_SSL_CA_LOCATION: file('not-a-cert.pem') }), [
      `WALCAST_KAFKA_SSL_CA_LOCATION: ${file('not-a-cert.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    assert.deepEqual(problems({ WALCAST_KAFKA_SECURITY_PROTOCOL: 'SSL', WALCAST_KAFKA_SSL_CA_LOCATION: file('nope.crt') }), [
      `WALCAST_KAFKA_SSL_CA_LOCATION: cannot read ${file('nope.crt')} (ENOENT)`,
    ]);
  });
});

describe('schema registry credentials and CA', () => {
  test('username and password settings; the CA for https', () => {
    const c = load({ WALCAST_SCHEMA_REGISTRY_USERNAME: 'reg', WALCAST_SCHEMA_REGISTRY_PASSWORD: 'reg-secret-8e2f', WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: file('ca.crt') });
    assert.equal(c.worker.registry.username, 'reg');
    assert.equal(c.worker.registry.password, 'reg-secret-8e2f');
    assert.equal(c.worker.registry.ca?.length, 1);
    assert.equal(scrub(`Basic ${Buffer.from('reg:reg-secret-8e2f').toString('base64')}`), 'Basic *****');
  });

  test('credentials in two places, a password without user, a CA for http://: refused', () => {
    assert.deepEqual(problems({ WALCAST_SCHEMA_REGISTRY_URL: 'https://u:p@registry.example', WALCAST_SCHEMA_REGISTRY_USERNAME: 'reg' }), [
      'WALCAST_SCHEMA_REGISTRY_USERNAME is set and WALCAST_SCHEMA_REGISTRY_URL holds user info too: keep the credentials in one place',
    ]);
    assert.deepEqual(problems({ WALCAST_SCHEMA_REGISTRY_PASSWORD: 'x-secret' }), ['WALCAST_SCHEMA_REGISTRY_PASSWORD is set but WALCAST_SCHEMA_REGISTRY_USERNAME is not']);
    assert.deepEqual(problems({ WALCAST_SCHEMA_REGISTRY_URL: 'http://registry.example', WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION: file('ca.crt') }), [
      'WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION is set but WALCAST_SCHEMA_REGISTRY_URL is not https://',
    ]);
  });
});

describe('management API', () => {
  test('listens on loopback by default, without token or TLS', () => {
    const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k:9092' });
    assert.deepEqual(worker.http, { port: 8083, host: '127.0.0.1', tls: null, adminToken: null });
  });

  test('token, host, and HTTPS with an encrypted key', () => {
    const worker = loadWorkerConfig({
      WALCAST_KAFKA_BROKERS: 'k:9092',
      WALCAST_HTTP_HOST: '0.0.0.0',
      WALCAST_ADMIN_TOKEN: 'admin-token-1d4c',
      WALCAST_HTTP_SSL_CERTIFICATE_LOCATION: file('client.crt'),
      WALCAST_HTTP_SSL_KEY_LOCATION: file('client.enc.key'),
      WALCAST_HTTP_SSL_KEY_PASSWORD: PASSPHRASE,
    });
    assert.equal(worker.http.host, '0.0.0.0');
    assert.equal(worker.http.adminToken, 'admin-token-1d4c');
    assert.match(worker.http.tls!.cert!, /BEGIN CERTIFICATE/);
    assert.equal(scrub('Bearer admin-token-1d4c'), 'Bearer *****');
  });

  test('a short or spaced admin token is refused, without echoing it', () => {
    for (const token of ['short', 'has a space in it here']) {
      assert.throws(() => loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k:9092', WALCAST_ADMIN_TOKEN: token }), (e: ConfigError) => {
        assert.deepEqual(e.problems, ['WALCAST_ADMIN_TOKEN: must be at least 16 printable characters without spaces (e.g. from openssl rand -hex 24)']);
        assert.ok(!e.message.includes(token));
        return true;
      });
    }
  });

  test('a host that is a URL or has a port is refused', () => {
    for (const host of ['http://0.0.0.0', '0.0.0.0:8083', '']) {
      assert.throws(() => loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k:9092', WALCAST_HTTP_HOST: host }), (e: ConfigError) => e.problems.some((p) => p.startsWith('WALCAST_HTTP_HOST: must be an IP address or host name')), host);
    }
  });
});

describe('PostgreSQL TLS with libpq\'s sslmode', () => {
  test('nothing set: no ssl option at all (node-postgres\' default, as before)', () => {
    const { connection } = load({}).connector.pg;
    assert.deepEqual(connection.tls, { mode: null });
    assert.equal('ssl' in connectionConfig(connection), false);
  });

  test('sslmode and friends move from the URL into the ssl option; the URL keeps the rest', () => {
    const c = load({ WALCAST_PG_URL: `postgres://walcast:pw-2b7e@db.example:5432/shop?sslmode=verify-full&sslrootcert=${encodeURIComponent(file('ca.crt'))}&application_name=x` });
    const { connection } = c.connector.pg;
    assert.equal(connection.url, 'postgres://walcast:pw-2b7e@db.example:5432/shop?application_name=x');
    assert.equal(connection.tls.mode, 'verify-full');
    const config = connectionConfig(connection);
    assert.equal(config.connectionString, connection.url);
    const ssl = config.ssl as { ca: string[]; rejectUnauthorized: boolean; checkServerIdentity?: unknown };
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(ssl.checkServerIdentity, undefined, 'verify-full keeps Node\'s host name check');
    assert.equal(ssl.ca.length, 1);
  });

  test('libpq\'s meaning of each mode', () => {
    const ca = [readFileSync(file('ca.crt'), 'utf8')];
    assert.equal(sslOption({ mode: 'disable' }), false);
    assert.deepEqual(sslOption({ mode: 'require' }), { rejectUnauthorized: false });
    const requireWithCa = sslOption({ mode: 'require', ca }) as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown };
    assert.equal(requireWithCa.rejectUnauthorized, true, 'require with a root certificate verifies the chain (libpq)');
    assert.equal(requireWithCa.checkServerIdentity(), undefined, '... but not the host');
    const verifyCa = sslOption({ mode: 'verify-ca' }) as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown; ca?: unknown };
    assert.equal(verifyCa.rejectUnauthorized, true);
    assert.equal(verifyCa.ca, undefined, 'no root certificate: Node\'s bundled CAs');
    assert.equal(verifyCa.checkServerIdentity(), undefined);
    assert.deepEqual(sslOption({ mode: 'verify-full', ca }), { ca, rejectUnauthorized: true });
    assert.throws(() => sslOption({ mode: 'prefer' }), /settled against the server/);
  });

  test('node-postgres\' ssl= in the URL keeps its meaning in libpq terms', () => {
    assert.equal(load({ WALCAST_PG_URL: 'postgres://u@db/shop?ssl=true' }).connector.pg.connection.tls.mode, 'verify-full');
    assert.equal(load({ WALCAST_PG_URL: 'postgres://u@db/shop?ssl=no-verify' }).connector.pg.connection.tls.mode, 'require');
  });

  test('variables and URL: the same value is fine, different values are refused', () => {
    assert.equal(load({ WALCAST_PG_URL: 'postgres://u@db/shop?sslmode=require', WALCAST_PG_SSL_MODE: 'require' }).connector.pg.connection.tls.mode, 'require');
    assert.deepEqual(problems({ WALCAST_PG_URL: 'postgres://u@db/shop?sslmode=require', WALCAST_PG_SSL_MODE: 'verify-full' }), [
      'WALCAST_PG_SSL_MODE=verify-full and sslmode=require in WALCAST_PG_URL disagree: set one of them',
    ]);
    assert.deepEqual(problems({ WALCAST_PG_URL: 'postgres://u@db/shop?sslmode=sometimes' }), ['WALCAST_PG_URL: sslmode=sometimes is not one of disable, allow, prefer, require, verify-ca, verify-full']);
  });

  test('a root certificate without sslmode is refused (libpq would silently not verify)', () => {
    assert.deepEqual(problems({ WALCAST_PG_SSL_ROOT_CERT: file('ca.crt') }), [
      'WALCAST_PG_SSL_ROOT_CERT is set without an sslmode: set WALCAST_PG_SSL_MODE=verify-full (or verify-ca, require) to use it',
    ]);
  });

  test('client certificate with an encrypted key; sslpassword in the URL is a secret', () => {
    const url = `postgres://u@db/shop?sslmode=verify-full&sslcert=${encodeURIComponent(file('client.crt'))}&sslkey=${encodeURIComponent(file('client.enc.key'))}&sslpassword=${PASSPHRASE}`;
    const { tls } = load({ WALCAST_PG_URL: url }).connector.pg.connection;
    assert.equal(tls.passphrase, PASSPHRASE);
    assert.match(tls.cert!, /BEGIN CERTIFICATE/);
    assert.equal(scrub(`passphrase ${PASSPHRASE}`), 'passphrase *****');
    assert.deepEqual(problems({ WALCAST_PG_SSL_MODE: 'require', WALCAST_PG_SSL_CERT: file('client.crt'), WALCAST_PG_SSL_KEY: file('client.enc.key'), WALCAST_PG_SSL_KEY_PASSWORD: 'nope-nope' }), [
      `WALCAST_PG_SSL_KEY_PASSWORD does not decrypt WALCAST_PG_SSL_KEY (${file('client.enc.key')}): wrong passphrase`,
    ]);
  });

  test('WALCAST_PG_PASSWORD goes into the connection string, %-encoded; beside a URL password it is refused', () => {
    const { connection } = load({ WALCAST_PG_PASSWORD: 'p@ss%w/rd:1' }).connector.pg;
    const url = new URL(connectionConfig(connection).connectionString!);
    assert.equal(decodeURIComponent(url.password), 'p@ss%w/rd:1');
    assert.deepEqual(problems({ WALCAST_PG_URL: 'postgres://u:inurl@db/shop', WALCAST_PG_PASSWORD: 'x' }), [
      'WALCAST_PG_PASSWORD is set and WALCAST_PG_URL holds a password too: keep it in one place',
    ]);
  });
});
