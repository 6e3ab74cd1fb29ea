// `walcast worker` as a child process, and Kafka Connect REST calls to it (what curl would send).
import { freePort } from './scratch-postgres.ts';
import { loadServices, waitFor } from './services.ts';
import { WalcastProcess } from './walcast-process.ts';

export interface RunningWorker {
  process: WalcastProcess;
  base: string;
  /** A REST call with a JSON body; resolves with the status and the parsed body (undefined when empty). */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

/** Starts a worker on a free port with the services' Kafka and registry; resolves once its API listens. */
export async function startWorker(env: Record<string, string>): Promise<RunningWorker> {
  const services = loadServices();
  const process = new WalcastProcess(
    { WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','), WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl, WALCAST_HTTP_PORT: String(await freePort()), ...env },
    ['worker'],
  );
  const listening = await process.waitForLog((l) => l.msg === 'management API listening', 60_000, 'the worker API');
  const base = `http://127.0.0.1:${String(listening.port)}`;
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    // A call that never answers fails the test with its path, instead of hanging the suite.
    const signal = AbortSignal.timeout(60_000);
    const response = await fetch(base + path, { method, signal, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) }).catch((error: unknown) => {
      throw new Error(`${method} ${path} on the worker: ${(error as Error).message}\n${process.output.slice(-3000)}`, { cause: error });
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  return { process, base, call };
}

/** The connector's Connect state (RUNNING, PAUSED, STOPPED, FAILED...) as GET .../status reports it. */
export async function connectorState(worker: RunningWorker, name: string): Promise<string> {
  const { body } = await worker.call('GET', `/connectors/${encodeURIComponent(name)}/status`);
  return (body as { connector?: { state?: string } }).connector?.state ?? 'none';
}

/** Waits until the connector reports `state`; on timeout the error carries its last status and the worker's log. */
export async function waitForState(worker: RunningWorker, name: string, state: string, timeoutMs = 60_000): Promise<void> {
  let last: unknown;
  try {
    await waitFor(`${name} ${state}`, async () => {
      last = (await worker.call('GET', `/connectors/${encodeURIComponent(name)}/status`)).body;
      return (last as { connector?: { state?: string } }).connector?.state === state ? true : undefined;
    }, timeoutMs, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status ${JSON.stringify(last)}\nworker log:\n${worker.process.output.slice(-4000)}`, { cause: error });
  }
}

/** Debezium PostgresConnector's database.* settings for `url`; `password` replaces the URL's (a config-provider reference, say). */
export function debeziumDatabaseSettings(url: URL, password = decodeURIComponent(url.password)): Record<string, string> {
  return {
    'database.hostname': url.hostname,
    'database.port': url.port,
    'database.user': decodeURIComponent(url.username),
    'database.password': password,
    'database.dbname': url.pathname.slice(1),
  };
}

/** A JDBC source polling by an incrementing `id`, every 100 ms, into `<prefix>-<table>` as schemaless JSON. */
export function incrementingJsonSource(prefix: string): Record<string, string> {
  return {
    mode: 'incrementing',
    'incrementing.column.name': 'id',
    'topic.prefix': `${prefix}-`,
    'poll.interval.ms': '100',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
  };
}

/** A JDBC connector's connection settings for `url`: the user setting is connection.user (Confluent's) or connection.username (Debezium's sink). */
export function jdbcConnectionSettings(url: URL, userSetting: 'connection.user' | 'connection.username', password = decodeURIComponent(url.password)): Record<string, string> {
  return {
    'connection.url': `jdbc:postgresql://${url.host}${url.pathname}`,
    [userSetting]: decodeURIComponent(url.username),
    'connection.password': password,
  };
}
