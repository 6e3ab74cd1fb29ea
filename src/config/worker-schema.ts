/**
 * Process (worker) settings: the management API, logging, the Kafka cluster and the schema
 * registry every connector of this process uses, and the process's timeouts. `npm run docs:config`
 * renders the doc strings into docs/configuration.md.
 */
import { brokerList, httpUrlOrEmpty, positive } from './formats.ts';

export const workerSchema = {
  kafka: {
    brokers: {
      doc: 'Comma-separated Kafka bootstrap servers (host:port).',
      format: brokerList,
      default: '',
      env: 'WALCAST_KAFKA_BROKERS',
    },
    clientId: {
      doc: 'Kafka client id.',
      format: String,
      default: 'walcast',
      env: 'WALCAST_KAFKA_CLIENT_ID',
    },
  },
  registry: {
    url: {
      doc: 'Confluent-compatible schema registry URL (for Apicurio: http://host:8080/apis/ccompat/v7). Required for WALCAST_FORMAT=avro.',
      format: httpUrlOrEmpty,
      default: '',
      env: 'WALCAST_SCHEMA_REGISTRY_URL',
      sensitive: true,
    },
  },
  http: {
    port: {
      doc: 'Port of the health, metrics and management API (0 disables it).',
      format: 'port',
      default: 8083,
      env: 'WALCAST_HTTP_PORT',
    },
    host: {
      doc: 'Address the management API listens on.',
      format: String,
      default: '0.0.0.0',
      env: 'WALCAST_HTTP_HOST',
    },
  },
  log: {
    level: {
      doc: 'Log level: fatal, error, warn, info, debug or trace.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
      default: 'info',
      env: 'WALCAST_LOG_LEVEL',
    },
  },
  startupTimeoutMs: {
    doc: 'At start, how long (ms) walcast retries unreachable services before exiting with code 4. Once streaming, transient faults are retried indefinitely.',
    format: positive,
    default: 60000,
    env: 'WALCAST_STARTUP_TIMEOUT_MS',
  },
  shutdownTimeoutMs: {
    doc: 'On SIGTERM/SIGINT, longest wait (ms) for the open Kafka transaction to finish before it is aborted.',
    format: positive,
    default: 8000,
    env: 'WALCAST_SHUTDOWN_TIMEOUT_MS',
  },
};
