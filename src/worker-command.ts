/**
 * `walcast worker`: Kafka Connect's REST API on WALCAST_HTTP_PORT (8083) for several connectors in
 * one process (worker/worker.ts), their configs kept in WALCAST_CONFIG_STORAGE_TOPIC. Process
 * settings come from the environment, as for `walcast run`; connectors come from the REST API.
 */
import { ConfigError, loadWorkerConfig, type WorkerConfig } from './config/load.ts';
import { ExitCode } from './errors.ts';
import { startHttpServer } from './http/server.ts';
import { createKafka } from './kafka/producer.ts';
import { TopicManager } from './kafka/topics.ts';
import { exitOnCrash, stopOnSignals } from './lifecycle.ts';
import { createLogger, redactUrl } from './log.ts';
import { scrub } from './secrets.ts';
import { WALCAST_VERSION } from './version.ts';
import { debeziumPostgresPlugin, walcastCdcPlugin } from './worker/cdc-plugins.ts';
import { ConfigCipher } from './worker/config-secrets.ts';
import { jdbcSourcePlugin } from './worker/poll-plugin.ts';
import { confluentJdbcSinkPlugin, debeziumJdbcSinkPlugin } from './worker/sink-plugin.ts';
import { ConfigStore } from './worker/config-store.ts';
import { StatusStore } from './worker/status-store.ts';
import type { ConnectorPlugin } from './worker/plugins.ts';
import { Worker } from './worker/worker.ts';

/** The connector classes `walcast worker` accepts (GET /connector-plugins). */
export const PLUGINS: readonly ConnectorPlugin[] = [walcastCdcPlugin, debeziumPostgresPlugin, jdbcSourcePlugin, debeziumJdbcSinkPlugin, confluentJdbcSinkPlugin];

export async function workerCommand(): Promise<number> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(scrub(`walcast worker: ${error.message}\n`));
    return ExitCode.config;
  }
  if (config.http.port === 0) {
    process.stderr.write('walcast worker: WALCAST_HTTP_PORT=0 would disable the REST API the worker is managed through; set a port (default 8083)\n');
    return ExitCode.config;
  }
  const log = createLogger(config.log.level);
  log.info(
    {
      version: WALCAST_VERSION,
      node: process.version,
      kafka: config.kafka.brokers,
      kafkaSecurity: config.kafka.security.protocol,
      registry: config.registry.url ? redactUrl(config.registry.url) : null,
      configTopic: config.worker.configStorageTopic,
      statusTopic: config.worker.statusStorageTopic,
      group: config.worker.groupId,
      configEncryption: config.worker.configEncryptionKey !== '',
      plugins: PLUGINS.map((p) => p.className),
    },
    'walcast worker starting',
  );
  exitOnCrash(log);
  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, security: config.kafka.security, log });
  const topics = new TopicManager(kafka, { partitions: 1, replicationFactor: -1 });
  const store = new ConfigStore({
    kafka,
    topics,
    topic: config.worker.configStorageTopic,
    cipher: config.worker.configEncryptionKey ? new ConfigCipher(config.worker.configEncryptionKey) : null,
    log,
  });
  // Connect's worker_id: where this worker's REST API is reached (the status topic names it).
  const workerId = `${config.http.host}:${config.http.port}`;
  const statuses = new StatusStore({ kafka, topic: config.worker.statusStorageTopic, workerId, log });
  const worker = new Worker({ store, statuses, kafka, topics, workerId, plugins: PLUGINS, config, env: process.env, log });
  try {
    await worker.start();
  } catch (error) {
    log.fatal({ err: error, exitCode: ExitCode.unreachable }, `could not read the connectors of ${config.worker.configStorageTopic} (WALCAST_KAFKA_BROKERS=${config.kafka.brokers.join(',')}): ${(error as Error).message}`);
    log.flush();
    return ExitCode.unreachable;
  } finally {
    await topics.disconnect().catch(() => undefined);
  }
  const server = await startHttpServer({ ...config.http, connectors: () => worker.all(), admin: worker, log });
  const stopped = new Promise<void>((resolve) => stopOnSignals(log, () => void worker.stop().finally(resolve)));
  await stopped;
  server.close();
  log.info('walcast worker stopped');
  log.flush();
  return ExitCode.ok;
}
