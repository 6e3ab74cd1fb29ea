/** `io.confluent.connect.jdbc.JdbcSourceConnector`: the JDBC source connector's names (config/jdbc-source.ts) for walcast's polling source. */
import { isConverterSetting } from '../config/converters.ts';
import { JDBC_SOURCE_CLASS, JDBC_SOURCE_KEYS, jdbcSourceConfig } from '../config/jdbc-source.ts';
import { PollConnector, type PollKafkaSettings } from '../source/poll/connector.ts';
import { PollOffsets } from '../source/poll/offsets-admin.ts';
import { WALCAST_VERSION } from '../version.ts';
import type { ConfigProblem, ConnectorConfigMap } from './config-providers.ts';
import { checkTasksMax, type Configured, type ConnectorPlugin, type PluginContext } from './plugins.ts';

export const jdbcSourcePlugin: ConnectorPlugin = {
  className: JDBC_SOURCE_CLASS,
  type: 'source',
  version: WALCAST_VERSION,
  keys: JDBC_SOURCE_KEYS,
  acceptsKey: isConverterSetting,
  configure(name: string, config: ConnectorConfigMap, context: PluginContext): Configured {
    const problems: ConfigProblem[] = [];
    checkTasksMax(config, problems);
    const poll = jdbcSourceConfig(name, config, problems);
    if (!poll || problems.length > 0) return { problems };
    const { kafka } = context.worker;
    const settings: PollKafkaSettings = {
      brokers: kafka.brokers,
      clientId: kafka.clientId,
      security: kafka.security,
      // As for the CDC source: the worker's offsets topic holds every connector's position.
      offsetsTopic: context.env.WALCAST_OFFSETS_TOPIC || 'walcast-offsets',
      openTransactionWaitMs: 10_000,
    };
    return { problems, tasks: 1, create: () => [new PollConnector(poll, settings)], offsets: (log) => new PollOffsets(poll, settings, log) };
  },
};
