/**
 * Process (worker) settings: the management API, logging, the Kafka cluster and the schema
 * registry every connector of this process uses, and the process's timeouts. `npm run docs:config`
 * renders the doc strings into docs/configuration.md.
 */
import { adminToken, brokerList, configEncryptionKey, httpHost, httpUrlOrEmpty, oneOf, positive, nonEmpty } from './formats.ts';

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
    securityProtocol: {
      doc: 'How walcast talks to the brokers, as Kafka\'s security.protocol: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS). Applies to every Kafka client walcast creates (producer, consumers, admin, `walcast tail`).',
      format: oneOf(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']),
      default: 'PLAINTEXT',
      env: 'WALCAST_KAFKA_SECURITY_PROTOCOL',
    },
    saslMechanism: {
      doc: 'SASL mechanism for SASL_SSL and SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Required with SASL.',
      format: oneOf(['', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
      default: '',
      env: 'WALCAST_KAFKA_SASL_MECHANISM',
    },
    saslUsername: {
      doc: 'SASL user name. Required with SASL.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SASL_USERNAME',
    },
    saslPassword: {
      doc: 'SASL password. Required with SASL.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SASL_PASSWORD',
      sensitive: true,
    },
    sslCaLocation: {
      doc: 'PEM file of the CA certificate(s) that signed the brokers\' certificates, for SSL and SASL_SSL. Empty: the public CAs Node.js trusts. Host names are verified.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SSL_CA_LOCATION',
    },
    sslCertificateLocation: {
      doc: 'PEM file of walcast\'s client certificate, for brokers that require one (ssl.client.auth=required). Needs WALCAST_KAFKA_SSL_KEY_LOCATION.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION',
    },
    sslKeyLocation: {
      doc: 'PEM file of the client certificate\'s private key (PKCS#8 or traditional; encrypted or not).',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SSL_KEY_LOCATION',
    },
    sslKeyPassword: {
      doc: 'Passphrase of an encrypted WALCAST_KAFKA_SSL_KEY_LOCATION.',
      format: String,
      default: '',
      env: 'WALCAST_KAFKA_SSL_KEY_PASSWORD',
      sensitive: true,
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
    username: {
      doc: 'User name for the registry\'s HTTP basic auth (instead of user info in WALCAST_SCHEMA_REGISTRY_URL).',
      format: String,
      default: '',
      env: 'WALCAST_SCHEMA_REGISTRY_USERNAME',
    },
    password: {
      doc: 'Password for the registry\'s HTTP basic auth. Needs WALCAST_SCHEMA_REGISTRY_USERNAME.',
      format: String,
      default: '',
      env: 'WALCAST_SCHEMA_REGISTRY_PASSWORD',
      sensitive: true,
    },
    sslCaLocation: {
      doc: 'PEM file of the CA certificate(s) that signed an https:// registry\'s certificate. Empty: the public CAs Node.js trusts. Host names are verified.',
      format: String,
      default: '',
      env: 'WALCAST_SCHEMA_REGISTRY_SSL_CA_LOCATION',
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
      doc: 'Address the management API listens on. The default, loopback, keeps it to this machine; 0.0.0.0 (all interfaces, as in a container) needs WALCAST_ADMIN_TOKEN for pause, resume and restart.',
      format: httpHost,
      default: '127.0.0.1',
      env: 'WALCAST_HTTP_HOST',
    },
    adminToken: {
      doc: 'Bearer token required for the management API\'s state-changing calls (pause, resume, restart): `Authorization: Bearer <token>`; at least 16 characters. Unset: they are allowed only while the API listens on loopback, and refused otherwise. Reads (health, readiness, metrics, status) stay open.',
      format: adminToken,
      default: '',
      env: 'WALCAST_ADMIN_TOKEN',
      sensitive: true,
    },
    sslCertificateLocation: {
      doc: 'PEM file of a certificate (with its chain) to serve the management API over HTTPS. Needs WALCAST_HTTP_SSL_KEY_LOCATION. Empty: plain HTTP.',
      format: String,
      default: '',
      env: 'WALCAST_HTTP_SSL_CERTIFICATE_LOCATION',
    },
    sslKeyLocation: {
      doc: 'PEM file of the private key of WALCAST_HTTP_SSL_CERTIFICATE_LOCATION.',
      format: String,
      default: '',
      env: 'WALCAST_HTTP_SSL_KEY_LOCATION',
    },
    sslKeyPassword: {
      doc: 'Passphrase of an encrypted WALCAST_HTTP_SSL_KEY_LOCATION.',
      format: String,
      default: '',
      env: 'WALCAST_HTTP_SSL_KEY_PASSWORD',
      sensitive: true,
    },
  },
  worker: {
    configStorageTopic: {
      doc: '`walcast worker` only: compacted Kafka topic holding the configs and target states of the connectors created through the REST API (Kafka Connect\'s config.storage.topic); a restarted worker resumes every connector it holds. Created when missing.',
      format: nonEmpty('WALCAST_CONFIG_STORAGE_TOPIC'),
      default: 'walcast-configs',
      env: 'WALCAST_CONFIG_STORAGE_TOPIC',
    },
    statusStorageTopic: {
      doc: '`walcast worker` only: compacted Kafka topic where each worker publishes the state of the connectors it runs (Kafka Connect\'s status.storage.topic), so that every worker answers GET /connectors/<name>/status for every connector. Empty: `<WALCAST_CONFIG_STORAGE_TOPIC>-status`. Created when missing.',
      format: String,
      default: '',
      env: 'WALCAST_STATUS_STORAGE_TOPIC',
    },
    groupId: {
      doc: '`walcast worker` only: Kafka consumer group of the workers that share WALCAST_CONFIG_STORAGE_TOPIC (Kafka Connect\'s group.id). Its members split the connectors between them through Kafka\'s group protocol; when one leaves or dies, its connectors move to the others. Empty: the name of WALCAST_CONFIG_STORAGE_TOPIC, so workers sharing a config topic are one group and no other. The group\'s assignment topic is `<group>-assignments`.',
      format: String,
      default: '',
      env: 'WALCAST_WORKER_GROUP_ID',
    },
    sessionTimeoutMs: {
      doc: '`walcast worker` only: how long (ms) a silent worker keeps its connectors before the group hands them to the other workers (Kafka Connect\'s session.timeout.ms). Within the broker\'s group.min.session.timeout.ms and group.max.session.timeout.ms (6000 to 1800000 by default).',
      format: positive,
      default: 10000,
      env: 'WALCAST_WORKER_SESSION_TIMEOUT_MS',
    },
    configEncryptionKey: {
      doc: '`walcast worker` only: passphrase (at least 16 characters) that encrypts the literal secrets of connector configs (passwords and the like) in WALCAST_CONFIG_STORAGE_TOPIC with AES-256-GCM. Unset: they are stored in the clear and the worker warns, naming each one; config-provider references (`${env:VAR}`, `${file:/path:key}`) are stored as written and need no key.',
      format: configEncryptionKey,
      default: '',
      env: 'WALCAST_CONFIG_ENCRYPTION_KEY',
      sensitive: true,
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
