/**
 * The CDC source's offsets as Kafka Connect's REST API shows them, in Debezium's shape: one
 * partition `{"server": <topic prefix>}` whose offset is `{"lsn": <LSN as a number>, "txId": <xid>}`
 * (plus walcast's `snapshot` progress while a snapshot is unfinished).
 *
 * Moving the LSN forward skips the transactions up to it (the stream skips what is at or below the
 * stored LSN). It cannot go back past what the replication slot has confirmed: PostgreSQL has
 * released that WAL, so such a change is refused rather than silently ignored. A reset removes the
 * record: the connector starts as a new one (with snapshot.mode initial, it snapshots again).
 */
import { integerOf, jsonInteger, OffsetsRequestError, type ConnectorOffset, type ConnectorOffsets } from '../../connector-offsets.ts';
import type { CdcConnectorConfig } from '../../config/load.ts';
import { readPosition, rewritePosition, type PositionAdminOptions } from '../../kafka/position-admin.ts';
import type { JsonValue, SourcePosition } from '../../kafka/offsets.ts';
import type { Logger } from '../../log.ts';
import { negotiateTls, newClient } from '../../pg/connect.ts';
import { formatLsn, parseLsn, type Lsn } from '../../pg/lsn.ts';
import { parseProgress } from '../snapshot/progress.ts';
import { fromSourcePosition } from './position.ts';

function lsnOf(value: JsonValue | undefined): Lsn | null {
  if (typeof value === 'string' && value.includes('/')) {
    try {
      return parseLsn(value.trim());
    } catch {
      return null;
    }
  }
  return integerOf(value);
}

export class CdcOffsets implements ConnectorOffsets {
  private readonly config: CdcConnectorConfig;
  private readonly admin: PositionAdminOptions;

  constructor(config: CdcConnectorConfig, log: Logger) {
    this.config = config;
    const { kafka } = config;
    this.admin = {
      brokers: kafka.brokers,
      clientId: kafka.clientId,
      security: kafka.security,
      transactionalId: kafka.transactionalId,
      offsetsTopic: kafka.offsetsTopic,
      sourceId: kafka.transactionalId,
      topicPrefix: config.events.topicPrefix,
      extraTopics: config.errors.tolerance === 'all' ? [config.errors.deadLetterQueueTopicName] : [],
      openTransactionWaitMs: kafka.openTransactionWaitMs,
      log,
    };
  }

  private get partition(): { server: string } {
    return { server: this.config.events.topicPrefix };
  }

  async read(): Promise<ConnectorOffset[]> {
    const stored = await readPosition(this.admin);
    if (stored === null) return [];
    const position = fromSourcePosition(stored);
    const offset: { [key: string]: JsonValue } = { lsn: jsonInteger(position.lsn), txId: position.txId };
    if (stored.snapshot !== undefined) offset.snapshot = stored.snapshot;
    return [{ partition: this.partition, offset }];
  }

  async alter(entries: readonly ConnectorOffset[]): Promise<void> {
    const server = this.config.events.topicPrefix;
    let next: SourcePosition | null | undefined;
    for (const { partition, offset } of entries) {
      if (Object.keys(partition).length !== 1 || partition.server !== server) {
        throw new OffsetsRequestError(`this connector has one partition, {"server": ${JSON.stringify(server)}} (its topic.prefix); not ${JSON.stringify(partition)}`);
      }
      if (offset === null) {
        next = null;
        continue;
      }
      const lsn = lsnOf(offset.lsn);
      if (lsn === null) throw new OffsetsRequestError(`the offset needs "lsn": an LSN as a number (Debezium's) or as text like "0/16B3748"; got ${JSON.stringify(offset.lsn)}`);
      const unknown = Object.keys(offset).filter((k) => !['lsn', 'txId', 'snapshot', 'lsn_proc', 'lsn_commit', 'ts_usec'].includes(k));
      if (unknown.length > 0) throw new OffsetsRequestError(`unknown offset fields ${unknown.join(', ')}: the offset is {"lsn", "txId", "snapshot"} as GET shows it`);
      const txId = offset.txId === undefined || offset.txId === null ? null : integerOf(offset.txId);
      if (offset.txId !== undefined && offset.txId !== null && txId === null) throw new OffsetsRequestError(`"txId" must be a transaction id or null; got ${JSON.stringify(offset.txId)}`);
      next = { lsn: formatLsn(lsn), txId: txId === null ? null : Number(txId) };
      if (offset.snapshot !== undefined && offset.snapshot !== null) {
        try {
          parseProgress(offset.snapshot);
        } catch (error) {
          throw new OffsetsRequestError(`"snapshot" is not a snapshot's progress as GET shows it: ${(error as Error).message}`);
        }
        next.snapshot = offset.snapshot;
      }
      await this.checkSlot(lsn);
    }
    if (next === undefined) return;
    const position = next;
    await rewritePosition(this.admin, () => position);
  }

  async reset(): Promise<void> {
    await rewritePosition(this.admin, () => null);
  }

  /** An LSN below what the slot confirmed names WAL PostgreSQL no longer has. */
  private async checkSlot(lsn: Lsn): Promise<void> {
    const client = newClient(await negotiateTls(this.config.pg.connection));
    await client.connect();
    try {
      const { rows } = await client.query<{ confirmed: string | null }>('select confirmed_flush_lsn::text as confirmed from pg_replication_slots where slot_name = $1', [this.config.pg.slot]);
      const confirmed = rows[0]?.confirmed;
      if (confirmed && lsn < parseLsn(confirmed)) {
        throw new OffsetsRequestError(
          `lsn ${formatLsn(lsn)} is below ${confirmed}, which replication slot ${this.config.pg.slot} has already confirmed: PostgreSQL no longer keeps that WAL, so the connector cannot go back there. ` +
            'To publish existing rows again, reset the offsets (DELETE; with snapshot.mode initial the connector snapshots again) or run an incremental snapshot',
        );
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
