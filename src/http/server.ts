/**
 * Health, Prometheus metrics and a Kafka Connect-shaped status API (port 8083 by default).
 * Nothing here echoes configuration: secrets never leave the process.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../log.ts';
import type { ConnectorStatus as ServiceStatus } from '../connector.ts';
import { formatLsn } from '../pg/lsn.ts';
import { WALCAST_VERSION } from '../version.ts';

export interface ConnectorControl {
  pause(): void;
  resume(): void;
  restart(): void;
  readonly paused: boolean;
}

export interface HttpOptions {
  host: string;
  port: number;
  connectorName: string;
  status: () => ServiceStatus;
  control: ConnectorControl;
  log: Logger;
}

function connectState(state: ServiceStatus['state']): string {
  switch (state) {
    case 'running':
      return 'RUNNING';
    case 'failed':
      return 'FAILED';
    case 'stopped':
    case 'stopping':
      return 'UNASSIGNED';
    default:
      return 'RESTARTING';
  }
}

function metricsRegistry(status: () => ServiceStatus): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'walcast_' });
  const stats = () => status().stats;
  new Counter({
    name: 'walcast_events_total',
    help: 'Change events committed to Kafka',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.eventsSent ?? 0);
    },
  });
  new Counter({
    name: 'walcast_source_transactions_total',
    help: 'PostgreSQL transactions delivered to Kafka',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.transactionsDelivered ?? 0);
    },
  });
  new Counter({
    name: 'walcast_kafka_transactions_total',
    help: 'Kafka transactions committed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.kafkaCommits ?? 0);
    },
  });
  new Gauge({
    name: 'walcast_acknowledged_lsn',
    help: 'LSN acknowledged to the replication slot (bytes)',
    registers: [registry],
    collect() {
      this.set(Number(stats()?.ackedLsn ?? 0n));
    },
  });
  new Gauge({
    name: 'walcast_received_lsn',
    help: 'Highest LSN received from PostgreSQL (bytes)',
    registers: [registry],
    collect() {
      this.set(Number(stats()?.receivedLsn ?? 0n));
    },
  });
  new Gauge({
    name: 'walcast_buffered_messages',
    help: 'Replication messages received and not yet processed',
    registers: [registry],
    collect() {
      this.set(stats()?.bufferedMessages ?? 0);
    },
  });
  new Gauge({
    name: 'walcast_replication_paused',
    help: '1 while the replication stream is paused by backpressure',
    registers: [registry],
    collect() {
      this.set(stats()?.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'walcast_last_source_commit_timestamp_seconds',
    help: 'Commit time of the last PostgreSQL transaction delivered to Kafka',
    registers: [registry],
    collect() {
      const micros = stats()?.lastCommitTimeMicros;
      this.set(micros ? Number(micros) / 1e6 : 0);
    },
  });
  new Gauge({
    name: 'walcast_up',
    help: '1 while streaming',
    registers: [registry],
    collect() {
      this.set(status().state === 'running' ? 1 : 0);
    },
  });
  new Counter({
    name: 'walcast_restarts_total',
    help: 'Streaming sessions restarted after a transient fault',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status().restarts);
    },
  });
  return registry;
}

export function startHttpServer(options: HttpOptions): Promise<Server> {
  const registry = metricsRegistry(options.status);
  const workerId = `${options.host}:${options.port}`;
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown, type = 'application/json'): void => {
      res.writeHead(code, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const status = options.status();
    const path = (req.url ?? '/').split('?')[0];
    const connector = `/connectors/${options.connectorName}`;
    // Kafka Connect's control calls: PUT pause/resume answer 202, POST restart 204.
    if (req.method === 'PUT' && (path === `${connector}/pause` || path === `${connector}/resume`)) {
      if (path.endsWith('/pause')) options.control.pause();
      else options.control.resume();
      options.log.info({ action: path.slice(path.lastIndexOf('/') + 1) }, 'management API');
      res.writeHead(202);
      res.end();
      return;
    }
    if (req.method === 'POST' && path === `${connector}/restart`) {
      options.control.restart();
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'GET') return send(405, { error_code: 405, message: `${req.method} ${path} not supported` });
    switch (path) {
      case '/':
        return send(200, { version: WALCAST_VERSION, node: process.version });
      case '/health':
        return send(status.state === 'failed' ? 503 : 200, { status: status.state });
      case '/ready':
        return send(status.state === 'running' ? 200 : 503, { status: status.state });
      case '/metrics':
        registry.metrics().then(
          (text) => send(200, text, registry.contentType),
          (error: Error) => send(500, { error_code: 500, message: error.message }),
        );
        return;
      case '/connectors':
        return send(200, [options.connectorName]);
      case `/connectors/${options.connectorName}/status`: {
        const state = options.control.paused && status.state === 'running' ? 'PAUSED' : connectState(status.state);
        const stats = status.stats;
        return send(200, {
          name: options.connectorName,
          connector: { state, worker_id: workerId },
          tasks: [
            {
              id: 0,
              state,
              worker_id: workerId,
              ...(status.lastError && state !== 'RUNNING' ? { trace: status.lastError } : {}),
            },
          ],
          type: 'source',
          walcast: stats
            ? {
                acknowledged_lsn: formatLsn(stats.ackedLsn),
                received_lsn: formatLsn(stats.receivedLsn),
                events: stats.eventsSent,
                transactions: stats.transactionsDelivered,
                buffered_messages: stats.bufferedMessages,
                paused_by_backpressure: stats.paused,
                restarts: status.restarts,
              }
            : null,
        });
      }
      default:
        return send(404, { error_code: 404, message: `no route for ${path}` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      options.log.info({ host: options.host, port: options.port }, 'management API listening');
      resolve(server);
    });
  });
}
