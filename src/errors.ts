/**
 * Errors that stop walcast carry a stable code (searchable in docs/errors.md) and the process
 * exit code that tells an orchestrator what kind of failure it was.
 */
export const ExitCode = {
  ok: 0,
  /** An unexpected failure (a bug or an unclassified error). */
  failure: 1,
  /** Invalid configuration: fix the environment variables. */
  config: 2,
  /** PostgreSQL is not set up for walcast (wal_level, privileges, publication, slot). */
  sourceSetup: 3,
  /** A service could not be reached in time (PostgreSQL, Kafka, schema registry). */
  unreachable: 4,
  /** The schema registry rejected a schema change as incompatible. */
  incompatibleSchema: 5,
  /** Another instance fenced this one (same transactional id). */
  fenced: 6,
  /**
   * A row (or logical message) walcast cannot publish, under WALCAST_ERRORS_TOLERANCE=none: a
   * value it cannot decode or encode, a change event larger than its topic accepts.
   */
  unpublishableRow: 7,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class WalcastError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  constructor(code: string, message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalcastError';
    this.code = code;
    this.exitCode = exitCode;
  }
}
