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

/**
 * The URL to hand node-postgres, and the session options to send. node-postgres lets every URL
 * parameter replace the option of the same name, so a URL's own `options=` (libpq's session
 * settings: `-c search_path=...`, `-c statement_timeout=...`) would drop the pinned settings
 * altogether. It moves out of the URL and goes first: PostgreSQL applies `-c` settings in order,
 * so the pins after it win and the rest of it still applies.
 */
function urlAndOptions(connection: PgConnection): { url: string; options: string } {
  // Configured URLs parse (config/formats.ts); anything else goes to node-postgres as it is.
  const url = URL.canParse(connection.url) ? new URL(connection.url) : null;
  const own = url?.searchParams.get('options') ?? null;
  if (url === null || (connection.password === null && own === null)) return { url: connection.url, options: PINNED_SESSION_OPTIONS };
  // node-postgres lets the URL's (even empty) password win over a `password` option: put it there,
  // %-encoded, as pg-connection-string decodes it.
  if (connection.password !== null) url.password = encodeURIComponent(connection.password);
  if (own === null) return { url: url.toString(), options: PINNED_SESSION_OPTIONS };
  url.searchParams.delete('options');
  return { url: url.toString(), options: own.trim() === '' ? PINNED_SESSION_OPTIONS : `${own.trim()} ${PINNED_SESSION_OPTIONS}` };
}

/** Connection settings for a walcast connection; `replication: 'database'` for a walsender. */
export function connectionConfig(connection: PgConnection, options: { replication?: 'database' } = {}): pg.ClientConfig {
  const ssl = sslOption(connection.tls);
  const { url, options: sessionOptions } = urlAndOptions(connection);
  return {
    connectionString: url,
    application_name: APPLICATION_NAME,
    options: sessionOptions,
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
