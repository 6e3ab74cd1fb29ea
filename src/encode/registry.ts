/**
 * The few Confluent schema-registry calls walcast needs when producing. Plain fetch rather than
 * @kafkajs/confluent-schema-registry's register(), which insists that each subject's
 * compatibility equals one fixed level and throws otherwise (GUIDE); walcast respects whatever
 * level the operator configured and only registers.
 */
import { ExitCode, WalcastError } from '../errors.ts';

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

export class SchemaRegistryClient {
  private readonly baseUrl: string;
  private readonly authorization: string | undefined;
  private readonly ids = new Map<string, number>();

  constructor(url: string) {
    const parsed = new URL(url);
    // Credentials in the URL become a Basic header; fetch refuses URLs that embed them.
    if (parsed.username) {
      this.authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64');
      parsed.username = '';
      parsed.password = '';
    }
    this.baseUrl = parsed.toString().replace(/\/+$/, '');
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: {
          'content-type': 'application/vnd.schemaregistry.v1+json',
          accept: 'application/vnd.schemaregistry.v1+json, application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new RegistryUnavailableError(`schema registry unreachable (${method} ${path}): ${(error as Error).message}`, { cause: error });
    }
    const text = await response.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // keep text
    }
    return { status: response.status, json };
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
    const message = typeof json === 'object' && json !== null && 'message' in json ? String((json as { message: unknown }).message) : String(json);
    if (status === 409) throw new IncompatibleSchemaError(subject, message);
    if (status === 401 || status === 403) {
      throw new WalcastError('WALCAST_REGISTRY_AUTH', `schema registry refused ${subject} (${status}): ${message}`, ExitCode.config);
    }
    if (status === 422) throw new WalcastError('WALCAST_INVALID_SCHEMA', `schema registry rejected the schema of ${subject} as invalid: ${message}`, ExitCode.failure);
    throw new RegistryUnavailableError(`schema registry answered ${status} registering ${subject}: ${message.slice(0, 300)}`);
  }

  async schemaById(id: number): Promise<string> {
    const { status, json } = await this.request('GET', `/schemas/ids/${id}`);
    if (status !== 200) throw new RegistryUnavailableError(`schema registry answered ${status} for schema id ${id}`);
    return (json as { schema: string }).schema;
  }
}
