/**
 * Debezium's JDBC sink (io.debezium.connector.jdbc.JdbcSinkConnector) as a connector plugin for
 * walcast's sink: its names are mapped (config/debezium-jdbc-sink.ts) onto the WALCAST_SINK_*
 * settings and validated by loadSinkConnectorConfig, exactly as `walcast sink` validates them.
 */
import { isConverterSetting } from '../config/converters.ts';
import { DEBEZIUM_JDBC_SINK_CLASS, DEBEZIUM_JDBC_SINK_KEYS, debeziumJdbcSinkSettings, debeziumSinkSettingOf } from '../config/debezium-jdbc-sink.ts';
import { ConfigError, loadSinkConnectorConfig, type ConfigSource } from '../config/load.ts';
import { SinkConnector } from '../sink/connector.ts';
import { SinkOffsetsAdmin } from '../sink/offsets-admin.ts';
import { WALCAST_VERSION } from '../version.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import { checkTasksMax, renamedProblems, type Configured, type ConnectorPlugin, type PluginContext } from './plugins.ts';

export const debeziumJdbcSinkPlugin: ConnectorPlugin = {
  className: DEBEZIUM_JDBC_SINK_CLASS,
  type: 'sink',
  version: WALCAST_VERSION,
  keys: DEBEZIUM_JDBC_SINK_KEYS,
  acceptsKey: isConverterSetting,
  configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured {
    const problems: ConfigProblem[] = [];
    const tasks = checkTasksMax(config, problems);
    const mapped = debeziumJdbcSinkSettings(config, context.worker.registry.url, problems);
    // Connect names a sink's consumer group connect-<name>; the worker's environment may place the
    // offsets table (rows keyed by group), as WALCAST_OFFSETS_TOPIC places the sources' positions.
    const source: ConfigSource = { WALCAST_SINK_OFFSETS_TABLE: context.env.WALCAST_SINK_OFFSETS_TABLE, ...mapped, WALCAST_SINK_GROUP_ID: `connect-${name}` };
    try {
      const sink = loadSinkConnectorConfig(source, context.worker, name);
      if (problems.length > 0) return { problems };
      // tasks.max consumers of the group, as Connect's sink tasks: Kafka shares the partitions among
      // them, and each claims its partitions' rows in the offsets table (owner epochs fence a task
      // that lost one in a rebalance it has not seen yet).
      const create = (): SinkConnector[] => Array.from({ length: tasks }, (_, task) => new SinkConnector(sink, { task }));
      return { problems, tasks, create, offsets: (log) => new SinkOffsetsAdmin(sink, log) };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...renamedProblems(error, debeziumSinkSettingOf, problems));
      return { problems };
    }
  },
};
