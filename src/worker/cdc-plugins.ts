/**
 * The CDC source as connector plugins: walcast's own class, configured with the WALCAST_* names
 * of `walcast run`, and (config/debezium-postgres.ts) Debezium's PostgresConnector with its names.
 * Both end in loadCdcConnectorConfig, so a worker's connector is validated exactly as `walcast run`.
 */
import { ConfigError, loadCdcConnectorConfig, type ConfigSource } from '../config/load.ts';
import { isConverterSetting } from '../config/converters.ts';
import { DEBEZIUM_POSTGRES_CLASS, DEBEZIUM_POSTGRES_KEYS, debeziumPostgresSettings, debeziumSettingOf } from '../config/debezium-postgres.ts';
import { configVariables } from '../config/schema.ts';
import { CdcConnector } from '../source/cdc/connector.ts';
import { CdcOffsets } from '../source/cdc/offsets-admin.ts';
import { WALCAST_VERSION } from '../version.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import { checkTasksMax, renamedProblems, type ConfigKey, type Configured, type ConnectorPlugin, type PluginContext } from './plugins.ts';

/**
 * The CDC connector a map of WALCAST_* names configures, named `name`. Problems name the setting
 * the user wrote: `settingOf` turns a WALCAST_* name back into it.
 */
export function configureCdc(name: string, walcast: ConfigSource, context: PluginContext, settingOf: (variable: string) => string, problems: ConfigProblem[]): Configured {
  // The worker's environment gives connectors their defaults for the offsets topic, as the worker
  // setting offset.storage.topic does in Connect.
  const source: ConfigSource = { WALCAST_OFFSETS_TOPIC: context.env.WALCAST_OFFSETS_TOPIC, ...walcast };
  try {
    const config = loadCdcConnectorConfig(source, context.worker);
    if (problems.length > 0) return { problems };
    const named = { ...config, name };
    return { problems, tasks: 1, create: () => [new CdcConnector(named)], offsets: (log) => new CdcOffsets(named, log) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...renamedProblems(error, settingOf, problems));
    return { problems };
  }
}

const connectorVariables = configVariables('connector');

/** `walcast.CdcSourceConnector`: the settings of `walcast run`, by their variable names. */
export const walcastCdcPlugin: ConnectorPlugin = {
  className: 'walcast.CdcSourceConnector',
  type: 'source',
  version: WALCAST_VERSION,
  keys: connectorVariables.map((v): ConfigKey => ({ name: v.env, type: v.sensitive ? 'PASSWORD' : 'STRING', doc: v.doc, group: 'walcast', default: String(v.default) })),
  configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured {
    const problems: ConfigProblem[] = [];
    checkTasksMax(config, problems);
    for (const side of ['key.converter', 'value.converter']) {
      if (config[side] !== undefined) problems.push({ key: side, message: `${side}: this class is configured with walcast's names; set WALCAST_FORMAT (avro or json) instead` });
    }
    const walcast: ConfigSource = {};
    for (const v of connectorVariables) if (config[v.env] !== undefined) walcast[v.env] = config[v.env];
    return configureCdc(name, walcast, context, (variable) => variable, problems);
  },
};

/** `io.debezium.connector.postgresql.PostgresConnector`: Debezium's names (config/debezium-postgres.ts). */
export const debeziumPostgresPlugin: ConnectorPlugin = {
  className: DEBEZIUM_POSTGRES_CLASS,
  type: 'source',
  version: WALCAST_VERSION,
  keys: DEBEZIUM_POSTGRES_KEYS,
  acceptsKey: isConverterSetting,
  configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured {
    const problems: ConfigProblem[] = [];
    checkTasksMax(config, problems);
    const walcast = debeziumPostgresSettings(config, context.worker.registry.url, problems);
    return configureCdc(name, walcast, context, debeziumSettingOf, problems);
  },
};
