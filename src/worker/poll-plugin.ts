/** `io.confluent.connect.jdbc.JdbcSourceConnector`: the JDBC source connector's names (config/jdbc-source.ts) for walcast's polling source. */
import { isConverterSetting } from '../config/converters.ts';
import { JDBC_SOURCE_CLASS, JDBC_SOURCE_KEYS, jdbcSourceConfig } from '../config/jdbc-source.ts';
import { PollConnector, type PollKafkaSettings } from '../source/poll/connector.ts';
import { PollOffsets } from '../source/poll/offsets-admin.ts';
import { fenceEarlierTasks, pollTaskCount, spreadTables } from '../source/poll/tasks.ts';
import type { Logger } from '../log.ts';
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
    const tasksMax = checkTasksMax(config, problems);
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
    const tasks = pollTaskCount(poll, tasksMax);
    // The tables spread over tasks.max tasks (a query runs as one), each with its transactional id.
    const create = (): PollConnector[] => {
      let fenced: Promise<number> | null = null;
      const fence = async (log: Logger): Promise<void> => {
        // Once per start, shared by its tasks; done again only when it failed.
        fenced ??= fenceEarlierTasks(name, settings, tasks, log).catch((error: unknown) => {
          fenced = null;
          throw error;
        });
        await fenced;
      };
      const groups = poll.query !== null ? [[]] : spreadTables(poll.tables, tasks);
      return groups.map((tables, task) => new PollConnector({ ...poll, tables }, settings, { task, connectorTables: Math.max(1, poll.tables.length), fence }));
    };
    return { problems, tasks, create, offsets: (log) => new PollOffsets(poll, settings, tasks, log) };
  },
};
