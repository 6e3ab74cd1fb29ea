/**
 * What the REST layer may ask of a worker (http/connect-admin.ts serves it): Kafka Connect's
 * connector operations, with Connect's bodies. Failures are AdminErrors carrying Connect's status.
 */
import type { ConnectorOffset } from '../connector-offsets.ts';
import { RefusedRequestError, type ConnectorType, type ManagedConnector, type TargetState } from '../connector.ts';
import type { ConnectorConfigMap } from './config-providers.ts';
import type { ValidationBody } from './plugins.ts';

/** Connect's ConnectorInfo: `GET /connectors/<name>`, and the answer of a create or update. */
export interface ConnectorInfoBody {
  name: string;
  config: ConnectorConfigMap;
  tasks: Array<{ connector: string; task: number }>;
  type: ConnectorType;
}

export interface TaskInfoBody {
  id: { connector: string; task: number };
  config: ConnectorConfigMap;
}

export interface PluginInfoBody {
  class: string;
  type: ConnectorType;
  version: string;
}

/** A request the worker refuses, with the HTTP status Connect answers. */
export class AdminError extends RefusedRequestError<400 | 404 | 409 | 500> {
  readonly code = 'WALCAST_CONNECTOR_REQUEST';
}

export interface ConnectorAdmin {
  names(): string[];
  /** The connector as the status routes read it; AdminError 404 when unknown. */
  managed(name: string): ManagedConnector;
  info(name: string): ConnectorInfoBody;
  tasks(name: string): TaskInfoBody[];
  /** Creates (`mustBeNew`: 409 when it exists) or replaces a connector's config. */
  put(name: string, config: ConnectorConfigMap, mustBeNew: boolean): Promise<{ created: boolean; info: ConnectorInfoBody }>;
  /** Merges settings into the config; a null value removes the setting. */
  patch(name: string, changes: Record<string, string | null>): Promise<ConnectorInfoBody>;
  remove(name: string): Promise<void>;
  setTargetState(name: string, state: TargetState): Promise<void>;
  restart(name: string, options: { includeTasks: boolean; onlyFailed: boolean }): Promise<void>;
  /** Connect's offsets routes: the stored offsets; PATCH (null offset: reset that partition) and DELETE only while STOPPED. */
  offsets(name: string): Promise<ConnectorOffset[]>;
  alterOffsets(name: string, entries: readonly ConnectorOffset[]): Promise<void>;
  resetOffsets(name: string): Promise<void>;
  plugins(): PluginInfoBody[];
  validate(pluginName: string, config: ConnectorConfigMap): ValidationBody;
}
