import convict from 'convict';
import { configVariables, convictSchema } from './schema.ts';

export interface WalcastConfig {
  pg: { url: string; slot: string; publication: string; tables: string[]; statusIntervalMs: number };
  kafka: {
    brokers: string[];
    clientId: string;
    transactionalId: string;
    transactionTimeoutMs: number;
    openTransactionWaitMs: number;
    offsetsTopic: string;
    topicPartitions: number;
    topicReplicationFactor: number;
  };
  registry: { url: string };
  events: {
    topicPrefix: string;
    format: 'avro' | 'json';
    tombstones: boolean;
    decimalHandling: 'precise' | 'string';
    moneyFractionDigits: number;
    toastPlaceholder: string;
  };
  batch: { maxEvents: number; maxDelayMs: number; maxAgeMs: number; sendChunkEvents: number; maxBufferedMessages: number };
  http: { port: number; host: string };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  startupTimeoutMs: number;
  shutdownTimeoutMs: number;
}

/** One CDC connector's settings; `name` is what the management API calls it. */
export type CdcConnectorConfig = WalcastConfig & { name: string };

export class ConfigError extends Error {
  readonly code = 'WALCAST_CONFIG';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}\nSee docs/configuration.md for every variable and its default.`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function closestVariable(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 4)) ? best : undefined;
}

/** Database name from the URL: the default topic prefix. */
function databaseName(pgUrl: string): string {
  return decodeURIComponent(new URL(pgUrl).pathname.slice(1));
}

/**
 * Reads and validates every WALCAST_* variable. All problems are reported at once, each naming
 * its variable, so an operator fixes the deployment in one round trip.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WalcastConfig {
  const variables = configVariables();
  const known = variables.map((v) => v.env);
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('WALCAST_') && !known.includes(name)) {
      const suggestion = closestVariable(name, known);
      problems.push(`${name} is not a walcast setting${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
  }
  const config = convict(convictSchema, { env, args: [] });
  try {
    config.validate({ allowed: 'strict' });
  } catch (e) {
    for (const line of (e as Error).message.split('\n')) {
      const match = /^([\w.]+): (.*)$/.exec(line.trim());
      const variable = match ? variables.find((v) => v.path === match[1]) : undefined;
      if (match && variable) {
        // convict echoes the offending value; never for a secret.
        const detail = variable.sensitive ? match[2]!.replace(/: value was .*$/, '') : match[2]!;
        problems.push(`${variable.env}: ${detail}`);
      } else if (line.trim()) {
        problems.push(line.trim());
      }
    }
  }
  const raw = config.getProperties() as {
    pg: { url: string; slot: string; publication: string; tables: string; statusIntervalMs: number };
    kafka: Omit<WalcastConfig['kafka'], 'brokers'> & { brokers: string };
    registry: { url: string };
    events: WalcastConfig['events'];
    batch: WalcastConfig['batch'];
    http: WalcastConfig['http'];
    log: WalcastConfig['log'];
    startupTimeoutMs: number;
    shutdownTimeoutMs: number;
  };
  if (raw.events.format === 'avro' && !raw.registry.url) {
    problems.push('WALCAST_SCHEMA_REGISTRY_URL must be set when WALCAST_FORMAT=avro (or set WALCAST_FORMAT=json)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const topicPrefix = raw.events.topicPrefix || databaseName(raw.pg.url);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(topicPrefix)) {
    throw new ConfigError([
      `WALCAST_TOPIC_PREFIX is not set and the database name ${JSON.stringify(topicPrefix)} is not a valid Kafka topic prefix: set WALCAST_TOPIC_PREFIX (A-Z, a-z, 0-9, ".", "_", "-")`,
    ]);
  }
  return {
    pg: {
      ...raw.pg,
      tables: raw.pg.tables.split(',').map((t) => t.trim()).filter((t) => t !== ''),
    },
    kafka: {
      ...raw.kafka,
      brokers: raw.kafka.brokers.split(',').map((b) => b.trim()),
      transactionalId: raw.kafka.transactionalId || `walcast-${topicPrefix}-${raw.pg.slot}`,
    },
    registry: raw.registry,
    events: { ...raw.events, topicPrefix },
    batch: raw.batch,
    http: raw.http,
    log: raw.log,
    startupTimeoutMs: raw.startupTimeoutMs,
    shutdownTimeoutMs: raw.shutdownTimeoutMs,
  };
}
