/**
 * `walcast check`, PostgreSQL: can walcast log in, and is the source ready (the connector's own
 * pre-flight, source/cdc/preflight.ts, every result instead of the first failure).
 */
import type { CdcConnectorConfig } from '../config/load.ts';
import { negotiateTls, newClient } from '../pg/connect.ts';
import { pgTlsError } from '../pg/tls.ts';
import { gatherSourceFacts, sourceChecks, type CheckResult } from '../source/cdc/preflight.ts';

/** The source checks, in order; each is skipped when PostgreSQL cannot be reached. */
export const SOURCE_CHECK_IDS = ['postgres.wal_level', 'postgres.replication', 'postgres.tables', 'postgres.select', 'postgres.publication', 'postgres.writes', 'postgres.slot', 'postgres.senders'];

const CONNECT_TIMEOUT_MS = 10_000;

function address(url: string): { where: string; user: string } {
  const parsed = new URL(url);
  return { where: `${parsed.hostname || 'localhost'}:${parsed.port || 5432}/${decodeURIComponent(parsed.pathname.slice(1))}`, user: decodeURIComponent(parsed.username) || '(default user)' };
}

/** Why a login failed, and what to change; never the password. */
function loginFailure(error: unknown, url: string): CheckResult {
  const { where, user } = address(url);
  const code = (error as { code?: string } | null)?.code;
  const message = (error as Error)?.message ?? String(error);
  const fail = (summary: string, fix: string): CheckResult => ({ id: 'postgres.connect', status: 'fail', summary, fix });
  // A refused certificate: the message names the TLS setting to change.
  const tls = pgTlsError(error);
  if (tls) return { id: 'postgres.connect', status: 'fail', summary: tls.message };
  switch (code) {
    case '28P01':
      return fail(`PostgreSQL at ${where} refused the password of role ${user}.`, 'Fix: WALCAST_PG_PASSWORD, or the password in WALCAST_PG_URL.');
    case '28000':
      return fail(`PostgreSQL at ${where} refused role ${user}: ${message}.`, 'Fix: the role in WALCAST_PG_URL, or a pg_hba.conf line that lets it connect from here.');
    case '3D000':
      return fail(`database ${where.split('/')[1]} does not exist on ${where.split('/')[0]}.`, 'Fix: the database name in WALCAST_PG_URL.');
    default:
      return fail(`could not reach PostgreSQL at ${where} (${message}).`, "Fix: WALCAST_PG_URL's host and port, and that PostgreSQL listens there (listen_addresses, firewall).");
  }
}

export async function postgresChecks(config: CdcConnectorConfig): Promise<CheckResult[]> {
  const unreached = (error: unknown): CheckResult[] => [
    loginFailure(error, config.pg.connection.url),
    ...SOURCE_CHECK_IDS.map((id): CheckResult => ({ id, status: 'skip', summary: 'not checked: no PostgreSQL session' })),
  ];
  let client;
  try {
    // sslmode prefer/allow settle as walcast run settles them.
    client = newClient(await negotiateTls(config.pg.connection));
  } catch (error) {
    return unreached(error);
  }
  client.on('error', () => undefined);
  const timer = setTimeout(() => client.end().catch(() => undefined), CONNECT_TIMEOUT_MS);
  try {
    await client.connect();
  } catch (error) {
    return unreached(error);
  } finally {
    clearTimeout(timer);
  }
  try {
    const { where, user } = address(config.pg.connection.url);
    const options = { slot: config.pg.slot, publication: config.pg.publication, tables: config.pg.tables };
    const facts = await gatherSourceFacts(client, options);
    return [{ id: 'postgres.connect', status: 'pass', summary: `logged in to ${where} as ${user}` }, ...sourceChecks(facts, options)];
  } finally {
    await client.end().catch(() => undefined);
  }
}
