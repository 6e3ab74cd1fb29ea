/**
 * Connector plugins: the `connector.class` values a worker accepts, each with the config names
 * its users know (Connect's, Debezium's, the JDBC connector's, walcast's own) and the walcast
 * connector it configures. A setting a plugin does not know is refused by name, never ignored.
 *
 * Also the shape of Connect's `PUT /connector-plugins/<class>/config/validate` answer.
 */
import type { ConfigError, WorkerConfig } from '../config/load.ts';
import type { ConnectorOffsets } from '../connector-offsets.ts';
import type { Connector, ConnectorType } from '../connector.ts';
import type { Logger } from '../log.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import { isSecretKey, maskConfig } from './config-secrets.ts';

/** Connect's ConfigDef types, as the validate answer names them. */
export type ConfigType = 'STRING' | 'INT' | 'LONG' | 'DOUBLE' | 'BOOLEAN' | 'PASSWORD' | 'LIST' | 'CLASS';

export interface ConfigKey {
  name: string;
  type: ConfigType;
  doc: string;
  group: string;
  required?: boolean;
  default?: string | null;
  importance?: 'HIGH' | 'MEDIUM' | 'LOW';
}

export interface PluginContext {
  worker: WorkerConfig;
  /** The worker's environment (connector defaults such as WALCAST_OFFSETS_TOPIC). */
  env: NodeJS.ProcessEnv;
}

/** A config checked by its plugin: what is wrong with it, or how to make the connector. */
export interface Configured {
  problems: ConfigProblem[];
  /**
   * Present when there is no problem: the connector's tasks for one start, task 0 first (one
   * call per start: what a start does once for all of its tasks is shared by them).
   */
  create?: () => Connector[];
  /** How many tasks `create` makes (Connect's tasks.max, as far as the kind can use it). */
  tasks?: number;
  /** The connector's stored offsets, for Connect's offsets routes; present when there is no problem. */
  offsets?: (log: Logger) => ConnectorOffsets;
}

export interface ConnectorPlugin {
  /** connector.class; also found by its simple name, with or without the `Connector` suffix (Connect's aliases). */
  readonly className: string;
  readonly type: ConnectorType;
  readonly version: string;
  /** Every setting the plugin reads, beside the common ones. */
  readonly keys: readonly ConfigKey[];
  /** Settings outside `keys` that it reads too (e.g. converter options), by name. */
  acceptsKey?(key: string): boolean;
  /** Checks a config whose references are resolved; unknown settings are refused before this. */
  configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured;
}

/** Settings of every connector (Connect's "Common" group). */
export const COMMON_KEYS: readonly ConfigKey[] = [
  { name: 'name', type: 'STRING', doc: 'Globally unique name to use for this connector.', group: 'Common', required: true, importance: 'HIGH' },
  { name: 'connector.class', type: 'STRING', doc: 'Name or alias of the class for this connector.', group: 'Common', required: true, importance: 'HIGH' },
  { name: 'tasks.max', type: 'INT', doc: 'Maximum number of tasks to use for this connector: consumers of the sink\'s group, tables of the polling source spread over tasks; the CDC source runs one.', group: 'Common', default: '1', importance: 'HIGH' },
  { name: 'key.converter', type: 'CLASS', doc: 'Converter of record keys (see docs/worker.md for the ones walcast produces).', group: 'Common', default: null, importance: 'LOW' },
  { name: 'value.converter', type: 'CLASS', doc: 'Converter of record values (see docs/worker.md for the ones walcast produces).', group: 'Common', default: null, importance: 'LOW' },
];

/** Above this, `tasks.max` is refused: each task holds its own connections (and a sink task its consumer). */
export const MAX_TASKS = 64;

/**
 * `tasks.max` (default 1): 0, junk or more than MAX_TASKS is a problem. A kind that cannot use
 * more than one task (the CDC source: a slot has one reader) accepts a larger value and runs one,
 * as Debezium's PostgreSQL connector does.
 */
export function checkTasksMax(config: ConnectorConfigMap, problems: ConfigProblem[]): number {
  const text = config['tasks.max'];
  if (text === undefined) return 1;
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > MAX_TASKS) {
    problems.push({ key: 'tasks.max', message: `Invalid value ${text} for configuration tasks.max: must be an integer from 1 to ${MAX_TASKS}` });
    return 1;
  }
  return n;
}

/**
 * walcast's own validation problems (naming WALCAST_* variables) as problems of the settings the
 * user wrote: `settingOf` turns a variable back into its setting. A setting `already` refused by
 * the mapping (a missing host makes the URL missing too) is named once.
 */
export function renamedProblems(error: ConfigError, settingOf: (variable: string) => string, already: readonly ConfigProblem[]): ConfigProblem[] {
  const named = new Set(already.map((p) => p.key));
  const out: ConfigProblem[] = [];
  for (const problem of error.problems) {
    // The first variable a problem names is the one it is about ("set one of A and B": A).
    const variable = /\b(WALCAST_[A-Z0-9_]+)/.exec(problem)?.[1];
    const setting = variable ? settingOf(variable) : '';
    if (setting !== '' && named.has(setting)) continue;
    out.push({ key: setting, message: problem.replace(/\bWALCAST_[A-Z0-9_]+\b/g, (v) => settingOf(v)) });
  }
  return out;
}

/** The plugins an alias names: its class, or every class whose simple name it is. */
export function pluginsNamed(plugins: readonly ConnectorPlugin[], name: string): ConnectorPlugin[] {
  const exact = plugins.filter((p) => p.className === name);
  if (exact.length > 0) return exact;
  return plugins.filter((p) => {
    const simple = p.className.slice(p.className.lastIndexOf('.') + 1);
    return name === simple || name === simple.replace(/Connector$/, '');
  });
}

/** The one plugin a name means; undefined when none, or when an alias is ambiguous (JdbcSinkConnector: Debezium's or Confluent's). */
export function findPlugin(plugins: readonly ConnectorPlugin[], name: string): ConnectorPlugin | undefined {
  const found = pluginsNamed(plugins, name);
  return found.length === 1 ? found[0] : undefined;
}

/** Settings in `config` that neither the plugin nor the common group knows, each as a problem. */
export function unsupportedSettings(plugin: ConnectorPlugin, config: ConnectorConfigMap): ConfigProblem[] {
  const known = new Set([...COMMON_KEYS, ...plugin.keys].map((k) => k.name));
  return Object.keys(config)
    .filter((key) => !known.has(key) && !(plugin.acceptsKey?.(key) ?? false))
    .map((key) => ({ key, message: `${key} is not supported by walcast's ${plugin.className}: remove it (docs/worker.md lists what each connector class accepts)` }));
}

/** Connect's ConfigInfos: the answer of validate. */
export interface ValidationBody {
  name: string;
  error_count: number;
  groups: string[];
  configs: Array<{
    definition: {
      name: string;
      type: ConfigType;
      required: boolean;
      default_value: string | null;
      importance: 'HIGH' | 'MEDIUM' | 'LOW';
      documentation: string;
      group: string;
      width: 'NONE';
      display_name: string;
      dependents: string[];
      order: number;
    };
    value: { name: string; value: string | null; recommended_values: string[]; errors: string[]; visible: boolean };
  }>;
}

/** Validation of `config` (references resolved or not) against `plugin`, with the problems found. */
export function validationBody(plugin: ConnectorPlugin, config: ConnectorConfigMap, problems: readonly ConfigProblem[]): ValidationBody {
  const errors = new Map<string, string[]>();
  for (const { key, message } of problems) errors.set(key, [...(errors.get(key) ?? []), message]);
  const definitions = [...COMMON_KEYS, ...plugin.keys];
  // Settings outside the definitions (refused or read by name) get a row of their own, as Connect gives them.
  const extra = Object.keys(config).filter((key) => !definitions.some((d) => d.name === key));
  const general = errors.get('') ?? [];
  const rows = [...definitions, ...extra.map((name): ConfigKey => ({ name, type: 'STRING', doc: '', group: 'Common' }))];
  const shown = maskConfig(config);
  const configs = rows.map((key, order) => {
    const value = shown[key.name];
    const secret = isSecretKey(key.name) || key.type === 'PASSWORD';
    return {
      definition: {
        name: key.name,
        type: secret ? 'PASSWORD' : key.type,
        required: key.required ?? false,
        default_value: key.default ?? null,
        importance: key.importance ?? 'MEDIUM',
        documentation: key.doc,
        group: key.group,
        width: 'NONE' as const,
        display_name: key.name,
        dependents: [],
        order: order + 1,
      },
      value: {
        name: key.name,
        value: value ?? key.default ?? null,
        recommended_values: [],
        // Problems about the config as a whole go with connector.class, where Connect reports them.
        errors: [...(errors.get(key.name) ?? []), ...(key.name === 'connector.class' ? general : [])],
        visible: true,
      },
    };
  });
  return {
    name: plugin.className,
    error_count: configs.reduce((n, c) => n + c.value.errors.length, 0),
    groups: [...new Set(rows.map((k) => k.group))],
    configs,
  };
}
