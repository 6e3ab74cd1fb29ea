// The management API closed by default (GUIDE, invariant 9), with the real walcast streaming:
// listening on 0.0.0.0 with a token, an unauthenticated pause or restart is refused and changes
// nothing, and the token works; with no token a non-loopback listener refuses state changes; on
// the default loopback listener, a cross-origin form POST is refused; the default host is loopback;
// over HTTPS (verified against the CA), a GET never changes state and an oversized body is refused
// before anything is done; `walcast snapshot` calls the API with the configuration's token and HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { MAX_BODY_BYTES } from '../../src/http/body.ts';
import { capturedSchema } from '../helpers/capture.ts';
import { loadSecuredServices, waitFor } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const it = capturedSchema('apisec', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.t (id int primary key)`);
  },
});
const { prefix } = it;
const cli = join(import.meta.dirname, '..', '..', 'src', 'cli.ts');

/**
 * One HTTP call with exactly these headers (fetch would add its own and forbid some); `ca`: over
 * HTTPS, the server's certificate verified against it.
 */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, method, path, headers, agent: false };
    const send = ca === undefined ? request : httpsRequest;
    const req = send({ ...options, ...(ca === undefined ? {} : { ca }) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A port nothing listens on (WALCAST_HTTP_PORT=0 disables the API rather than picking one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts walcast with the API on `env`'s host; resolves with the process and its port once streaming. */
async function start(env: Record<string, string>): Promise<{ walcast: WalcastProcess; port: number }> {
  const port = await freePort();
  const walcast = new WalcastProcess(it.env({ WALCAST_FORMAT: 'json', WALCAST_HTTP_PORT: String(port), ...env }));
  await walcast.waitForStreaming();
  return { walcast, port };
}

const state = async (port: number, ca?: string): Promise<string> => (JSON.parse((await call(port, 'GET', `/connectors/${prefix}/status`, {}, undefined, ca)).body) as { connector: { state: string } }).connector.state;
const sessions = (walcast: WalcastProcess): number => walcast.lines.filter((l) => l.msg === 'streaming').length;

async function stop(walcast: WalcastProcess): Promise<void> {
  const stopped = await walcast.stop();
  assert.equal(stopped.code, 0, walcast.output.slice(-2000));
}

test('0.0.0.0 with WALCAST_ADMIN_TOKEN: an unauthenticated pause or restart is refused and changes nothing; the token works', async () => {
  const token = `token-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const { walcast, port } = await start({ WALCAST_HTTP_HOST: '0.0.0.0', WALCAST_ADMIN_TOKEN: token });
  try {
    for (const [method, action] of [['PUT', 'pause'], ['POST', 'restart'], ['PUT', 'resume']] as const) {
      const refused = await call(port, method, `/connectors/${prefix}/${action}`);
      assert.equal(refused.status, 401, `${method} ${action}: ${refused.body}`);
      assert.equal((JSON.parse(refused.body) as { error_code: number }).error_code, 401);
      const wrong = await call(port, method, `/connectors/${prefix}/${action}`, { authorization: `Bearer ${token}-not` });
      assert.equal(wrong.status, 401);
    }
    assert.equal(await state(port), 'RUNNING', 'the refused pause did not pause');
    assert.equal(sessions(walcast), 1, 'the refused restart did not restart');

    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await call(port, 'PUT', `/connectors/${prefix}/pause`, auth)).status, 202);
    await waitFor('PAUSED', async () => ((await state(port)) === 'PAUSED' ? true : undefined));
    assert.equal((await call(port, 'PUT', `/connectors/${prefix}/resume`, auth)).status, 202);
    await waitFor('RUNNING', async () => ((await state(port)) === 'RUNNING' ? true : undefined));
    assert.equal((await call(port, 'POST', `/connectors/${prefix}/restart`, auth)).status, 204);
    await waitFor('a second streaming session', () => (sessions(walcast) >= 2 ? true : undefined), 30_000);
    for (const path of ['/health', '/ready', '/metrics', `/connectors/${prefix}/status`]) assert.equal((await call(port, 'GET', path)).status, 200, `${path} needs no token`);
  } finally {
    await stop(walcast);
  }
  assert.ok(!walcast.output.includes(token), 'the token never appears in the output');
  assert.ok(walcast.lines.some((l) => l.msg === 'management API refused a state change'), 'refusals are logged');
});

test('0.0.0.0 without a token: state changes are refused (403), reads answer', async () => {
  const { walcast, port } = await start({ WALCAST_HTTP_HOST: '0.0.0.0' });
  try {
    assert.ok(walcast.lines.some((l) => l.level === 40 && /listens beyond loopback without WALCAST_ADMIN_TOKEN/.test(l.msg)), 'a warning at start');
    for (const [method, action] of [['PUT', 'pause'], ['POST', 'restart']] as const) {
      const refused = await call(port, method, `/connectors/${prefix}/${action}`);
      assert.equal(refused.status, 403, refused.body);
      assert.match((JSON.parse(refused.body) as { message: string }).message, /listens on 0\.0\.0\.0, beyond loopback, and WALCAST_ADMIN_TOKEN is not set/);
    }
    assert.equal(await state(port), 'RUNNING');
    assert.equal(sessions(walcast), 1);
  } finally {
    await stop(walcast);
  }
});

test('default (loopback) listener: a cross-origin form POST is refused, the same call from a local client works; other interfaces are not served', async () => {
  const { walcast, port } = await start({});
  try {
    const listening = walcast.lines.find((l) => l.msg === 'management API listening')!;
    assert.equal(listening.host, '127.0.0.1', 'loopback by default');
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) {
      const reached = await new Promise<boolean>((resolve) => {
        const req = request({ host: external.address, port, path: '/health', agent: false, timeout: 2000 }, () => resolve(true));
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
        req.end();
      });
      assert.equal(reached, false, `not served on ${external.address}`);
    }
    // What a browser sends for <form method="post" action="http://127.0.0.1:8083/connectors/.../restart">.
    const form = await call(port, 'POST', `/connectors/${prefix}/restart`, {
      origin: 'https://attacker.example',
      'sec-fetch-site': 'cross-site',
      'content-type': 'application/x-www-form-urlencoded',
    }, 'x=1');
    assert.equal(form.status, 403, form.body);
    assert.deepEqual(JSON.parse(form.body), { error_code: 403, message: 'cross-origin request refused (Origin https://attacker.example): state changes come from an API client, not a web page' });
    assert.equal(sessions(walcast), 1, 'the form POST did not restart');
    assert.equal((await call(port, 'POST', `/connectors/${prefix}/restart`)).status, 204);
    await waitFor('a second streaming session', () => (sessions(walcast) >= 2 ? true : undefined), 30_000);
  } finally {
    await stop(walcast);
  }
});

test('HTTPS by setting, verified against the CA: a GET on pause, resume or restart changes nothing (405); an oversized body is refused (413) before acting, announced or chunked', async () => {
  const secured = loadSecuredServices();
  const ca = readFileSync(secured.caFile, 'utf8');
  // Loopback and no token: these calls would be allowed, so only the method and the body size stop them.
  const { walcast, port } = await start({ WALCAST_HTTP_SSL_CERTIFICATE_LOCATION: secured.serverCertFile, WALCAST_HTTP_SSL_KEY_LOCATION: secured.serverKeyFile });
  const over = (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) => call(port, method, path, headers, body, ca);
  try {
    assert.equal(walcast.lines.find((l) => l.msg === 'management API listening')?.https, true);
    assert.equal((await over('GET', '/health')).status, 200, 'served over HTTPS, the certificate verified against the CA');
    await assert.rejects(call(port, 'GET', '/health'), 'plain HTTP is not served on that port');

    for (const action of ['pause', 'resume', 'restart']) {
      const answer = await over('GET', `/connectors/${prefix}/${action}`);
      assert.equal(answer.status, 405, `GET ${action}: ${answer.body}`);
      assert.equal((JSON.parse(answer.body) as { error_code: number }).error_code, 405);
    }

    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const json = { 'content-type': 'application/json' };
    assert.equal((await over('POST', `/connectors/${prefix}/restart`, json, big)).status, 413, 'announced (Content-Length)');
    assert.equal((await over('POST', `/connectors/${prefix}/restart`, { ...json, 'transfer-encoding': 'chunked' }, big)).status, 413, 'chunked, counted while read');
    assert.equal((await over('PUT', `/connectors/${prefix}/pause`, json, big)).status, 413);
    assert.equal(await state(port, ca), 'RUNNING', 'neither the GETs nor the refused bodies paused');
    assert.equal(sessions(walcast), 1, 'neither the GETs nor the refused bodies restarted');

    // The same restart with a body within the limit is carried out: the 413s were the size alone.
    assert.equal((await over('POST', `/connectors/${prefix}/restart`, json, '{}')).status, 204);
    await waitFor('a second streaming session', () => (sessions(walcast) >= 2 ? true : undefined), 30_000);
  } finally {
    await stop(walcast);
  }
});

test('`walcast snapshot` reaches a token-protected HTTPS API with the same configuration; without the token it is refused', async () => {
  const secured = loadSecuredServices();
  const token = `snapshot-token-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  // A certificate signed by a CA the command is not told about: it pins the API's own certificate.
  const https = { WALCAST_HTTP_SSL_CERTIFICATE_LOCATION: secured.serverCertFile, WALCAST_HTTP_SSL_KEY_LOCATION: secured.serverKeyFile };
  const { walcast, port } = await start({ WALCAST_HTTP_HOST: '0.0.0.0', WALCAST_ADMIN_TOKEN: token, ...https });
  const command = (env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WALCAST_')));
    return new Promise((resolve) => {
      execFile(process.execPath, [cli, 'snapshot', ...args], { env: { ...base, ...it.env({ WALCAST_FORMAT: 'json', WALCAST_HTTP_PORT: String(port), ...env }) }, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
    });
  };
  try {
    // No snapshot runs: a 409 proves the call passed TLS and the token and reached the connector.
    const withToken = await command({ WALCAST_HTTP_HOST: '0.0.0.0', WALCAST_ADMIN_TOKEN: token, ...https }, '--pause');
    assert.match(withToken.out, /walcast snapshot: 409 no snapshot is running/);
    const withoutToken = await command({ WALCAST_HTTP_HOST: '0.0.0.0', ...https }, '--pause');
    assert.match(withoutToken.out, /walcast snapshot: 401 this call changes state: it needs the admin token/);
    assert.ok(!withToken.out.includes(token) && !withoutToken.out.includes(token));
  } finally {
    await stop(walcast);
  }
});
