import { pino, type Logger } from 'pino';

export type { Logger };

/** Removes the password from a postgres:// or http:// URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '*****';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** Structured JSON logs on stdout; secrets are scrubbed by key wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'walcast' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'url', '*.url', 'connectionString', '*.connectionString'], censor: '*****' },
  });
}
