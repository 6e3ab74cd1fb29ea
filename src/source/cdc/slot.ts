/**
 * The replication slot as an ownership token: PostgreSQL lets one walsender at a time stream a
 * slot, so the instance that holds it is the active one and any other with the same
 * configuration stands by (GUIDE, invariant 4). A slot is released when its walsender ends: at
 * once when the owning process dies (its socket closes), after wal_sender_timeout when its host is
 * lost or the process is frozen.
 */
import type pg from 'pg';
import { parseLsn, type Lsn } from '../../pg/lsn.ts';

/** PostgreSQL's object_in_use: START_REPLICATION on a slot another walsender streams. */
export const SLOT_IN_USE_SQLSTATE = '55006';

export interface SlotState {
  /** logical or physical; walcast needs logical. */
  type: string;
  plugin: string | null;
  database: string | null;
  /** Position the slot has confirmed: nothing before it is streamed again. */
  confirmedFlush: Lsn;
  /** Oldest WAL the slot keeps; null for a slot that never streamed or was invalidated. */
  restartLsn: Lsn | null;
  /** The walsender streaming it, or null when it is free. */
  activePid: number | null;
  /** Who holds it (client address and application name), for the standby's log line. */
  holder: string | null;
}

export async function slotState(client: pg.ClientBase, slot: string): Promise<SlotState | null> {
  const row = (await client.query<{ slot_type: string; plugin: string | null; database: string | null; confirmed: string | null; restart: string | null; active_pid: number | null; client_addr: string | null; application_name: string | null }>(
    `select s.slot_type, s.plugin, s.database, s.confirmed_flush_lsn::text as confirmed, s.restart_lsn::text as restart, s.active_pid,
            host(r.client_addr) as client_addr, r.application_name
       from pg_replication_slots s left join pg_stat_replication r on r.pid = s.active_pid
      where s.slot_name = $1`,
    [slot],
  )).rows[0];
  if (!row) return null;
  return {
    type: row.slot_type,
    plugin: row.plugin,
    database: row.database,
    confirmedFlush: row.confirmed ? parseLsn(row.confirmed) : 0n,
    restartLsn: row.restart ? parseLsn(row.restart) : null,
    activePid: row.active_pid,
    holder: row.active_pid === null ? null : `${row.client_addr ?? 'local socket'}${row.application_name ? `, application ${row.application_name}` : ''}`,
  };
}

/** The slot is streamed by another process: this instance stands by until it is released. */
export class SlotInUseError extends Error {
  readonly code = 'WALCAST_SLOT_IN_USE';
  constructor(slot: string, state: Pick<SlotState, 'activePid' | 'holder'> | null, options?: { cause?: unknown }) {
    const who = state?.activePid ? ` by walsender pid ${state.activePid} (${state.holder ?? 'unknown client'})` : '';
    super(
      `replication slot ${slot} is in use${who}, by another walcast instance with this configuration or another client; ` +
        'waiting to take over when it is released (its process ends, or its connection is silent past wal_sender_timeout)',
      options,
    );
    this.name = 'SlotInUseError';
  }
}
