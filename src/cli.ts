/**
 * walcast's command line: `walcast [run]` streams; `walcast tail <topic>` prints a topic's events;
 * `walcast version`. Configuration comes from WALCAST_* environment variables.
 */
import { ConfigError, loadConfig, loadWorkerConfig, type WorkerConfig } from './config/load.ts';
import type { ManagedConnector } from './connector.ts';
import { ExitCode, WalcastError } from './errors.ts';
import { startHttpServer } from './http/server.ts';
import { kafkaSecurityError } from './kafka/security.ts';
import { createLogger, redactUrl } from './log.ts';
import { scrub } from './secrets.ts';
import { CdcConnector } from './source/cdc/connector.ts';
import { snapshotCommand } from './snapshot-command.ts';
import { tail } from './tail.ts';
import { WALCAST_VERSION } from './version.ts';
import { Supervisor } from './worker/supervisor.ts';

const USAGE = `usage: walcast [run]                       stream changes (configured by WALCAST_* variables)
       walcast tail <topic> [--from-beginning] [--max N]
                                             print a topic's committed events as JSON lines
       walcast snapshot <schema.table>... [--filter "<schema.table>=<SQL condition>"] | --stop | --pause | --resume
                                             incremental snapshot by the running walcast of this configuration
       walcast version
See docs/configuration.md for every variable.`;

async function run(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(scrub(`walcast: ${error.message}\n`));
      return ExitCode.config;
    }
    throw error;
  }
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
  // A bug that escapes every await must still leave one structured line saying so: a raw stack on
  // stderr is easy to miss at 3 a.m. Nothing uncommitted was acknowledged, so a restart is safe.
  const dieOn = (kind: string) => (error: unknown): void => {
    log.fatal({ err: error, exitCode: ExitCode.failure }, `internal error (${kind}): ${(error as Error)?.message ?? String(error)}; exiting. Nothing past the last committed Kafka transaction was acknowledged: restarting resumes without loss`);
    log.flush();
    process.exit(ExitCode.failure);
  };
  process.on('unhandledRejection', dieOn('unhandled rejection'));
  process.on('uncaughtException', dieOn('uncaught exception'));
  const service = new Supervisor(new CdcConnector(connector), { startupTimeoutMs: worker.startupTimeoutMs, log });
  const connectors: readonly ManagedConnector[] = [service];
  const server = worker.http.port > 0 ? await startHttpServer({ ...worker.http, connectors: () => connectors, log }) : null;
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now; the open Kafka transaction is aborted by the broker');
      process.exit(ExitCode.failure);
    }
    log.info({ signal }, 'stopping: finishing the current transaction');
    service.stop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const code = await service.run();
  server?.close();
  log.info({ exitCode: code }, 'walcast stopped');
  log.flush();
  return code;
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
