/**
 * The management API (port 8083 by default): version, health and readiness over every connector,
 * Prometheus metrics, and Kafka Connect's connector routes (./connectors.ts). It serves what
 * `connectors()` returns at each request. Reads are open; state changes pass ./auth.ts first.
 * Nothing here echoes configuration, and every body is scrubbed of the process's secrets on the
 * way out: secrets never leave the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsMaterial } from '../config/tls-files.ts';
import type { ConnectorState, ManagedConnector } from '../connector.ts';
import type { Logger } from '../log.ts';
import { scrub } from '../secrets.ts';
import { WALCAST_VERSION } from '../version.ts';
import { authorizeStateChange, isLoopback, READ_METHODS } from './auth.ts';
import { BodyTooLargeError, MAX_BODY_BYTES, readBody } from './body.ts';
import type { ConnectorAdmin } from '../worker/admin.ts';
import { routeConnectAdmin } from './connect-admin.ts';
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
  /** Bearer token state changes need (WALCAST_ADMIN_TOKEN); null/absent: loopback listeners only. */
  adminToken?: string | null;
  /** Certificate and key: serve HTTPS instead of HTTP. */
  tls?: TlsMaterial | null;
  /** `walcast worker`: connectors are created and changed through Connect's REST API (connect-admin.ts). */
  admin?: ConnectorAdmin;
}

/** Most severe first: the state /health and /ready report is that of the connector furthest from running. */
const SEVERITY: readonly ConnectorState[] = ['failed', 'stopping', 'stopped', 'retrying', 'starting', 'waiting', 'running'];

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
      // Readiness: 200 only while every connector streams, or stands by for a slot another
      // instance holds (a standby is doing its job; were it unready, a Kubernetes rolling update
      // would wait for it forever).
      return () => {
        const state = overallState(options.connectors());
        return { status: state === 'running' || state === 'waiting' ? 200 : 503, body: { status: state } };
      };
    case '/metrics':
      return async () => ({ status: 200, body: await metrics.render(), contentType: metrics.contentType });
    default:
      return null;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers = reply.headers ?? {};
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
  } else if (reply.contentType !== undefined && typeof reply.body === 'string') {
    res.writeHead(reply.status, { ...headers, 'content-type': reply.contentType });
    res.end(scrub(reply.body));
  } else {
    res.writeHead(reply.status, { ...headers, 'content-type': 'application/json' });
    res.end(scrub(JSON.stringify(reply.body)));
  }
}

/** A request body (already read and bounded) as JSON; empty: {}. */
async function jsonBody(body: Buffer): Promise<unknown> {
  const text = body.toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

/** /connectors/<name>/snapshots[...]: the snapshot routes (http/snapshots.ts), or null. */
async function snapshotPath(method: string, path: string, body: Buffer, options: HttpOptions): Promise<Reply | null> {
  const [root, collection, encodedName, ...rest] = path.split('/');
  if (root !== '' || collection !== 'connectors' || encodedName === undefined || rest[0] !== 'snapshots') return null;
  const connector = findConnector(encodedName, path, options.connectors());
  if (!('name' in connector)) return connector;
  return routeSnapshots(method, rest, path, { connector, body: () => jsonBody(body), log: options.log });
}

export function startHttpServer(options: HttpOptions): Promise<Server> {
  const metrics = createMetrics(options.connectors);
  // Connect's worker_id; the port is the bound one once listening (it differs when options.port is 0).
  let workerId = `${options.host}:${options.port}`;
  const route = async (method: string, path: string, query: URLSearchParams, body: Buffer): Promise<Reply> => {
    const snapshotReply = await snapshotPath(method, path, body, options);
    if (snapshotReply) return snapshotReply;
    if (options.admin) {
      const adminReply = await routeConnectAdmin({ method, path, query, body: () => jsonBody(body) }, { admin: options.admin, workerId, log: options.log });
      if (adminReply) return adminReply;
    }
    const connectorReply = routeConnectors(method, path, { connectors: options.connectors, workerId, log: options.log });
    if (connectorReply) return connectorReply;
    const handler = processRoute(path, options, metrics);
    if (!handler) return noRoute(path);
    return method === 'GET' ? handler() : methodNotAllowed(method, path);
  };
  const secure = Boolean(options.tls);
  const policy = { token: options.adminToken ?? null, listenHost: options.host };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const [path = '/', search = ''] = (req.url ?? '/').split('?', 2);
    try {
      let body: Buffer = Buffer.alloc(0);
      if (!READ_METHODS.has(method)) {
        const refusal = authorizeStateChange(req, policy, secure);
        if (refusal) {
          options.log.warn({ method, path, remoteAddress: req.socket.remoteAddress, status: refusal.status }, 'management API refused a state change');
          res.setHeader('connection', 'close');
          send(res, refusal);
          return;
        }
        // Read (and bound) the body before acting: no caller may grow the heap.
        try {
          body = await readBody(req);
        } catch (error) {
          if (!(error instanceof BodyTooLargeError)) throw error;
          res.setHeader('connection', 'close');
          send(res, errorReply(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
      }
      send(res, await route(method, path, new URLSearchParams(search), body));
    } catch (error) {
      // The error's text may come from anywhere below: it goes to the log, not to the caller.
      options.log.error({ err: error, method, path }, 'management API request failed');
      if (!res.headersSent) send(res, errorReply(500, 'internal error; see the walcast log'));
      else res.destroy();
    }
  };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.passphrase ? { passphrase: tls.passphrase } : {}) }, (req, res) => void handle(req, res))
    : createServer((req, res) => void handle(req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      workerId = `${options.host}:${port}`;
      options.log.info({ host: options.host, port, https: secure, adminTokenSet: policy.token !== null }, 'management API listening');
      if (policy.token === null && !isLoopback(options.host)) {
        options.log.warn({ host: options.host }, 'the management API listens beyond loopback without WALCAST_ADMIN_TOKEN: every state change (pause, resume, restart, and on a worker create, config, delete and offsets) is refused, reads stay open; set WALCAST_ADMIN_TOKEN to allow them');
      }
      resolve(server);
    });
  });
}
