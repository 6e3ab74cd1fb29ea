/**
 * walcast's command line: `walcast [run]` streams; `walcast worker` hosts connectors created
 * through Kafka Connect's REST API; `walcast check` runs the pre-flight checks;
 * `walcast setup --print` prints the SQL for an administrator; `walcast tail <topic>` prints a
 * topic's events; `walcast version`. Configuration comes from WALCAST_* environment variables.
 */
import { checksPassed, formatChecks, runChecks } from './check/run.ts';
import { renderSetupSql } from './check/setup-sql.ts';
import { ConfigError, loadConfig, loadSinkConfig, loadWorkerConfig, type WalcastConfig, type WorkerConfig } from './config/load.ts';
import type { ManagedConnector } from './connector.ts';
import { ExitCode, WalcastError } from './errors.ts';
import { startHttpServer } from './http/server.ts';
import { exitOnCrash, stopOnSignals } from './lifecycle.ts';
import { kafkaSecurityError } from './kafka/security.ts';
import { createLogger, redactUrl, type Logger } from './log.ts';
import { newClient, negotiateTls } from './pg/connect.ts';
import { scrub } from './secrets.ts';
import { SinkConnector } from './sink/connector.ts';
import { CdcConnector } from './source/cdc/connector.ts';
import { snapshotCommand } from './snapshot-command.ts';
import { sourceTables } from './source/cdc/publication.ts';
import { tail } from './tail.ts';
import { workerCommand } from './worker-command.ts';
import { WALCAST_VERSION } from './version.ts';
import { Supervisor } from './worker/supervisor.ts';

const USAGE = `usage: walcast [run]                       stream changes (configured by WALCAST_* variables)
       walcast sink                          apply change topics to a PostgreSQL database (WALCAST_SINK_* variables)
       walcast worker                        Kafka Connect's REST API on WALCAST_HTTP_PORT: connectors created over REST (docs/worker.md)
       walcast check                         check PostgreSQL, Kafka and the schema registry; exit 0 when all pass
       walcast setup --print [--role NAME]   print the SQL for a least-privilege role, replica identities and the publication
       walcast tail <topic> [--from-beginning] [--max N]
                                             print a topic's committed events as JSON lines
       walcast snapshot <schema.table>... [--filter "<schema.table>=<SQL condition>"] | --stop | --pause | --resume
                                             incremental snapshot by the running walcast of this configuration
       walcast version
See docs/configuration.md for every variable.`;

/** The configuration from the environment, or null after printing why it is invalid. */
function configOrReport(): WalcastConfig | null {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(scrub(`walcast: ${error.message}\n`));
      return null;
    }
    throw error;
  }
}

async function run(): Promise<number> {
  const config = configOrReport();
  if (!config) return ExitCode.config;
  const { worker, connector } = config;
  const log = createLogger(worker.log.level);
  log.info(
    {
      version: WALCAST_VERSION,
      node: process.version,
      pg: redactUrl(connector.pg.url),
      kafka: worker.kafka.brokers,
      kafkaSecurity: worker.kafka.security.protocol + (worker.kafka.security.sasl ? ` ${worker.kafka.security.sasl.mechanism}` : ''),
      pgSslMode: connector.pg.connection.tls.mode ?? 'none set',
      registry: worker.registry.url ? redactUrl(worker.registry.url) : null,
      format: connector.events.format,
      slot: connector.pg.slot,
      publication: connector.pg.publication,
      tables: connector.pg.tables.length ? connector.pg.tables : 'all',
      topicPrefix: connector.events.topicPrefix,
    },
    'walcast starting',
  );
  return serve(log, new Supervisor(new CdcConnector(connector), { startupTimeoutMs: worker.startupTimeoutMs, log }), worker);
}

/** `walcast sink`: the sink from the environment, under the supervisor, with the management API. */
async function sink(): Promise<number> {
  let config: ReturnType<typeof loadSinkConfig>;
  try {
    config = loadSinkConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(scrub(`walcast sink: ${error.message}\n`));
    return ExitCode.config;
  }
  const { worker, sink: settings } = config;
  const log = createLogger(worker.log.level);
  log.info(
    {
      version: WALCAST_VERSION,
      node: process.version,
      target: redactUrl(settings.pg.url),
      kafka: worker.kafka.brokers,
      registry: worker.registry.url ? redactUrl(worker.registry.url) : null,
      group: settings.groupId,
      topics: settings.topics.length > 0 ? settings.topics : String(settings.topicsRegex),
    },
    'walcast sink starting',
  );
  return serve(log, new Supervisor(new SinkConnector(settings), { startupTimeoutMs: worker.startupTimeoutMs, log }), worker);
}

/** Runs one supervised connector with the management API until a signal or a permanent failure. */
async function serve(log: Logger, service: Supervisor, worker: WorkerConfig): Promise<number> {
  exitOnCrash(log);
  const connectors: readonly ManagedConnector[] = [service];
  const server = worker.http.port > 0 ? await startHttpServer({ ...worker.http, connectors: () => connectors, log }) : null;
  stopOnSignals(log, () => service.stop());
  const code = await service.run();
  server?.close();
  log.info({ exitCode: code }, 'walcast stopped');
  log.flush();
  return code;
}

/** `walcast check`: 0 when every check passes (warnings allowed), 1 when one fails, 2 for invalid configuration. */
async function checkCommand(): Promise<number> {
  const config = configOrReport();
  if (!config) return ExitCode.config;
  const results = await runChecks(config.connector, createLogger('silent'));
  process.stdout.write(scrub(`${formatChecks(results)}\n`));
  return checksPassed(results) ? ExitCode.ok : ExitCode.failure;
}

/** `walcast setup --print [--role NAME]`: the SQL an administrator runs, from the catalog and WALCAST_TABLES. */
async function setupCommand(args: string[]): Promise<number> {
  if (!args.includes('--print')) {
    process.stderr.write('walcast setup: only --print exists: walcast prints the SQL and an administrator runs it (nothing is changed)\n');
    return ExitCode.config;
  }
  const roleIndex = args.indexOf('--role');
  const config = configOrReport();
  if (!config) return ExitCode.config;
  const { pg: source } = config.connector;
  const role = roleIndex >= 0 ? args[roleIndex + 1] : decodeURIComponent(new URL(source.url).username);
  if (!role) {
    process.stderr.write('walcast setup: name the role walcast will connect as: --role NAME (or a user in WALCAST_PG_URL)\n');
    return ExitCode.config;
  }
  let client: ReturnType<typeof newClient> | null = null;
  try {
    client = newClient(await negotiateTls(source.connection));
    client.on('error', () => undefined);
    await client.connect();
    const database = (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
    process.stdout.write(renderSetupSql({ database, role, publication: source.publication, patterns: source.tables, tables: await sourceTables(client) }));
    return ExitCode.ok;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    process.stderr.write(scrub(`walcast setup: could not read the catalog through WALCAST_PG_URL (${redactUrl(source.url)}): ${(error as Error).message}\n`));
    return code.startsWith('28') || code === '3D000' || error instanceof WalcastError ? ExitCode.config : ExitCode.unreachable;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

async function tailCommand(args: string[]): Promise<number> {
  const topic = args.find((a) => !a.startsWith('--'));
  if (!topic) {
    process.stderr.write(`${USAGE}\n`);
    return ExitCode.config;
  }
  const maxIndex = args.indexOf('--max');
  const max = maxIndex >= 0 ? Number(args[maxIndex + 1]) : 0;
  // The process settings of `walcast run` (Kafka security, registry credentials and CA) apply here too.
  let worker: WorkerConfig;
  try {
    worker = loadWorkerConfig({ WALCAST_LOG_LEVEL: 'warn', ...process.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(scrub(`walcast tail: ${error.message}\n(set WALCAST_KAFKA_BROKERS, and WALCAST_SCHEMA_REGISTRY_URL for Avro topics)\n`));
    return ExitCode.config;
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  try {
    await tail({
      brokers: worker.kafka.brokers,
      security: worker.kafka.security,
      registry: worker.registry,
      topic: topic.replace(/^--.*/, ''),
      fromBeginning: args.includes('--from-beginning'),
      max: Number.isFinite(max) ? max : 0,
      log: createLogger(worker.log.level),
      write: (line) => process.stdout.write(line + '\n'),
      signal: controller.signal,
    });
  } catch (error) {
    const known = error instanceof WalcastError ? error : kafkaSecurityError(error);
    if (!known) throw error;
    process.stderr.write(scrub(`walcast tail: ${known.message}\n`));
    return known.exitCode;
  }
  return ExitCode.ok;
}

// kafkajs schedules timers from absolute times and Node 24 warns on every negative delay; the
// timer still fires at once, so the warning only clutters stderr.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') process.stderr.write(scrub(`${warning.name}: ${warning.message}\n`));
});

async function main(argv: string[]): Promise<number> {
  const [command = 'run', ...rest] = argv;
  switch (command) {
    case 'run':
      return run();
    case 'sink':
      return sink();
    case 'worker':
      return workerCommand();
    case 'check':
      return checkCommand();
    case 'setup':
      return setupCommand(rest);
    case 'tail':
      return tailCommand(rest);
    case 'snapshot':
      return snapshotCommand(rest, (line) => process.stdout.write(line + '\n'));
    case 'version':
    case '--version':
      process.stdout.write(`walcast ${WALCAST_VERSION} (node ${process.version})\n`);
      return ExitCode.ok;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    default:
      process.stderr.write(`walcast: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return ExitCode.config;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Client libraries can leave sockets or timers behind; never let them keep a stopped daemon alive.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (error: unknown) => {
    process.stderr.write(scrub(`walcast: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`));
    process.exitCode = ExitCode.failure;
  },
);
