/**
 * `walcast check`, Kafka: the brokers answer and accept walcast's credentials, transactions are
 * allowed (InitProducerId under walcast's transaction timeout), and the offsets topic exists as a
 * compacted topic or may be created. The transactions check uses its own transactional id
 * (`<WALCAST_KAFKA_TRANSACTIONAL_ID>-check`): walcast's would fence a running instance.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { CdcConnectorConfig } from '../config/load.ts';
import { createKafka } from '../kafka/producer.ts';
import { checkKafkaTls, kafkaSecurityError } from '../kafka/security.ts';
import { WalcastError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CheckResult } from '../source/cdc/preflight.ts';

const STEP_TIMEOUT_MS = 15_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${STEP_TIMEOUT_MS / 1000} s while ${what}`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** kafkajs wraps the cause of a failed connection one or two levels down. */
function describe(error: unknown): { name: string; type: string | undefined; message: string } {
  let current = error as { name?: string; type?: string; message?: string; cause?: unknown; originalError?: unknown } | null;
  const name = current?.name ?? 'Error';
  const type = current?.type;
  const messages: string[] = [];
  for (let depth = 0; current && depth < 3; depth++) {
    if (current.message && !messages.includes(current.message)) messages.push(current.message);
    current = (current.originalError ?? current.cause ?? null) as typeof current;
  }
  return { name, type, message: messages.join(': ') || String(error) };
}

function connectFailure(error: unknown, brokers: string[]): CheckResult {
  // Refused SASL credentials or a refused certificate: the message names the settings to change.
  const security = error instanceof WalcastError ? error : kafkaSecurityError(error);
  if (security) return { id: 'kafka.connect', status: 'fail', summary: `Kafka at ${brokers.join(',')}: ${security.message}.` };
  const { message } = describe(error);
  return {
    id: 'kafka.connect',
    status: 'fail',
    summary: `could not reach Kafka at ${brokers.join(',')} (${message}).`,
    fix: 'Fix: WALCAST_KAFKA_BROKERS, and that the brokers listen there and advertise addresses walcast can reach (advertised.listeners).',
  };
}

function transactionsFailure(error: unknown, transactionalId: string, timeoutMs: number): CheckResult {
  const { type, message } = describe(error);
  const fail = (summary: string, fix: string): CheckResult => ({ id: 'kafka.transactions', status: 'fail', summary, fix });
  switch (type) {
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return fail(`Kafka refused transactional id ${transactionalId}: not authorised.`, `Fix: an ACL allowing WRITE and DESCRIBE on transactional ids with the prefix ${transactionalId.replace(/-check$/, '')} (walcast's own and this check's).`);
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return fail('Kafka refused the idempotent producer walcast needs: not authorised.', 'Fix: an ACL allowing IDEMPOTENT_WRITE on the cluster.');
    case 'INVALID_TRANSACTION_TIMEOUT':
      return fail(`Kafka refused a transaction timeout of ${timeoutMs} ms (above the brokers' transaction.max.timeout.ms).`, 'Fix: lower WALCAST_KAFKA_TRANSACTION_TIMEOUT_MS, or raise transaction.max.timeout.ms on the brokers.');
    default:
      return fail(
        `Kafka transactions failed (${message}).`,
        'Fix: the transaction coordinator must be available: transaction.state.log.replication.factor and transaction.state.log.min.isr at most the number of live brokers.',
      );
  }
}

async function transactionsCheck(kafka: Kafka, config: CdcConnectorConfig): Promise<CheckResult> {
  const transactionalId = `${config.kafka.transactionalId}-check`;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId, transactionTimeout: config.kafka.transactionTimeoutMs, retry: { retries: 2 } });
  try {
    await within(producer.connect(), 'connecting a transactional producer');
    const transaction = await within(producer.transaction(), 'starting a transaction');
    await within(transaction.abort(), 'aborting the check transaction');
    return { id: 'kafka.transactions', status: 'pass', summary: `transactions allowed (transactional id ${transactionalId}, timeout ${config.kafka.transactionTimeoutMs} ms)` };
  } catch (error) {
    return transactionsFailure(error, transactionalId, config.kafka.transactionTimeoutMs);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

async function offsetsTopicCheck(admin: Admin, topic: string): Promise<CheckResult> {
  const id = 'kafka.offsets_topic';
  try {
    if ((await within(admin.listTopics(), 'listing topics')).includes(topic)) {
      const described = await within(admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }] }), 'describing the offsets topic');
      const policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? '';
      if (!policy.split(',').includes('compact')) {
        return {
          id,
          status: 'fail',
          summary: `offsets topic ${topic} exists with cleanup.policy=${policy}: walcast's positions would be deleted with old segments.`,
          fix: `Fix: kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config cleanup.policy=compact (or choose another WALCAST_OFFSETS_TOPIC).`,
        };
      }
      return { id, status: 'pass', summary: `offsets topic ${topic} exists (compacted)` };
    }
    await within(
      admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] }),
      'validating the offsets topic',
    );
    return { id, status: 'pass', summary: `offsets topic ${topic} does not exist; walcast may create it (validated by the brokers)` };
  } catch (error) {
    const { type, message } = describe(error);
    return {
      id,
      status: 'fail',
      summary: `offsets topic ${topic}: ${message}.`,
      fix: type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'CLUSTER_AUTHORIZATION_FAILED'
        ? `Fix: an ACL allowing CREATE, DESCRIBE, READ and WRITE on topic ${topic} (and on the topics with the prefix WALCAST_TOPIC_PREFIX).`
        : 'Fix: see the broker log; the topic needs one partition and cleanup.policy=compact.',
    };
  }
}

export async function kafkaChecks(config: CdcConnectorConfig, log: Logger): Promise<CheckResult[]> {
  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, security: config.kafka.security, log, retries: 2, connectionTimeoutMs: 5000 });
  const admin = kafka.admin();
  try {
    // A refused certificate is named as such, not retried as an unreachable broker.
    await checkKafkaTls(config.kafka.brokers, config.kafka.security);
    const cluster = await within(admin.connect().then(() => admin.describeCluster()), `connecting to ${config.kafka.brokers.join(',')}`);
    const results: CheckResult[] = [{ id: 'kafka.connect', status: 'pass', summary: `connected to Kafka cluster ${cluster.clusterId} (${cluster.brokers.length} broker(s))` }];
    results.push(await transactionsCheck(kafka, config));
    results.push(await offsetsTopicCheck(admin, config.kafka.offsetsTopic));
    return results;
  } catch (error) {
    return [
      connectFailure(error, config.kafka.brokers),
      { id: 'kafka.transactions', status: 'skip', summary: 'not checked: Kafka not reachable' },
      { id: 'kafka.offsets_topic', status: 'skip', summary: 'not checked: Kafka not reachable' },
    ];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
