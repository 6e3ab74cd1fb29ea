/**
 * The management API (port 8083 by default): version, health and readiness over every connector,
 * Prometheus metrics, and Kafka Connect's connector routes (./connectors.ts). It serves what
 * `connectors()` returns at each request. Nothing here echoes configuration: secrets never leave
 * the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ConnectorState, ManagedConnector } from '../connector.ts';
import type { Logger } from '../log.ts';
import { WALCAST_VERSION } from '../version.ts';
import { findConnector, routeConnectors } from './connectors.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { routeSnapshots } from './snapshots.ts';
import { errorReply, methodNotAllowed, noRoute, type Reply } from './reply.ts';

export interface HttpOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The connectors to serve, read at every request. */
  connectors: () => readonly ManagedConnector[];
  log: Logger;
}

/** Most severe first: the state /health and /ready report is that of the connector furthest from running. */
const SEVERITY: readonly ConnectorState[] = ['failed', 'stopping', 'stopped', 'retrying', 'starting', 'running'];

/** The most severe state among the connectors ('running' when there are none). */
export function overallState(connectors: readonly ManagedConnector[]): ConnectorState {
  const states = new Set(connectors.map((c) => c.status().state));
  return SEVERITY.find((state) => states.has(state)) ?? 'running';
}

function processRoute(path: string, options: HttpOptions, metrics: Metrics): (() => Reply | Promise<Reply>) | null {
  switch (path) {
    case '/':
      return () => ({ status: 200, body: { version: WALCAST_VERSION, node: process.version } });
    case '/health':
      // Liveness: 503 once any connector has FAILED (it will not retry by itself).
      return () => {
        const state = overallState(options.connectors());
        return { status: state === 'failed' ? 503 : 200, body: { status: state } };
      };
    case '/ready':
      // Readiness: 200 only while every connector is running.
      return () => {
        const state = overallState(options.connectors());
        return { status: state === 'running' ? 200 : 503, body: { status: state } };
      };
    case '/metrics':
      return async () => ({ status: 200, body: await metrics.render(), contentType: metrics.contentType });
    default:
      return null;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
  } else if (reply.contentType !== undefined && typeof reply.body === 'string') {
    res.writeHead(reply.status, { 'content-type': reply.contentType });
    res.end(reply.body);
  } else {
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.body));
  }
}

/** Request bodies are small JSON documents: anything larger is refused, not buffered. */
const MAX_BODY_BYTES = 64 * 1024;

function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text.trim() === '' ? {} : (JSON.parse(text) as unknown));
      } catch (error) {
        reject(error as Error);
      }
    });
    req.on('error', reject);
  });
}

/** /connectors/<name>/snapshots[...]: the snapshot routes (http/snapshots.ts), or null. */
async function snapshotPath(method: string, path: string, req: IncomingMessage, options: HttpOptions): Promise<Reply | null> {
  const [root, collection, encodedName, ...rest] = path.split('/');
  if (root !== '' || collection !== 'connectors' || encodedName === undefined || rest[0] !== 'snapshots') return null;
  const connector = findConnector(encodedName, path, options.connectors());
  if (!('name' in connector)) return connector;
  return routeSnapshots(method, rest, path, { connector, body: () => readJsonBody(req), log: options.log });
}

export function startHttpServer(options: HttpOptions): Promise<Server> {
  const metrics = createMetrics(options.connectors);
  // Connect's worker_id; the port is the bound one once listening (it differs when options.port is 0).
  let workerId = `${options.host}:${options.port}`;
  const route = async (method: string, path: string, req: IncomingMessage): Promise<Reply> => {
    const snapshotReply = await snapshotPath(method, path, req, options);
    if (snapshotReply) return snapshotReply;
    const connectorReply = routeConnectors(method, path, { connectors: options.connectors, workerId, log: options.log });
    if (connectorReply) return connectorReply;
    const handler = processRoute(path, options, metrics);
    if (!handler) return noRoute(path);
    return method === 'GET' ? handler() : methodNotAllowed(method, path);
  };
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      send(res, await route(method, path, req));
    } catch (error) {
      // The error's text may come from anywhere below: it goes to the log, not to the caller.
      options.log.error({ err: error, method, path }, 'management API request failed');
      if (!res.headersSent) send(res, errorReply(500, 'internal error; see the walcast log'));
      else res.destroy();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      workerId = `${options.host}:${port}`;
      options.log.info({ host: options.host, port }, 'management API listening');
      resolve(server);
    });
  });
}
