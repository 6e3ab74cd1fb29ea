/**
 * Every PostgreSQL connection walcast opens, replication or not, comes from here, so that each one
 * renders values the way the decoders parse them (a snapshot or polling query must decode exactly
 * like the stream: pgoutput renders values with the walsender's session settings), and each one
 * uses the same TLS settings and credentials.
 */
import pg from 'pg';
import { sslOption, type PgTls } from './tls.ts';

/** Session settings the decoders rely on (decode/temporal.ts, decode/scalars.ts). */
export const PINNED_SESSION_OPTIONS = '-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3';

export const APPLICATION_NAME = 'walcast';

/** Where and how to connect: the URL (without TLS parameters), a password kept apart from it, TLS. */
export interface PgConnection {
  url: string;
  /** Overrides the URL's password (WALCAST_PG_PASSWORD); null: the URL's, if any. */
  password: string | null;
  tls: PgTls;
}

/** A connection to `url` exactly as given (tests, tools): no TLS settings beyond node-postgres' own. */
export function plainConnection(url: string): PgConnection {
  return { url, password: null, tls: { mode: null } };
}

/** host:port of the server, for messages. */
export function pgAddress(connection: PgConnection): string {
  const url = new URL(connection.url);
  return `${url.hostname || 'localhost'}:${url.port || 5432}`;
}

function urlWithPassword(connection: PgConnection): string {
  if (connection.password === null) return connection.url;
  // node-postgres lets the URL's (even empty) password win over a `password` option: put it there,
  // %-encoded, as pg-connection-string decodes it.
  const url = new URL(connection.url);
  url.password = encodeURIComponent(connection.password);
  return url.toString();
}

/** Connection settings for a walcast connection; `replication: 'database'` for a walsender. */
export function connectionConfig(connection: PgConnection, options: { replication?: 'database' } = {}): pg.ClientConfig {
  const ssl = sslOption(connection.tls);
  return {
    connectionString: urlWithPassword(connection),
    application_name: APPLICATION_NAME,
    options: PINNED_SESSION_OPTIONS,
    ...(ssl !== undefined ? { ssl } : {}),
    ...(options.replication ? { replication: options.replication } : {}),
  };
}

/** A new, not yet connected client with walcast's session and TLS settings. */
export function newClient(connection: PgConnection): pg.Client {
  return new pg.Client(connectionConfig(connection));
}

async function connects(connection: PgConnection): Promise<unknown> {
  const client = newClient(connection);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return null;
  } catch (error) {
    return error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Settles libpq's prefer and allow against the server, once per session, as libpq does per
 * connection: prefer uses TLS (not verified) unless the server does not offer it; allow connects
 * without TLS unless the server refuses that. Other modes are returned as they are.
 */
export async function negotiateTls(connection: PgConnection): Promise<PgConnection> {
  const { tls } = connection;
  const encrypted: PgConnection = { ...connection, tls: { mode: 'require', cert: tls.cert, key: tls.key, passphrase: tls.passphrase } };
  const plain: PgConnection = { ...connection, tls: { mode: 'disable' } };
  if (tls.mode === 'prefer') {
    const error = await connects(encrypted);
    return error instanceof Error && error.message === 'The server does not support SSL connections' ? plain : encrypted;
  }
  if (tls.mode === 'allow') {
    const error = await connects(plain);
    // pg_hba's hostssl-only rules answer 28000 "... no encryption".
    const refusedPlain = (error as { code?: string } | null)?.code === '28000' && /no encryption/.test((error as Error).message);
    return refusedPlain ? encrypted : plain;
  }
  return connection;
}
