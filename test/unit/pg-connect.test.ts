/**
 * The connection factory's settings (src/pg/connect.ts): the pinned session options reach
 * node-postgres whatever the URL carries, since node-postgres lets a URL parameter replace the
 * option of the same name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { connectionConfig, PINNED_SESSION_OPTIONS, plainConnection, type PgConnection } from '../../src/pg/connect.ts';

/** What node-postgres will send: the config as pg itself resolves URL and options. */
function resolved(connection: PgConnection, replication?: 'database'): { options: string | undefined; user: string | undefined; password: unknown; host: string | undefined } {
  const client = new pg.Client(connectionConfig(connection, replication ? { replication } : {}));
  const { options, user, password, host } = (client as unknown as { connectionParameters: { options?: string; user?: string; password?: unknown; host?: string } }).connectionParameters;
  return { options, user, password, host };
}

test('without options in the URL: exactly the pinned settings', () => {
  const config = connectionConfig(plainConnection('postgres://u:p@db:5432/shop'));
  assert.equal(config.options, PINNED_SESSION_OPTIONS);
  assert.equal(config.connectionString, 'postgres://u:p@db:5432/shop', 'the URL is passed on untouched');
  assert.equal(resolved(plainConnection('postgres://u:p@db:5432/shop')).options, PINNED_SESSION_OPTIONS);
});

test('a URL\'s own options= go first and the pins last, so the pins win and the rest applies', () => {
  const own = '-c search_path=app -c DateStyle=SQL,DMY -c extra_float_digits=0';
  const url = `postgres://u:p@db:5432/shop?application_name=x&options=${encodeURIComponent(own)}`;
  for (const replication of [undefined, 'database'] as const) {
    const options = resolved(plainConnection(url), replication).options;
    assert.equal(options, `${own} ${PINNED_SESSION_OPTIONS}`, `replication: ${replication}`);
  }
  assert.doesNotMatch(String(connectionConfig(plainConnection(url)).connectionString), /options=/);
});

test('empty options= in the URL: the pins alone', () => {
  assert.equal(resolved(plainConnection('postgres://u@db/shop?options=')).options, PINNED_SESSION_OPTIONS);
});

test('a password kept apart from the URL still replaces the URL\'s, options= or not', () => {
  for (const url of ['postgres://u:old@db/shop', 'postgres://u@db/shop?options=-c%20search_path%3Dapp']) {
    const r = resolved({ url, password: 'n%w p@ss', tls: { mode: null } });
    assert.equal(r.password, 'n%w p@ss');
    assert.equal(r.user, 'u');
    assert.equal(r.host, 'db');
    assert.ok(r.options?.endsWith(PINNED_SESSION_OPTIONS));
  }
});
