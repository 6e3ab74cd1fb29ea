/**
 * PostgreSQL JDBC URLs (`jdbc:postgresql://host:port/database?params`), as the JDBC connectors'
 * `connection.url` gives them, turned into walcast's PostgreSQL connection (pgConnectionFrom):
 * the user and password settings or parameters move out of the URL, pgjdbc's TLS parameters keep
 * libpq's meaning, and any other parameter is refused by name.
 */
import type { PgConnection } from '../pg/connect.ts';
import type { ConfigProblem } from '../worker/config-providers.ts';
import { pgConnectionFrom } from './security.ts';

export interface JdbcConnection {
  /** postgres://user@host:port/db?ssl... (no password): WALCAST_PG_URL's form. */
  url: string;
  password: string;
  connection: PgConnection;
  /** pgjdbc's currentSchema parameter (null when absent). */
  searchPath: string[] | null;
}

/** jdbc:postgresql://host:port/db?params as walcast's PostgreSQL connection; the JDBC user and password parameters move out of the URL. */
export function jdbcConnection(config: Record<string, string>, userSetting: string, problems: ConfigProblem[]): JdbcConnection | null {
  const jdbc = config['connection.url']?.trim() ?? '';
  if (!jdbc.startsWith('jdbc:postgresql://')) {
    problems.push({ key: 'connection.url', message: `connection.url must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database); walcast reads PostgreSQL only` });
    return null;
  }
  let url: URL;
  try {
    url = new URL(jdbc.slice('jdbc:'.length).replace(/^postgresql:/, 'postgres:'));
  } catch {
    problems.push({ key: 'connection.url', message: 'connection.url is not a valid URL' });
    return null;
  }
  const user = config[userSetting] ?? url.searchParams.get('user') ?? '';
  const password = config['connection.password'] ?? url.searchParams.get('password') ?? '';
  const currentSchema = url.searchParams.get('currentSchema');
  for (const moved of ['user', 'password', 'currentSchema']) url.searchParams.delete(moved);
  const unknown = [...url.searchParams.keys()].filter((k) => !['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword'].includes(k));
  if (unknown.length > 0) problems.push({ key: 'connection.url', message: `connection.url: parameter(s) ${unknown.join(', ')} not supported (walcast takes currentSchema, sslmode, sslrootcert, sslcert, sslkey, sslpassword)` });
  if (user) url.username = encodeURIComponent(user);
  const pgProblems: string[] = [];
  const connection = pgConnectionFrom({ url: url.toString(), password, sslMode: '', sslRootCert: '', sslCert: '', sslKey: '', sslKeyPassword: '' }, pgProblems);
  for (const message of pgProblems) problems.push({ key: 'connection.url', message: message.replaceAll('WALCAST_PG_URL', 'connection.url') });
  const searchPath = currentSchema === null ? null : currentSchema.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { url: url.toString(), password, connection, searchPath };
}
