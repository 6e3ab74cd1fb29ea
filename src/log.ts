import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { CENSOR, scrub } from './secrets.ts';

export type { Logger };

/** Removes the password from a postgres:// or http:// URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = CENSOR;
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** Fields censored wherever they appear, at any depth: they hold a secret or may embed one (URLs). */
const SECRET_KEYS = new Set(['password', 'passphrase', 'sslpassword', 'token', 'authorization', 'secret', 'sasl', 'ssl', 'url', 'connectionString']);

/** Copies of plain objects and arrays with secret-named fields censored; anything else as it is. */
export function redactSecretFields(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((item: unknown) => redactSecretFields(item, seen));
  // Class instances (Buffers, Dates, Errors before their serializer) are left alone; their text
  // is still scrubbed of every known secret value on the way out.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    // A flag (kafkajs logs `ssl: true`) says whether a secret is used, not what it is.
    out[key] = SECRET_KEYS.has(key) && child !== null && child !== undefined && typeof child !== 'boolean' ? CENSOR : redactSecretFields(child, seen);
  }
  return out;
}

/** pino's error serialisation, with secret-named fields censored at any depth (causes included). */
function serializeError(error: Error): unknown {
  const serialized = pino.stdSerializers.err(error);
  try {
    // The standard serializer's objects (and their nested causes) are not plain objects: copy them.
    return redactSecretFields(JSON.parse(JSON.stringify(serialized, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))) as unknown);
  } catch {
    return redactSecretFields({ ...serialized });
  }
}

/**
 * Structured JSON logs on stdout. Secrets never reach them: fields named like a secret are censored
 * at any depth (errors included, after serialisation), and every line is scrubbed of the secret
 * values the process holds (secrets.ts), whatever the level.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'walcast' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    formatters: { log: (object: Record<string, unknown>) => redactSecretFields(object) as Record<string, unknown> },
    hooks: { streamWrite: scrub },
  };
  return destination ? pino(options, destination) : pino(options);
}
