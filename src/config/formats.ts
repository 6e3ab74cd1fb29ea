/**
 * Validators for the configuration schemas: each names what is wrong with a value, never echoing
 * a secret.
 */
import { isIP } from 'node:net';
import convict from 'convict';

export function nonEmpty(name: string) {
  return (value: unknown): void => {
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`${name} must be set`);
  };
}

export function postgresUrl(value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('must be set');
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new Error('must be a URL like postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`must start with postgres:// (got ${url.protocol}//)`);
  }
  if (url.pathname.length <= 1) throw new Error('must name the database, e.g. postgres://user@host:5432/mydb');
  try {
    decodeURIComponent(url.pathname.slice(1));
  } catch {
    throw new Error('has a malformed %-escape in the database name');
  }
}

// convict's Boolean turns every string but "false" into true; a typo must not flip a setting.
convict.addFormat({
  name: 'strict-boolean',
  validate(value: unknown): void {
    if (typeof value !== 'boolean') throw new Error('must be true or false (also accepted: 1/0, yes/no, on/off)');
  },
  coerce(value: unknown): unknown {
    const text = String(value).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return value;
  },
});

export function replicationFactor(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || (value !== -1 && value < 1)) {
    throw new Error('must be -1 (broker default) or a positive integer');
  }
}

export function topicPrefix(value: unknown): void {
  // Topic names allow only these characters; an empty prefix means "the database name", checked at load.
  if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9._-]{1,200}$/.test(value))) {
    throw new Error('must be 1-200 characters of A-Z, a-z, 0-9, ".", "_" and "-" (Kafka topic name rules)');
  }
}

export function topicNameOrEmpty(value: unknown): void {
  if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9._-]{1,249}$/.test(value))) {
    throw new Error('must be 1-249 characters of A-Z, a-z, 0-9, ".", "_" and "-" (Kafka topic name rules)');
  }
}

export function brokerList(value: unknown): void {
  nonEmpty('WALCAST_KAFKA_BROKERS')(value);
  for (const broker of String(value).split(',')) {
    if (!/^[^\s:,]+:\d{1,5}$/.test(broker.trim())) {
      throw new Error(`"${broker.trim()}" is not host:port (expected e.g. kafka-1:9092,kafka-2:9092)`);
    }
  }
}

export function httpUrlOrEmpty(value: unknown): void {
  if (value === '' || value === null || value === undefined) return;
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new Error('must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http(s) URL');
}

export function identifier(name: string) {
  return (value: unknown): void => {
    // Replication slot names are restricted by PostgreSQL to lower-case letters, digits and underscores.
    if (typeof value !== 'string' || !/^[a-z0-9_]{1,63}$/.test(value)) {
      throw new Error(`${name} must be 1-63 characters of a-z, 0-9 and _`);
    }
  };
}

export function positive(value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error('must be a positive integer');
}

/** One of `values`, in any letter case (load.ts normalises it with canonical()). */
export function oneOf(values: readonly string[]) {
  return (value: unknown): void => {
    if (canonical(value, values) === undefined) {
      throw new Error(`must be one of ${values.filter((v) => v !== '').join(', ')}${values.includes('') ? ' (or empty)' : ''}`);
    }
  };
}

/** The member of `values` that `value` spells, ignoring letter case. */
export function canonical<T extends string>(value: unknown, values: readonly T[]): T | undefined {
  if (typeof value !== 'string') return undefined;
  const wanted = value.trim().toUpperCase();
  return values.find((v) => v.toUpperCase() === wanted);
}

export function httpHost(value: unknown): void {
  // An address or a host name to bind; never a URL or host:port.
  const text = typeof value === 'string' ? value.trim() : '';
  if (isIP(text.replace(/^\[(.*)\]$/, '$1')) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(text)) {
    throw new Error('must be an IP address or host name to listen on, e.g. 127.0.0.1 or 0.0.0.0 (no port, no scheme)');
  }
}

export function adminToken(value: unknown): void {
  // A bearer token guards pause and restart: short or spaced ones are typos or guessable.
  if (value === '' || value === undefined) return;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{16,}$/.test(value)) {
    throw new Error('must be at least 16 printable characters without spaces (e.g. from openssl rand -hex 24)');
  }
}

export function configEncryptionKey(value: unknown): void {
  // It protects every stored connector password: a short passphrase is a guessable one.
  if (value === '' || value === undefined) return;
  if (typeof value !== 'string' || value.length < 16) throw new Error('must be at least 16 characters (e.g. from openssl rand -hex 24)');
}
