/**
 * The JDBC sinks as connector plugins for walcast's sink: Debezium's
 * (io.debezium.connector.jdbc.JdbcSinkConnector, change envelopes) and Confluent's
 * (io.confluent.connect.jdbc.JdbcSinkConnector, flat rows). Their names are mapped
 * (config/debezium-jdbc-sink.ts, config/confluent-jdbc-sink.ts) onto the WALCAST_SINK_* settings
 * and validated by loadSinkConnectorConfig, exactly as `walcast sink` validates them.
 */
import { CONFLUENT_JDBC_SINK_CLASS, CONFLUENT_JDBC_SINK_KEYS, confluentJdbcSinkSettings, confluentSinkSettingOf } from '../config/confluent-jdbc-sink.ts';
import { isConverterSetting } from '../config/converters.ts';
import { DEBEZIUM_JDBC_SINK_CLASS, DEBEZIUM_JDBC_SINK_KEYS, debeziumJdbcSinkSettings, debeziumSinkSettingOf } from '../config/debezium-jdbc-sink.ts';
import { ConfigError, loadSinkConnectorConfig, type ConfigSource, type SinkConfig } from '../config/load.ts';
import { SinkConnector } from '../sink/connector.ts';
import { SinkOffsetsAdmin } from '../sink/offsets-admin.ts';
import { WALCAST_VERSION } from '../version.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import { checkTasksMax, renamedProblems, type ConfigKey, type Configured, type ConnectorPlugin, type PluginContext } from './plugins.ts';

interface SinkFlavour {
  className: string;
  keys: readonly ConfigKey[];
  settings(config: ConnectorConfigMap, registryUrl: string, problems: ConfigProblem[]): ConfigSource;
  settingOf(variable: string): string;
  records: NonNullable<SinkConfig['records']>;
}

function sinkPlugin(flavour: SinkFlavour): ConnectorPlugin {
  return {
    className: flavour.className,
    type: 'sink',
    version: WALCAST_VERSION,
    keys: flavour.keys,
    acceptsKey: isConverterSetting,
    configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured {
      const problems: ConfigProblem[] = [];
      const tasks = checkTasksMax(config, problems);
      const mapped = flavour.settings(config, context.worker.registry.url, problems);
      // Connect names a sink's consumer group connect-<name>; the worker's environment may place the
      // offsets table (rows keyed by group), as WALCAST_OFFSETS_TOPIC places the sources' positions.
      const source: ConfigSource = { WALCAST_SINK_OFFSETS_TABLE: context.env.WALCAST_SINK_OFFSETS_TABLE, ...mapped, WALCAST_SINK_GROUP_ID: `connect-${name}` };
      try {
        const sink: SinkConfig = { ...loadSinkConnectorConfig(source, context.worker, name), records: flavour.records };
        if (problems.length > 0) return { problems };
        // tasks.max consumers of the group, as Connect's sink tasks: Kafka shares the partitions among
        // them, and each claims its partitions' rows in the offsets table (owner epochs fence a task
        // that lost one in a rebalance it has not seen yet).
        const create = (): SinkConnector[] => Array.from({ length: tasks }, (_, task) => new SinkConnector(sink, { task }));
        return { problems, tasks, create, offsets: (log) => new SinkOffsetsAdmin(sink, log) };
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...renamedProblems(error, flavour.settingOf, problems));
        return { problems };
      }
    },
  };
}

export const debeziumJdbcSinkPlugin = sinkPlugin({
  className: DEBEZIUM_JDBC_SINK_CLASS,
  keys: DEBEZIUM_JDBC_SINK_KEYS,
  settings: debeziumJdbcSinkSettings,
  settingOf: debeziumSinkSettingOf,
  records: 'envelope',
});

/** Confluent's JDBC sink: flat records (the value is the row), e.g. the JDBC source's topics. */
export const confluentJdbcSinkPlugin = sinkPlugin({
  className: CONFLUENT_JDBC_SINK_CLASS,
  keys: CONFLUENT_JDBC_SINK_KEYS,
  settings: confluentJdbcSinkSettings,
  settingOf: confluentSinkSettingOf,
  records: 'flat',
});
