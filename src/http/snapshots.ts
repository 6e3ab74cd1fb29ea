/**
 * Incremental snapshots on request, with the data shape of Debezium's execute-snapshot signal so
 * that scripts written for Debezium carry over:
 *   POST   /connectors/<name>/snapshots         {"data-collections": ["schema.table"], "type": "incremental",
 *                                               "additional-conditions": [{"data-collection": "schema.table", "filter": "id > 100"}]}
 *   DELETE /connectors/<name>/snapshots         stop-snapshot
 *   PUT    /connectors/<name>/snapshots/pause   pause-snapshot; .../resume: resume-snapshot
 */
import { SnapshotRequestError, type ManagedConnector } from '../connector.ts';
import { snapshotRequest, type ExecuteSnapshotData } from '../source/snapshot/request.ts';
import type { Logger } from '../log.ts';
import { errorReply, methodNotAllowed, type Reply } from './reply.ts';

export interface SnapshotRouteContext {
  connector: ManagedConnector;
  body: () => Promise<unknown>;
  log: Logger;
}

/** The reply for /connectors/<name>/snapshots[/<action>], or null when `rest` is not a snapshot path. */
export async function routeSnapshots(method: string, rest: string[], path: string, context: SnapshotRouteContext): Promise<Reply | null> {
  const [collection, action, ...more] = rest;
  if (collection !== 'snapshots' || more.length > 0) return null;
  const { connector } = context;
  const control = connector.snapshots;
  if (!control) return errorReply(404, `connector ${connector.name} does not take snapshots`);
  if (action === 'pause' || action === 'resume') {
    if (method !== 'PUT') return methodNotAllowed(method, path);
    if (!control.pause(action === 'pause')) return errorReply(409, 'no snapshot is running');
    context.log.info({ connector: connector.name, action: `${action}-snapshot` }, 'management API');
    return { status: 202 };
  }
  if (action !== undefined) return null;
  if (method === 'DELETE') {
    if (!control.stop()) return errorReply(409, 'no snapshot is running');
    context.log.info({ connector: connector.name, action: 'stop-snapshot' }, 'management API');
    return { status: 204 };
  }
  if (method !== 'POST') return methodNotAllowed(method, path);
  let body: unknown;
  try {
    body = await context.body();
  } catch (error) {
    return errorReply(400, `the body is not JSON: ${(error as Error).message}`);
  }
  const request = snapshotRequest((body ?? {}) as ExecuteSnapshotData);
  if (typeof request === 'string') return errorReply(400, request);
  try {
    const started = await control.execute(request);
    context.log.info({ connector: connector.name, action: 'execute-snapshot', snapshot: started.id, tables: started.tables }, 'management API');
    return { status: 202, body: { id: started.id, tables: started.tables } };
  } catch (error) {
    if (error instanceof SnapshotRequestError) return errorReply(error.status, error.message);
    throw error;
  }
}
