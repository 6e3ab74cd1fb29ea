// Connection settings of the local services started by `npm run services:up`
// (scripts/services.sh writes them to .local/services.env). Variables already set in the
// environment win over the file, so tests can also point at services started some other way.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Services {
  /** superuser walcast_admin, database walcast */
  pgUrl: string;
  /** least-privilege role walcast_repl: LOGIN REPLICATION, SELECT on public, not superuser */
  pgReplUrl: string;
  kafkaBrokers: string[];
  /** Confluent-compatible API of Apicurio Registry, e.g. http://127.0.0.1:18081/apis/ccompat/v7 */
  schemaRegistryUrl: string;
  /** directory of the Kafka jars, for the Java command-line tools (`java -cp "$KAFKA_LIBS/*" ...`) */
  kafkaLibs: string | undefined;
  /** log4j2 config that keeps the Kafka tools' logging on stderr at WARN */
  kafkaToolsLog4j: string | undefined;
  /** a JDK >= 21 */
  java21Home: string | undefined;
}

export const servicesEnvFile = join(import.meta.dirname, '..', '..', '.local', 'services.env');

export class ServicesNotConfiguredError extends Error {
  override name = 'ServicesNotConfiguredError';
}

function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

let cached: Services | undefined;

export function loadServices(file: string = servicesEnvFile): Services {
  if (cached !== undefined && file === servicesEnvFile) return cached;
  const fromFile = existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
  const get = (name: string): string | undefined => {
    const v = process.env[name] ?? fromFile[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const need = (name: string): string => {
    const v = get(name);
    if (v === undefined) {
      throw new ServicesNotConfiguredError(
        existsSync(file)
          ? `${name} is missing from ${file}: run \`npm run services:up\` again to rewrite it`
          : `${file} not found: start the local PostgreSQL, Kafka and schema registry with \`npm run services:up\` ` +
              `(or set ${name} and the other WALCAST_* service variables)`,
      );
    }
    return v;
  };
  const services: Services = {
    pgUrl: need('WALCAST_PG_URL'),
    pgReplUrl: need('PG_REPL_URL'),
    kafkaBrokers: need('WALCAST_KAFKA_BROKERS')
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== ''),
    schemaRegistryUrl: need('WALCAST_SCHEMA_REGISTRY_URL').replace(/\/+$/, ''),
    kafkaLibs: get('KAFKA_LIBS'),
    kafkaToolsLog4j: get('KAFKA_TOOLS_LOG4J'),
    java21Home: get('JAVA21_HOME'),
  };
  if (file === servicesEnvFile) cached = services;
  return services;
}

/** A short random suffix for names (topics, slots, subjects, tables) so tests can rerun against the same services. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Poll `check` until it returns a value other than undefined, or throw after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
