/**
 * The few Confluent schema-registry calls walcast needs when producing. A plain HTTP client rather
 * than @kafkajs/confluent-schema-registry's register(), which insists that each subject's
 * compatibility equals one fixed level and throws otherwise (GUIDE); walcast respects whatever
 * level the operator configured and only registers.
 *
 * node:http(s) rather than fetch: fetch takes no CA without an undici dispatcher (not a direct
 * dependency), and reports a refused certificate as "fetch failed" with the cause two levels down;
 * here it becomes an error naming the setting to change.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { RegistryConfig } from '../config/security.ts';
import { ExitCode, WalcastError } from '../errors.ts';
import { basicCredentials } from '../secrets.ts';
import { describeTlsFailure, tlsFailure } from '../tls-errors.ts';

export class IncompatibleSchemaError extends WalcastError {
  readonly subject: string;
  constructor(subject: string, detail: string) {
    super('WALCAST_INCOMPATIBLE_SCHEMA', `schema registry rejected a new version of subject ${subject} as incompatible: ${detail}`, ExitCode.incompatibleSchema);
    this.subject = subject;
  }
}

export class RegistryUnavailableError extends Error {
  readonly code = 'WALCAST_REGISTRY_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryUnavailableError';
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

const TLS_SETTINGS = { ca: 'WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION', clientCertificate: 'a client certificate (walcast has no setting for one)', mode: 'the scheme of WALCAST_SCHEMA_REGISTRY_URL (https:// or http://)' };

export class SchemaRegistryClient {
  /** The API's path below the origin, without a trailing slash ('' at the root). */
  private readonly basePath: string;
  /** Where the registry is, for messages: scheme, host and port (never the user info). */
  readonly origin: string;
  private readonly authorization: string | undefined;
  /** Credentials came from the URL's user info rather than the username/password settings. */
  private readonly credentialsInUrl: boolean;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly ids = new Map<string, number>();

  /** A registry URL (user info becomes basic auth), or the full registry settings. */
  constructor(config: RegistryConfig | string) {
    const settings: RegistryConfig = typeof config === 'string' ? { url: config, username: null, password: null } : config;
    const parsed = new URL(settings.url);
    this.credentialsInUrl = parsed.username !== '';
    if (settings.username !== null) {
      this.authorization = 'Basic ' + basicCredentials(settings.username, settings.password ?? '');
    } else if (parsed.username) {
      this.authorization = 'Basic ' + basicCredentials(decodeURIComponent(parsed.username), decodeURIComponent(parsed.password));
    }
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.origin = parsed.origin;
    this.agent = parsed.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ...(settings.ca ? { ca: settings.ca } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  private request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(this.basePath + path, this.origin);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          agent: this.agent,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          headers: {
            'content-type': 'application/vnd.schemaregistry.v1+json',
            accept: 'application/vnd.schemaregistry.v1+json, application/json',
            ...(payload !== undefined ? { 'content-length': Buffer.byteLength(payload) } : {}),
            ...(this.authorization ? { authorization: this.authorization } : {}),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => reject(this.failure(method, path, error)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown = text;
            try {
              json = text ? JSON.parse(text) : null;
            } catch {
              // keep text
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.on('error', (error) => reject(this.failure(method, path, error)));
      req.end(payload);
    });
  }

  /** A refused certificate is a setting to change (exit 2); anything else on the way is retried. */
  private failure(method: string, path: string, error: Error): Error {
    const failure = tlsFailure(error);
    if (failure && failure.kind !== 'not-tls') {
      return new WalcastError('WALCAST_TLS', `TLS to the schema registry ${this.origin} failed: ${describeTlsFailure(failure, `the schema registry ${this.origin}`, TLS_SETTINGS)}`, ExitCode.config, { cause: error });
    }
    return new RegistryUnavailableError(`schema registry ${this.origin} unreachable (${method} ${path}): ${error.message}`, { cause: error });
  }

  private authError(status: number, message: string, what: string): WalcastError {
    const fix = this.authorization === undefined
      ? 'it requires credentials: set WALCAST_SCHEMA_REGISTRY_USERNAME and WALCAST_SCHEMA_REGISTRY_PASSWORD'
      : this.credentialsInUrl
        ? 'check the user info in WALCAST_SCHEMA_REGISTRY_URL'
        : 'check WALCAST_SCHEMA_REGISTRY_USERNAME and WALCAST_SCHEMA_REGISTRY_PASSWORD';
    return new WalcastError('WALCAST_REGISTRY_AUTH', `schema registry ${this.origin} refused ${what} (${status}${message ? `: ${message.slice(0, 200)}` : ''}): ${fix}`, ExitCode.config);
  }

  /**
   * At start: reachable, TLS trusted, credentials accepted (GET /config, the smallest read every
   * Confluent-compatible registry serves). A 403 passes: the credentials were accepted, and the
   * account may still register subjects without reading the global configuration.
   */
  async check(): Promise<void> {
    const { status, json } = await this.request('GET', '/config');
    if (status === 401) throw this.authError(status, messageOf(json), "walcast's credentials");
    if (status === 404) throw this.notFound('GET /config');
    if (status >= 500 || status === 0) throw new RegistryUnavailableError(`schema registry ${this.origin} answered ${status} to GET /config: ${messageOf(json).slice(0, 300)}`);
  }

  /** Registers (or finds) `schema` under `subject` and returns its global id. Memoised. */
  async register(subject: string, schema: string): Promise<number> {
    const memoKey = `${subject}\u0000${schema}`;
    const known = this.ids.get(memoKey);
    if (known !== undefined) return known;
    const { status, json } = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });
    if (status === 200) {
      const id = (json as { id?: unknown }).id;
      if (typeof id !== 'number') throw new RegistryUnavailableError(`schema registry answered without an id: ${JSON.stringify(json)}`);
      this.ids.set(memoKey, id);
      return id;
    }
    const message = messageOf(json);
    if (status === 409) throw new IncompatibleSchemaError(subject, message);
    if (status === 401 || status === 403) throw this.authError(status, message, `to register ${subject}`);
    if (status === 404) throw this.notFound(`POST /subjects/${subject}/versions`);
    if (status === 422) throw new WalcastError('WALCAST_INVALID_SCHEMA', `schema registry rejected the schema of ${subject} as invalid: ${message}`, ExitCode.failure);
    throw new RegistryUnavailableError(`schema registry answered ${status} registering ${subject}: ${message.slice(0, 300)}`);
  }

  /** The registry's global compatibility level (GET /config), e.g. BACKWARD; null when the account may not read it (403). */
  async compatibility(): Promise<string | null> {
    const { status, json } = await this.request('GET', '/config');
    if (status === 401) throw this.authError(status, messageOf(json), "walcast's credentials");
    if (status === 403) return null;
    if (status === 404) throw this.notFound('GET /config');
    const level = (json as { compatibilityLevel?: unknown; compatibility?: unknown } | null)?.compatibilityLevel ?? (json as { compatibility?: unknown } | null)?.compatibility;
    if (status !== 200 || typeof level !== 'string') throw new RegistryUnavailableError(`schema registry ${this.origin} answered ${status} to GET /config: ${messageOf(json).slice(0, 300)}`);
    return level;
  }

  /** The schema of the subject's latest version, or null when the subject has none. */
  async latestSchema(subject: string): Promise<string | null> {
    const { status, json } = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (status === 200) {
      const schema = (json as { schema?: unknown } | null)?.schema;
      if (typeof schema !== 'string') throw new RegistryUnavailableError(`schema registry answered without a schema for ${subject}: ${JSON.stringify(json).slice(0, 300)}`);
      return schema;
    }
    if (status === 404) return null;
    if (status === 401 || status === 403) throw this.authError(status, messageOf(json), `reading ${subject}`);
    throw new RegistryUnavailableError(`schema registry answered ${status} reading the latest version of ${subject}`);
  }

  async schemaById(id: number): Promise<string> {
    const { status, json } = await this.request('GET', `/schemas/ids/${id}`);
    if (status === 401 || status === 403) throw this.authError(status, messageOf(json), `the lookup of schema id ${id}`);
    if (status !== 200) throw new RegistryUnavailableError(`schema registry answered ${status} for schema id ${id}`);
    return (json as { schema: string }).schema;
  }

  /** Every Confluent-compatible registry serves these paths: the URL points elsewhere. */
  private notFound(call: string): WalcastError {
    return new WalcastError(
      'WALCAST_CONFIG',
      `schema registry ${this.origin} answered 404 to ${call}: WALCAST_SCHEMA_REGISTRY_URL must be the Confluent-compatible API (for Apicurio: http(s)://host:port/apis/ccompat/v7)`,
      ExitCode.config,
    );
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

function messageOf(json: unknown): string {
  return typeof json === 'object' && json !== null && 'message' in json ? String((json as { message: unknown }).message) : String(json ?? '');
}
