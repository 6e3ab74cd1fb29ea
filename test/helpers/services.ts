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

/**
 * The secured side of the same services (scripts/services.sh): PostgreSQL over TLS, Kafka's SASL_SSL
 * and SSL (client certificate) listeners, the registry behind nginx with TLS and basic auth, and
 * the certificates and passwords they use.
 */
export interface SecuredServices {
  /** role walcast_tls (LOGIN REPLICATION, member of walcast_tls_only: pg_hba rejects it without TLS), no sslmode in the URL */
  pgTlsUrl: string;
  /** role walcast_cert: TLS with the client certificate only (pg_hba `cert`), no password */
  pgCertUrl: string;
  /** SASL_SSL listener: SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN for kafkaSaslUsername */
  kafkaSaslSslBrokers: string[];
  /** SSL listener that requires a client certificate signed by the local CA */
  kafkaSslBrokers: string[];
  kafkaSaslUsername: string;
  kafkaSaslPassword: string;
  /** https://.../apis/ccompat/v7 through nginx, basic auth registryUsername/registryPassword */
  registryTlsUrl: string;
  registryUsername: string;
  registryPassword: string;
  /** PEM files: the CA that signed every server certificate, a CA that signed none of them, the services' server certificate (127.0.0.1, localhost) and key, the client certificate and its encrypted key */
  caFile: string;
  untrustedCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  clientKeyPassword: string;
}

let cached: Services | undefined;

function settingsFrom(file: string): { get: (name: string) => string | undefined; need: (name: string) => string } {
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
  return { get, need };
}

export function loadServices(file: string = servicesEnvFile): Services {
  if (cached !== undefined && file === servicesEnvFile) return cached;
  const { get, need } = settingsFrom(file);
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

const brokerList = (text: string): string[] => text.split(',').map((b) => b.trim()).filter((b) => b !== '');

export function loadSecuredServices(file: string = servicesEnvFile): SecuredServices {
  const { need } = settingsFrom(file);
  return {
    pgTlsUrl: need('PG_TLS_URL'),
    pgCertUrl: need('PG_CERT_URL'),
    kafkaSaslSslBrokers: brokerList(need('KAFKA_SASL_SSL_BROKERS')),
    kafkaSslBrokers: brokerList(need('KAFKA_SSL_BROKERS')),
    kafkaSaslUsername: need('KAFKA_SASL_USERNAME'),
    kafkaSaslPassword: need('KAFKA_SASL_PASSWORD'),
    registryTlsUrl: need('REGISTRY_TLS_URL').replace(/\/+$/, ''),
    registryUsername: need('REGISTRY_USERNAME'),
    registryPassword: need('REGISTRY_PASSWORD'),
    caFile: need('TLS_CA'),
    untrustedCaFile: need('TLS_UNTRUSTED_CA'),
    serverCertFile: need('TLS_SERVER_CERT'),
    serverKeyFile: need('TLS_SERVER_KEY'),
    clientCertFile: need('TLS_CLIENT_CERT'),
    clientKeyFile: need('TLS_CLIENT_KEY'),
    clientKeyPassword: need('TLS_CLIENT_KEY_PASSWORD'),
  };
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
