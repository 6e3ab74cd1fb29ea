// The management API closed by default (GUIDE, invariant 9), over an in-memory connector: reads
// always open; state changes need the admin token when one is set, and otherwise a loopback
// listener reached by a loopback name; never a cross-origin browser request; bodies bounded;
// HTTPS when a certificate is given; every body scrubbed of the process's secrets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { emptyStats, type ConnectorStatus, type ManagedConnector } from '../../src/connector.ts';
import { isLoopback } from '../../src/http/auth.ts';
import { MAX_BODY_BYTES } from '../../src/http/body.ts';
import { startHttpServer, type HttpOptions } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import { forgetSecretsForTests, rememberSecrets } from '../../src/secrets.ts';
import { makeCertificates, type TestCertificates } from '../helpers/certs.ts';

class RecordingConnector implements ManagedConnector {
  readonly name = 'shop';
  readonly type = 'source' as const;
  readonly calls: string[] = [];
  lastError: string | null = null;
  status(): ConnectorStatus {
    return { state: this.lastError ? 'retrying' : 'running', paused: false, lastError: this.lastError, restarts: 0, stats: emptyStats() };
  }
  pause(): void {
    this.calls.push('pause');
  }
  resume(): void {
    this.calls.push('resume');
  }
  restart(): void {
    this.calls.push('restart');
  }
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Call {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** ca: verify against it; ca null: accept any certificate. */
  https?: { ca: string | null };
}

function call(port: number, { method = 'GET', path = '/connectors/shop/status', headers = {}, body, https }: Call): Promise<Answer> {
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const tls = https ? (https.ca === null ? { rejectUnauthorized: false } : { ca: https.ca }) : {};
    const req = send({ host: '127.0.0.1', port, method, path, headers, ...tls, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const servers: Server[] = [];
async function serve(options: Partial<HttpOptions>, connector: RecordingConnector): Promise<number> {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, connectors: () => [connector], log: createLogger('silent'), ...options });
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

let certs: TestCertificates;
before(() => {
  certs = makeCertificates();
});
after(() => {
  for (const server of servers) server.close();
  certs.remove();
  forgetSecretsForTests();
});

const errorBody = (answer: Answer): { error_code: number; message: string } => JSON.parse(answer.body) as { error_code: number; message: string };

describe('no token, loopback listener (the default)', () => {
  test('pause, resume and restart work from a loopback client; reads too', async () => {
    const connector = new RecordingConnector();
    const port = await serve({}, connector);
    assert.equal((await call(port, { method: 'PUT', path: '/connectors/shop/pause' })).status, 202);
    assert.equal((await call(port, { method: 'PUT', path: '/connectors/shop/resume' })).status, 202);
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 204);
    assert.deepEqual(connector.calls, ['pause', 'resume', 'restart']);
    assert.equal((await call(port, {})).status, 200);
  });

  test('a cross-origin form POST is refused and changes nothing', async () => {
    const connector = new RecordingConnector();
    const port = await serve({}, connector);
    // What a browser sends for <form method=post action="http://127.0.0.1:8083/connectors/shop/restart">.
    const form = await call(port, {
      method: 'POST',
      path: '/connectors/shop/restart',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    assert.equal(form.status, 403);
    assert.deepEqual(errorBody(form), { error_code: 403, message: 'cross-origin request refused (Origin https://evil.example): state changes come from an API client, not a web page' });
    // Each signal alone is enough.
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { origin: 'null' } })).status, 403);
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { 'sec-fetch-site': 'same-site' } })).status, 403);
    const plainForm = await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(plainForm.status, 415);
    assert.equal(errorBody(plainForm).error_code, 415);
    assert.deepEqual(connector.calls, []);
    // A same-origin request (Origin equal to the API's own) passes.
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { origin: `http://127.0.0.1:${port}` } })).status, 204);
  });

  test('a host name that is not loopback (DNS rebinding) is refused', async () => {
    const connector = new RecordingConnector();
    const port = await serve({}, connector);
    const rebound = await call(port, { method: 'PUT', path: '/connectors/shop/pause', headers: { host: `attacker.example:${port}` } });
    assert.equal(rebound.status, 403);
    assert.match(errorBody(rebound).message, /loopback host names only \(Host: attacker\.example:\d+\)/);
    assert.equal((await call(port, { method: 'PUT', path: '/connectors/shop/pause', headers: { host: `localhost:${port}` } })).status, 202);
    assert.deepEqual(connector.calls, ['pause']);
  });

  test('no state change on a GET', async () => {
    const connector = new RecordingConnector();
    const port = await serve({}, connector);
    for (const path of ['/connectors/shop/pause', '/connectors/shop/resume', '/connectors/shop/restart']) {
      assert.equal((await call(port, { path })).status, 405, path);
    }
    assert.deepEqual(connector.calls, []);
  });

  test('a body over the limit is refused with 413, announced or not', async () => {
    const connector = new RecordingConnector();
    const port = await serve({}, connector);
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const announced = await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { 'content-type': 'application/json' }, body: big });
    assert.equal(announced.status, 413);
    const chunked = await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big });
    assert.equal(chunked.status, 413);
    assert.deepEqual(connector.calls, []);
  });
});

describe('no token, listening beyond loopback', () => {
  test('state changes are refused with 403; reads stay open', async () => {
    const connector = new RecordingConnector();
    const port = await serve({ host: '0.0.0.0' }, connector);
    for (const [method, path] of [['PUT', '/connectors/shop/pause'], ['PUT', '/connectors/shop/resume'], ['POST', '/connectors/shop/restart']] as const) {
      const answer = await call(port, { method, path });
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.deepEqual(errorBody(answer), { error_code: 403, message: 'state changes are refused: the management API listens on 0.0.0.0, beyond loopback, and WALCAST_ADMIN_TOKEN is not set' });
    }
    assert.deepEqual(connector.calls, []);
    for (const path of ['/', '/health', '/ready', '/metrics', '/connectors', '/connectors/shop/status']) assert.equal((await call(port, { path })).status, 200, path);
  });
});

describe('with WALCAST_ADMIN_TOKEN', () => {
  const token = 'admin-token-for-tests-8c2d';

  test('listening on 0.0.0.0: without the token 401 (Connect\'s body, WWW-Authenticate), a wrong one 401, the right one works', async () => {
    const connector = new RecordingConnector();
    const port = await serve({ host: '0.0.0.0', adminToken: token }, connector);
    const anonymous = await call(port, { method: 'PUT', path: '/connectors/shop/pause' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="walcast"');
    assert.deepEqual(errorBody(anonymous), { error_code: 401, message: 'this call changes state: it needs the admin token (Authorization: Bearer <WALCAST_ADMIN_TOKEN>)' });
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { authorization: `Bearer ${token}x` } })).status, 401);
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` } })).status, 401);
    assert.deepEqual(connector.calls, []);
    assert.equal((await call(port, { method: 'PUT', path: '/connectors/shop/pause', headers: { authorization: `Bearer ${token}` } })).status, 202);
    assert.equal((await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { authorization: `bearer ${token}` } })).status, 204);
    assert.deepEqual(connector.calls, ['pause', 'restart']);
    assert.equal((await call(port, {})).status, 200, 'reads need no token');
  });

  test('on loopback too, the token is required once set', async () => {
    const connector = new RecordingConnector();
    const port = await serve({ adminToken: token }, connector);
    assert.equal((await call(port, { method: 'PUT', path: '/connectors/shop/pause' })).status, 401);
    assert.deepEqual(connector.calls, []);
  });

  test('the token does not let a cross-origin request through', async () => {
    const connector = new RecordingConnector();
    const port = await serve({ host: '0.0.0.0', adminToken: token }, connector);
    const answer = await call(port, { method: 'POST', path: '/connectors/shop/restart', headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' } });
    assert.equal(answer.status, 403);
    assert.deepEqual(connector.calls, []);
  });
});

describe('HTTPS and secrets', () => {
  test('with a certificate the API speaks HTTPS (encrypted key and passphrase), and the token still applies', async () => {
    const connector = new RecordingConnector();
    const tls = { cert: readFileSync(certs.serverCert, 'utf8'), key: readFileSync(certs.serverKey, 'utf8') };
    const port = await serve({ tls, adminToken: 'https-token-77aa' }, connector);
    const https = { ca: readFileSync(certs.caCert, 'utf8') };
    assert.equal((await call(port, { https })).status, 200);
    assert.equal((await call(port, { https, method: 'PUT', path: '/connectors/shop/pause' })).status, 401);
    assert.equal((await call(port, { https, method: 'PUT', path: '/connectors/shop/pause', headers: { authorization: 'Bearer https-token-77aa' } })).status, 202);
    await assert.rejects(call(port, {}), 'plain HTTP is not served');
    // An encrypted key is opened with its passphrase (that certificate names no host: not verified here).
    const encrypted = { cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8'), passphrase: certs.clientKeyPassphrase };
    const port2 = await serve({ tls: encrypted }, new RecordingConnector());
    assert.equal((await call(port2, { https: { ca: null } })).status, 200);
  });

  test('a secret in a status answer is scrubbed', async () => {
    const connector = new RecordingConnector();
    rememberSecrets(['leaked-password-4b1f']);
    connector.lastError = 'connecting to postgres://u:leaked-password-4b1f@db failed';
    const port = await serve({}, connector);
    const answer = await call(port, {});
    assert.equal(answer.status, 200);
    assert.ok(!answer.body.includes('leaked-password-4b1f'), answer.body);
    assert.match(answer.body, /postgres:\/\/u:\*\*\*\*\*@db/);
  });
});

test('isLoopback', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'api.localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', 'localhost.example.com', '128.0.0.1', '']) assert.ok(!isLoopback(host), host);
});
