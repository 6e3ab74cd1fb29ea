/**
 * Kafka Connect's REST API for a worker's connectors (ConnectorAdmin, worker/admin.ts), with
 * Connect's paths, status codes and bodies:
 *   GET  /connectors[?expand=status|info]          POST /connectors {name, config} -> 201
 *   GET  /connectors/<name>                         DELETE /connectors/<name> -> 204
 *   GET|PUT|PATCH /connectors/<name>/config         PUT -> 201 created / 200 updated
 *   GET  /connectors/<name>/status, .../tasks       PUT .../pause, .../resume -> 202; .../stop -> 204
 *   GET  .../tasks/<id>/status                      POST .../tasks/<id>/restart -> 204
 *   POST .../restart[?includeTasks&onlyFailed]      204, or 202 with the status when either is true
 *   GET|PATCH|DELETE /connectors/<name>/offsets     PATCH and DELETE only while STOPPED (KIP-875)
 *   GET  /connector-plugins                         PUT /connector-plugins/<class>/config/validate
 * State changes reach this module only past the token rule (auth.ts). Responses never carry a
 * secret: configs come masked from the worker, and server.ts scrubs every body.
 */
import type { ConnectorOffset, OffsetFields } from '../connector-offsets.ts';
import type { ManagedConnector, TargetState } from '../connector.ts';
import type { Logger } from '../log.ts';
import { AdminError, type ConnectorAdmin } from '../worker/admin.ts';
import type { ConnectorConfigMap } from '../worker/config-providers.ts';
import { connectorStatusBody } from './connectors.ts';
import { errorReply, methodNotAllowed, type Reply } from './reply.ts';

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The request body as JSON ({} when empty); throws on malformed JSON. */
  body(): Promise<unknown>;
}

export interface AdminRouteContext {
  admin: ConnectorAdmin;
  workerId: string;
  log: Logger;
}

class BadRequest extends Error {}

/** A JSON object of settings as Connect's Map<String, String>: scalars become strings; null only where `allowNull`. */
function settings(value: unknown, what: string, allowNull: true): Record<string, string | null>;
function settings(value: unknown, what: string, allowNull: false): ConnectorConfigMap;
function settings(value: unknown, what: string, allowNull: boolean): Record<string, string | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest(`${what} must be a JSON object of settings`);
  const out: Record<string, string | null> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) {
      if (allowNull) out[key] = null;
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      out[key] = String(v);
    } else {
      throw new BadRequest(`${what}: the value of ${key} must be a string`);
    }
  }
  return out;
}

function isObject(value: unknown): value is OffsetFields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body of PATCH .../offsets: {"offsets": [{"partition": {...}, "offset": {...} | null}]}. */
function offsetEntries(body: unknown): ConnectorOffset[] {
  const offsets = isObject(body) ? body.offsets : undefined;
  if (!Array.isArray(offsets) || offsets.length === 0) throw new BadRequest('Partitions / offsets need to be provided for an alter offsets request');
  return offsets.map((entry) => {
    if (!isObject(entry) || !isObject(entry.partition)) throw new BadRequest('each entry of "offsets" needs a "partition" object: {"partition": {...}, "offset": {...} or null}');
    if (entry.offset !== null && !isObject(entry.offset)) throw new BadRequest(`the "offset" of partition ${JSON.stringify(entry.partition)} must be an object, or null to reset it`);
    return { partition: entry.partition, offset: entry.offset };
  });
}

function flag(query: URLSearchParams, name: string): boolean {
  return query.get(name)?.toLowerCase() === 'true';
}

const TARGETS: Readonly<Record<string, TargetState>> = { pause: 'PAUSED', resume: 'STARTED', stop: 'STOPPED' };

async function connectorRoute(request: AdminRequest, name: string, rest: string[], context: AdminRouteContext): Promise<Reply> {
  const { admin } = context;
  const { method, path } = request;
  const action = rest.join('/');
  const status = (connector: ManagedConnector): Reply => ({ status: 200, body: connectorStatusBody(connector, context.workerId) });
  switch (action) {
    case '':
      if (method === 'GET') return { status: 200, body: admin.info(name) };
      if (method === 'DELETE') {
        await admin.remove(name);
        return { status: 204 };
      }
      return methodNotAllowed(method, path);
    case 'config':
      if (method === 'GET') return { status: 200, body: admin.info(name).config };
      if (method === 'PUT') {
        const config = settings(await request.body(), 'the config', false);
        if (config.name !== undefined && config.name !== name) throw new BadRequest(`Connector name configuration (${config.name}) doesn't match connector name in the URL (${name})`);
        const { created, info } = await admin.put(name, config, false);
        return { status: created ? 201 : 200, body: info, ...(created ? { headers: { location: `/connectors/${encodeURIComponent(name)}` } } : {}) };
      }
      if (method === 'PATCH') return { status: 200, body: await admin.patch(name, settings(await request.body(), 'the config', true)) };
      return methodNotAllowed(method, path);
    case 'status':
      return method === 'GET' ? status(admin.managed(name)) : methodNotAllowed(method, path);
    case 'tasks':
      return method === 'GET' ? { status: 200, body: admin.tasks(name) } : methodNotAllowed(method, path);
    case 'pause':
    case 'resume':
    case 'stop':
      if (method !== 'PUT') return methodNotAllowed(method, path);
      await admin.setTargetState(name, TARGETS[action]!);
      return { status: action === 'stop' ? 204 : 202 };
    case 'restart': {
      if (method !== 'POST') return methodNotAllowed(method, path);
      const options = { includeTasks: flag(request.query, 'includeTasks'), onlyFailed: flag(request.query, 'onlyFailed') };
      await admin.restart(name, options);
      // Connect answers the plain restart with no body; with either flag, 202 and the status.
      return options.includeTasks || options.onlyFailed ? { ...status(admin.managed(name)), status: 202 } : { status: 204 };
    }
    case 'offsets':
      if (method === 'GET') return { status: 200, body: { offsets: await admin.offsets(name) } };
      if (method === 'PATCH') {
        await admin.alterOffsets(name, offsetEntries(await request.body()));
        return { status: 200, body: { message: 'The offsets for this connector have been altered successfully' } };
      }
      if (method === 'DELETE') {
        await admin.resetOffsets(name);
        return { status: 200, body: { message: 'The offsets for this connector have been reset successfully' } };
      }
      return methodNotAllowed(method, path);
    default: {
      // tasks/<id>/status, tasks/<id>/restart
      const task = /^tasks\/(\d+)\/(status|restart)$/.exec(action);
      if (!task) break;
      const id = Number(task[1]);
      const body = connectorStatusBody(admin.managed(name), context.workerId).tasks.find((t) => t.id === id);
      if (task[2] === 'status') {
        if (method !== 'GET') return methodNotAllowed(method, path);
        return body ? { status: 200, body } : errorReply(404, `Task ${name}-${id} not found`);
      }
      if (method !== 'POST') return methodNotAllowed(method, path);
      if (!admin.info(name).tasks.some((t) => t.task === id)) return errorReply(404, `Task ${name}-${id} not found`);
      // A task restarts with its connector's other tasks (a start fences what all of them left).
      await admin.restart(name, { includeTasks: true, onlyFailed: false });
      return { status: 204 };
    }
  }
  return errorReply(404, `no route for ${path}`);
}

async function dispatch(request: AdminRequest, context: AdminRouteContext): Promise<Reply | null> {
  const { admin } = context;
  const { method, path } = request;
  const [root, collection, encoded, ...rest] = path.split('/');
  if (root !== '') return null;
  if (collection === 'connector-plugins') {
    if (encoded === undefined || encoded === '') return method === 'GET' ? { status: 200, body: admin.plugins() } : methodNotAllowed(method, path);
    if (rest.join('/') !== 'config/validate') return errorReply(404, `no route for ${path}`);
    if (method !== 'PUT') return methodNotAllowed(method, path);
    return { status: 200, body: admin.validate(decodeURIComponent(encoded), settings(await request.body(), 'the config', false)) };
  }
  if (collection !== 'connectors') return null;
  if (encoded === undefined || encoded === '') {
    if (method === 'GET') {
      const expand = request.query.getAll('expand');
      if (expand.length === 0) return { status: 200, body: admin.names() };
      const out: Record<string, Record<string, unknown>> = {};
      for (const name of admin.names()) {
        const entry: Record<string, unknown> = {};
        if (expand.includes('status')) entry.status = connectorStatusBody(admin.managed(name), context.workerId);
        if (expand.includes('info')) entry.info = admin.info(name);
        out[name] = entry;
      }
      return { status: 200, body: out };
    }
    if (method !== 'POST') return methodNotAllowed(method, path);
    const body = await request.body();
    const request_ = typeof body === 'object' && body !== null ? (body as { name?: unknown; config?: unknown }) : {};
    if (typeof request_.name !== 'string' || request_.name.trim() === '') throw new BadRequest('the connector needs a name: {"name": ..., "config": {...}}');
    if (request_.config === undefined) throw new BadRequest('the connector needs a config: {"name": ..., "config": {...}}');
    const name = request_.name.trim();
    const config = settings(request_.config, 'config', false);
    if (config.name !== undefined && config.name !== name) throw new BadRequest(`Connector name configuration (${config.name}) doesn't match connector name in the URL (${name})`);
    const { info } = await admin.put(name, config, true);
    return { status: 201, body: info, headers: { location: `/connectors/${encodeURIComponent(name)}` } };
  }
  // Snapshot routes (http/snapshots.ts) are served elsewhere.
  if (rest[0] === 'snapshots') return null;
  return connectorRoute(request, decodeURIComponent(encoded), rest, context);
}

/** The reply for a Connect route, or null when the path is not one. */
export async function routeConnectAdmin(request: AdminRequest, context: AdminRouteContext): Promise<Reply | null> {
  try {
    return await dispatch(request, context);
  } catch (error) {
    if (error instanceof AdminError) return errorReply(error.status, error.message);
    if (error instanceof BadRequest) return errorReply(400, error.message);
    // JSON.parse quotes the input around the fault: the body may hold a password.
    if (error instanceof SyntaxError) return errorReply(400, 'the request body is not valid JSON');
    if (error instanceof URIError) return errorReply(400, `malformed percent-encoding in ${request.path}`);
    throw error;
  }
}
