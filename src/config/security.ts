/**
 * The security settings of each service, from validated variables to what the clients take:
 * files read and checked, combinations checked (a setting that the chosen protocol would ignore is
 * a mistake worth stopping for), and every secret remembered so that it is scrubbed from
 * whatever leaves the process (secrets.ts).
 */
import { SASL_MECHANISMS, SECURITY_PROTOCOLS, type KafkaSecurity } from '../kafka/security.ts';
import { modeOfSslParameter, splitTlsParameters, SSL_MODES, type PgTls, type SslMode, type UrlTlsParameter } from '../pg/tls.ts';
import type { PgConnection } from '../pg/connect.ts';
import { rememberCredentials, rememberSecrets, rememberUrlSecrets } from '../secrets.ts';
import { canonical } from './formats.ts';
import { readTlsFiles, type Setting, type TlsMaterial } from './tls-files.ts';

/** A setting with its variable's name, set or not (readTlsFiles names unset ones in its problems). */
const setting = (variable: string, value: string): Setting => ({ variable, value });

/** Kafka: the raw process settings of `kafka.*` in worker-schema.ts. */
export interface RawKafkaSecurity {
  securityProtocol: string;
  saslMechanism: string;
  saslUsername: string;
  saslPassword: string;
  sslCaLocation: string;
  sslCertificateLocation: string;
  sslKeyLocation: string;
  sslKeyPassword: string;
}

export function kafkaSecurityFrom(raw: RawKafkaSecurity, problems: string[]): KafkaSecurity {
  const protocol = canonical(raw.securityProtocol, SECURITY_PROTOCOLS) ?? 'PLAINTEXT';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT';
  rememberCredentials(raw.saslUsername, raw.saslPassword);
  rememberSecrets([raw.sslKeyPassword]);
  const given = (variable: string, value: string): string[] => (value !== '' ? [variable] : []);
  const tlsVariables = [
    ...given('WALCAST_KAFKA_SSL_CA_LOCATION', raw.sslCaLocation),
    ...given('WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION', raw.sslCertificateLocation),
    ...given('WALCAST_KAFKA_SSL_KEY_LOCATION', raw.sslKeyLocation),
    ...given('WALCAST_KAFKA_SSL_KEY_PASSWORD', raw.sslKeyPassword),
  ];
  const saslVariables = [
    ...given('WALCAST_KAFKA_SASL_MECHANISM', raw.saslMechanism),
    ...given('WALCAST_KAFKA_SASL_USERNAME', raw.saslUsername),
    ...given('WALCAST_KAFKA_SASL_PASSWORD', raw.saslPassword),
  ];
  // Settings the protocol ignores: most likely the protocol is what was forgotten.
  if (!usesTls && tlsVariables.length > 0) {
    problems.push(`${tlsVariables.join(', ')} set but WALCAST_KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS: set it to SSL or SASL_SSL`);
  }
  if (!usesSasl && saslVariables.length > 0) {
    problems.push(`${saslVariables.join(', ')} set but WALCAST_KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL: set it to SASL_SSL (or SASL_PLAINTEXT)`);
  }
  let sasl: KafkaSecurity['sasl'] = null;
  if (usesSasl) {
    const mechanism = canonical(raw.saslMechanism, SASL_MECHANISMS);
    const missing = [
      ...(mechanism ? [] : ['WALCAST_KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)']),
      ...(raw.saslUsername ? [] : ['WALCAST_KAFKA_SASL_USERNAME']),
      ...(raw.saslPassword ? [] : ['WALCAST_KAFKA_SASL_PASSWORD']),
    ];
    if (missing.length > 0) problems.push(`WALCAST_KAFKA_SECURITY_PROTOCOL=${protocol} needs ${missing.join(', ')}`);
    else sasl = { mechanism: mechanism!, username: raw.saslUsername, password: raw.saslPassword };
  }
  let tls: TlsMaterial | null = null;
  if (usesTls) {
    tls =
      readTlsFiles(
        {
          ca: setting('WALCAST_KAFKA_SSL_CA_LOCATION', raw.sslCaLocation),
          cert: setting('WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION', raw.sslCertificateLocation),
          key: setting('WALCAST_KAFKA_SSL_KEY_LOCATION', raw.sslKeyLocation),
          passphrase: setting('WALCAST_KAFKA_SSL_KEY_PASSWORD', raw.sslKeyPassword),
        },
        problems,
      ) ?? null;
    rememberSecrets([tls?.key]);
  }
  return { protocol, tls, sasl };
}

/** The schema registry: where, with which credentials, trusting which CA. */
export interface RegistryConfig {
  /** As configured (may hold user info, which the client turns into basic auth). */
  url: string;
  username: string | null;
  password: string | null;
  /** CA certificates for an https:// registry; undefined: Node's bundled CAs. */
  ca?: string[];
}

export function registryFrom(raw: { url: string; username: string; password: string; sslCaLocation: string }, problems: string[]): RegistryConfig {
  rememberUrlSecrets(raw.url);
  rememberCredentials(raw.username, raw.password);
  let urlHasUser = false;
  let https = false;
  try {
    const url = new URL(raw.url);
    urlHasUser = url.username !== '' || url.password !== '';
    https = url.protocol === 'https:';
  } catch {
    // reported by the URL's own validation
  }
  if (raw.password && !raw.username) problems.push('WALCAST_SCHEMA_REGISTRY_PASSWORD is set but WALCAST_SCHEMA_REGISTRY_USERNAME is not');
  if (raw.username && urlHasUser) {
    problems.push('WALCAST_SCHEMA_REGISTRY_USERNAME is set and WALCAST_SCHEMA_REGISTRY_URL holds user info too: keep the credentials in one place');
  }
  const out: RegistryConfig = { url: raw.url, username: raw.username || null, password: raw.username ? raw.password : null };
  if (raw.sslCaLocation) {
    if (raw.url && !https) problems.push('WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION is set but WALCAST_SCHEMA_REGISTRY_URL is not https://');
    const material = readTlsFiles({ ca: setting('WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION', raw.sslCaLocation) }, problems);
    if (material?.ca) out.ca = material.ca;
  }
  return out;
}

/** The management API's own TLS and the admin token. */
export interface HttpSecurity {
  tls: TlsMaterial | null;
  adminToken: string | null;
}

export function httpSecurityFrom(raw: { adminToken: string; sslCertificateLocation: string; sslKeyLocation: string; sslKeyPassword: string }, problems: string[]): HttpSecurity {
  rememberSecrets([raw.adminToken, raw.sslKeyPassword]);
  let tls: TlsMaterial | null = null;
  if (raw.sslCertificateLocation || raw.sslKeyLocation || raw.sslKeyPassword) {
    tls =
      readTlsFiles(
        {
          cert: setting('WALCAST_HTTP_SSL_CERTIFICATE_LOCATION', raw.sslCertificateLocation),
          key: setting('WALCAST_HTTP_SSL_KEY_LOCATION', raw.sslKeyLocation),
          passphrase: setting('WALCAST_HTTP_SSL_KEY_PASSWORD', raw.sslKeyPassword),
        },
        problems,
      ) ?? null;
    rememberSecrets([tls?.key]);
  }
  return { tls, adminToken: raw.adminToken || null };
}

/** PostgreSQL: the raw connector settings of `pg.*` in connector-schema.ts. */
export interface RawPgSecurity {
  url: string;
  password: string;
  sslMode: string;
  sslRootCert: string;
  sslCert: string;
  sslKey: string;
  sslKeyPassword: string;
}

/** A URL parameter and the variable that may say the same: one value, or a problem when they disagree. */
function merged(variable: string, value: string, parameter: UrlTlsParameter, parameters: Partial<Record<UrlTlsParameter, string>>, problems: string[]): Setting | undefined {
  const urlVariable = variable.replace(/_SSL_.*$/, '_URL');
  const fromUrl = parameters[parameter];
  if (value && fromUrl !== undefined && fromUrl !== value) {
    // Neither value is echoed: sslpassword is a secret, and paths need not be.
    problems.push(`${variable} and ${parameter}= in ${urlVariable} disagree: set one of them`);
    return undefined;
  }
  if (value) return { variable, value };
  if (fromUrl !== undefined && fromUrl !== '') return { variable: `${parameter}= in ${urlVariable}`, value: fromUrl };
  return undefined;
}

function safeUser(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username);
  } catch {
    return '';
  }
}

/** `prefix` names the variables in problems: WALCAST_PG for the source, WALCAST_SINK_PG for the sink's target. */
export function pgConnectionFrom(raw: RawPgSecurity, problems: string[], prefix = 'WALCAST_PG'): PgConnection {
  rememberUrlSecrets(raw.url);
  rememberSecrets([raw.sslKeyPassword]);
  let split: ReturnType<typeof splitTlsParameters>;
  try {
    split = splitTlsParameters(raw.url);
  } catch {
    return { url: raw.url, password: null, tls: { mode: null } }; // the URL's own validation reports it
  }
  const { parameters } = split;
  rememberSecrets([parameters.sslpassword]);
  rememberCredentials(safeUser(raw.url), raw.password);
  if (raw.password && new URL(raw.url).password) {
    problems.push(`${prefix}_PASSWORD is set and ${prefix}_URL holds a password too: keep it in one place`);
  }

  let urlMode: SslMode | undefined;
  if (parameters.sslmode !== undefined) {
    urlMode = canonical(parameters.sslmode, SSL_MODES);
    if (!urlMode) problems.push(`${prefix}_URL: sslmode=${parameters.sslmode} is not one of ${SSL_MODES.join(', ')}`);
  } else if (parameters.ssl !== undefined) {
    urlMode = modeOfSslParameter(parameters.ssl);
    if (!urlMode) problems.push(`${prefix}_URL: ssl=${parameters.ssl} is not understood: use sslmode= (libpq's disable ... verify-full)`);
  }
  const variableMode = canonical(raw.sslMode, SSL_MODES);
  if (variableMode && urlMode && variableMode !== urlMode) {
    problems.push(`${prefix}_SSL_MODE=${variableMode} and sslmode=${urlMode} in ${prefix}_URL disagree: set one of them`);
  }
  const mode: SslMode | null = variableMode ?? urlMode ?? null;

  const rootCert = merged(`${prefix}_SSL_ROOT_CERT`, raw.sslRootCert, 'sslrootcert', parameters, problems);
  const cert = merged(`${prefix}_SSL_CERT`, raw.sslCert, 'sslcert', parameters, problems);
  const key = merged(`${prefix}_SSL_KEY`, raw.sslKey, 'sslkey', parameters, problems);
  const passphrase = merged(`${prefix}_SSL_KEY_PASSWORD`, raw.sslKeyPassword, 'sslpassword', parameters, problems);
  if (rootCert && mode === null) {
    // libpq would fall back to prefer and verify nothing: surely not what a CA was given for.
    problems.push(`${rootCert.variable} is set without an sslmode: set ${prefix}_SSL_MODE=verify-full (or verify-ca, require) to use it`);
  }
  const material = readTlsFiles({ ca: rootCert, cert, key, passphrase }, problems, { allowSystemCa: true });
  rememberSecrets([material?.key]);
  const tls: PgTls = { mode, ...material };
  return { url: split.url, password: raw.password || null, tls };
}
