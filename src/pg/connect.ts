/**
 * Every PostgreSQL connection walcast opens, replication or not, comes from here, so that each one
 * renders values the way the decoders parse them: a snapshot or polling query must decode exactly
 * like the stream (pgoutput renders values with the walsender's session settings).
 */
import pg from 'pg';

/** Session settings the decoders rely on (decode/temporal.ts, decode/scalars.ts). */
export const PINNED_SESSION_OPTIONS = '-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3';

export const APPLICATION_NAME = 'walcast';

/** Connection settings for a walcast connection to `url`; `replication: 'database'` for a walsender. */
export function connectionConfig(url: string, options: { replication?: 'database' } = {}): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: APPLICATION_NAME,
    options: PINNED_SESSION_OPTIONS,
    ...(options.replication ? { replication: options.replication } : {}),
  };
}

/** A new, not yet connected client with walcast's session settings. */
export function newClient(url: string): pg.Client {
  return new pg.Client(connectionConfig(url));
}
