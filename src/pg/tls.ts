/**
 * TLS to PostgreSQL with libpq's meaning of sslmode, which PostgreSQL users know, rather than
 * node-postgres' (where `require`, `verify-ca` and `prefer` all verify the host like verify-full,
 * and an `ssl` object beside a URL with sslmode is ignored). walcast takes libpq's TLS parameters
 * out of the URL, merges them with the WALCAST_PG_SSL_* settings (config/security.ts) and hands
 * node-postgres an explicit `ssl` option built here.
 */
import type { ConnectionOptions } from 'node:tls';
import type { TlsMaterial } from '../config/tls-files.ts';
import { ExitCode, WalcastError } from '../errors.ts';
import { describeTlsFailure, tlsFailure } from '../tls-errors.ts';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** TLS settings of PostgreSQL connections, resolved (files read). */
export interface PgTls extends TlsMaterial {
  /** null: nothing configured; node-postgres' default (no TLS) as before these settings existed. */
  mode: SslMode | null;
}

/** libpq's TLS parameters walcast reads from a URL, and node-postgres' `ssl`/`uselibpqcompat`. */
export const URL_TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'ssl', 'uselibpqcompat'] as const;
export type UrlTlsParameter = (typeof URL_TLS_PARAMETERS)[number];

/** The URL without its TLS parameters, and those parameters. */
export function splitTlsParameters(url: string): { url: string; parameters: Partial<Record<UrlTlsParameter, string>> } {
  const parsed = new URL(url);
  const parameters: Partial<Record<UrlTlsParameter, string>> = {};
  for (const name of URL_TLS_PARAMETERS) {
    const value = parsed.searchParams.get(name);
    if (value !== null) parameters[name] = value;
    parsed.searchParams.delete(name);
  }
  return { url: parsed.toString(), parameters };
}

/** node-postgres' `ssl=` URL parameter in libpq's terms (ssl=true verifies like verify-full). */
export function modeOfSslParameter(value: string): SslMode | undefined {
  switch (value.toLowerCase()) {
    case 'true':
    case '1':
      return 'verify-full';
    case 'no-verify':
      return 'require';
    case 'false':
    case '0':
      return 'disable';
    default:
      return undefined;
  }
}

const skipHostCheck = (): undefined => undefined;

/**
 * node-postgres' `ssl` option for a mode walcast has settled (prefer and allow are settled per
 * session by connect.ts's negotiateTls, as they depend on the server). undefined: pg's default.
 */
export function sslOption(tls: PgTls): false | ConnectionOptions | undefined {
  const client = { ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ...(tls.passphrase ? { passphrase: tls.passphrase } : {}) };
  switch (tls.mode) {
    case null:
      return undefined;
    case 'disable':
      return false;
    case 'require':
      // libpq: with a root certificate, require verifies the chain like verify-ca.
      return tls.ca ? { ...client, ca: tls.ca, rejectUnauthorized: true, checkServerIdentity: skipHostCheck } : { ...client, rejectUnauthorized: false };
    case 'verify-ca':
      return { ...client, ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true, checkServerIdentity: skipHostCheck };
    case 'verify-full':
      return { ...client, ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true };
    case 'prefer':
    case 'allow':
      throw new Error(`internal: sslmode=${tls.mode} must be settled against the server first (negotiateTls)`);
  }
}

const TLS_SETTINGS = {
  ca: 'WALCAST_PG_SSL_ROOT_CERT (or sslrootcert in WALCAST_PG_URL)',
  clientCertificate: 'WALCAST_PG_SSL_CERT and WALCAST_PG_SSL_KEY',
  mode: 'WALCAST_PG_SSL_MODE (or sslmode in WALCAST_PG_URL; prefer and allow fall back to no TLS)',
};

/**
 * A WalcastError (exit 2) for a TLS failure on a PostgreSQL connection, else null. Only
 * PostgreSQL's client hands walcast bare TLS errors: Kafka's come wrapped by kafkajs, the
 * registry's are classified where they happen.
 */
export function pgTlsError(error: unknown): WalcastError | null {
  if (error instanceof WalcastError || (error as { name?: unknown } | null)?.name?.toString().startsWith('KafkaJS')) return null;
  const failure = tlsFailure(error);
  if (!failure) return null;
  return new WalcastError('WALCAST_TLS', `TLS to PostgreSQL failed: ${describeTlsFailure(failure, 'the PostgreSQL server', TLS_SETTINGS)}`, ExitCode.config, { cause: error });
}
