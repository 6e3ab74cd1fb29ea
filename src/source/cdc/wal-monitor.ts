/**
 * How much WAL the slot makes the source keep: pg_current_wal_lsn() - restart_lsn. PostgreSQL
 * removes no WAL a slot still needs, so a stopped, paused or lagging walcast fills the source's
 * disk; this is the figure to watch (metric walcast_slot_retained_wal_bytes, the status call)
 * and to warn about above WALCAST_RETAINED_WAL_WARN_BYTES.
 */
import type pg from 'pg';
import type { ConnectorStats } from '../../connector.ts';
import type { Logger } from '../../log.ts';

/** While the slot stays above the threshold, the warning is repeated this often. */
const REPEAT_WARNING_MS = 5 * 60_000;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export class RetainedWalMonitor {
  private readonly client: pg.ClientBase;
  private readonly slot: string;
  private readonly warnBytes: number;
  private readonly log: Logger;
  private readonly stats: ConnectorStats;
  private warnedAt: number | null = null;
  private polling: Promise<void> | null = null;

  constructor(options: { client: pg.ClientBase; slot: string; warnBytes: number; log: Logger; stats: ConnectorStats }) {
    this.client = options.client;
    this.slot = options.slot;
    this.warnBytes = options.warnBytes;
    this.log = options.log;
    this.stats = options.stats;
    this.stats.retainedWalWarnBytes = options.warnBytes;
  }

  /** One reading; a reading still in progress is awaited instead of overlapped. */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private async read(): Promise<void> {
    const row = (await this.client.query<{ retained: number | null }>(
      'select (pg_current_wal_lsn() - restart_lsn)::float8 as retained from pg_replication_slots where slot_name = $1',
      [this.slot],
    )).rows[0];
    const retained = row?.retained ?? null;
    this.stats.retainedWalBytes = retained;
    if (retained === null || this.warnBytes <= 0) return;
    const now = Date.now();
    if (retained > this.warnBytes) {
      if (this.warnedAt === null || now - this.warnedAt >= REPEAT_WARNING_MS) {
        this.warnedAt = now;
        this.log.warn(
          { slot: this.slot, retainedWalBytes: retained, thresholdBytes: this.warnBytes, paused: this.stats.paused },
          `replication slot ${this.slot} makes PostgreSQL keep ${mib(retained)} of WAL (above WALCAST_RETAINED_WAL_WARN_BYTES, ${mib(this.warnBytes)}): ` +
            'it is freed only as walcast confirms what Kafka committed. Is walcast paused, behind (walcast_milliseconds_behind_source) or failing to reach Kafka? ' +
            "Watch the source's free disk space (docs/operations.md#wal-and-lag)",
        );
      }
    } else if (this.warnedAt !== null) {
      this.warnedAt = null;
      this.log.info({ slot: this.slot, retainedWalBytes: retained, thresholdBytes: this.warnBytes }, `replication slot ${this.slot} retains ${mib(retained)} of WAL again, below WALCAST_RETAINED_WAL_WARN_BYTES`);
    }
  }
}
