/**
 * Debezium's Kafka signal channel: records on WALCAST_SIGNAL_KAFKA_TOPIC whose key is the
 * connector's name (Debezium: its topic.prefix) and whose value is
 *   {"type": "execute-snapshot", "data": {"data-collections": [...], "type": "incremental", "additional-conditions": [...]}}
 * or stop-snapshot, pause-snapshot, resume-snapshot, so scripts that drive Debezium keep working.
 * Records for other connectors are skipped; unknown signal types are logged and skipped.
 */
import type { Kafka } from 'kafkajs';
import type { SnapshotControl } from '../../connector.ts';
import type { Logger } from '../../log.ts';
import { snapshotRequest, type ExecuteSnapshotData } from './request.ts';

export interface SignalListenerOptions {
  kafka: Kafka;
  topic: string;
  connectorName: string;
  /** The consumer group remembers which signals were handled. */
  groupId: string;
  control: SnapshotControl;
  log: Logger;
  /** A consumer that failed for good: the session restarts (as for any Kafka fault). */
  onCrash(error: Error): void;
}

/** Handles one signal record's value; returns what was done, for the log. */
export async function handleSignal(value: string, control: SnapshotControl): Promise<string> {
  let signal: { type?: unknown; data?: unknown };
  try {
    signal = JSON.parse(value) as { type?: unknown; data?: unknown };
  } catch {
    return `skipped: the value is not JSON: ${JSON.stringify(value.slice(0, 200))}`;
  }
  switch (signal.type) {
    case 'execute-snapshot': {
      const request = snapshotRequest((signal.data ?? {}) as ExecuteSnapshotData);
      if (typeof request === 'string') return `skipped: ${request}`;
      const started = await control.execute(request);
      return `snapshot ${started.id} started for ${started.tables.join(', ')}`;
    }
    case 'stop-snapshot':
      return control.stop() ? 'snapshot stopped' : 'skipped: no snapshot is running';
    case 'pause-snapshot':
      return control.pause(true) ? 'snapshot paused' : 'skipped: no snapshot is running';
    case 'resume-snapshot':
      return control.pause(false) ? 'snapshot resumed' : 'skipped: no snapshot is running';
    default:
      return `skipped: signal type ${JSON.stringify(signal.type)} is not one walcast handles (execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot)`;
  }
}

/** Starts consuming signals; resolves to the function that stops it. */
export async function listenForSignals(options: SignalListenerOptions): Promise<() => Promise<void>> {
  const consumer = options.kafka.consumer({
    groupId: options.groupId,
    // kafkajs would restart a crashed consumer outside any promise walcast awaits.
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  consumer.on(consumer.events.CRASH, (event) => options.onCrash(event.payload.error));
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.toString('utf8') !== options.connectorName || !message.value) return;
      let outcome: string;
      try {
        outcome = await handleSignal(message.value.toString('utf8'), options.control);
      } catch (error) {
        outcome = `refused: ${(error as Error).message}`;
      }
      options.log.info({ signalTopic: options.topic, offset: message.offset, outcome }, 'Kafka signal');
    },
  });
  return async () => {
    await consumer.disconnect().catch(() => undefined);
  };
}
