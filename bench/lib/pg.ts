/** PostgreSQL side of the benchmark: slots, publications, LSNs, cleanup. */
import pg from 'pg';
import { sampleProc, tcpClientPorts } from './proc.ts';
import { log, sleep } from './util.ts';

export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * One connection for the orchestrator. Other sessions on the machine restart the shared PostgreSQL
 * in their fault tests: a connection found broken is replaced (waiting up to 5 minutes for the
 * server) before the next statement; a statement already sent when the connection dies fails.
 */
export class Db {
  private client: pg.Client;
  private broken = false;
  private readonly url: string;
  private readonly applicationName: string;
  /** Session settings applied again on every new connection (e.g. dynamic_library_path for wal2json). */
  private readonly settings: string[] = [];

  private constructor(client: pg.Client, url: string, applicationName: string) {
    this.client = client;
    this.url = url;
    this.applicationName = applicationName;
    this.watch(client);
  }

  private watch(client: pg.Client): void {
    client.on('error', () => {
      if (client === this.client) this.broken = true;
    });
    client.on('end', () => {
      if (client === this.client) this.broken = true;
    });
  }

  static async connect(url: string, applicationName = 'walcast-bench'): Promise<Db> {
    const client = new pg.Client({ connectionString: url, application_name: applicationName });
    await client.connect();
    return new Db(client, url, applicationName);
  }

  private async reconnect(): Promise<void> {
    const deadline = Date.now() + 5 * 60_000;
    await this.client.end().catch(() => undefined);
    for (;;) {
      const client = new pg.Client({ connectionString: this.url, application_name: this.applicationName });
      client.on('error', () => undefined);
      try {
        await client.connect();
        for (const sql of this.settings) await client.query(sql);
        this.client = client;
        this.broken = false;
        this.watch(client);
        log('reconnected to PostgreSQL (it was restarted, probably by another session\'s fault test)');
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw error;
        await sleep(1000);
      }
    }
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    if (this.broken) await this.reconnect();
    try {
      return (await this.client.query<R>(sql, params)).rows;
    } catch (error) {
      // not sent at all (the connection was already gone): safe to run again on a new one
      if (/not queryable|Connection terminated|ECONNRESET|EPIPE/.test((error as Error).message) || (error as { code?: string }).code === '57P01') this.broken = true;
      throw error;
    }
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /**
   * Lets this session load output plugins from `dir` too (pgstream's wal2json: creating or copying
   * a slot loads its plugin in the session that does it). A session setting, not the server's.
   */
  async addLibraryDir(dir: string): Promise<void> {
    const sql = `set dynamic_library_path = '$libdir:${dir.replace(/'/g, "''")}'`;
    await this.query(sql);
    this.settings.push(sql);
  }

  async createSlot(slot: string, plugin: 'pgoutput' | 'wal2json' = 'pgoutput'): Promise<void> {
    await this.query('select pg_create_logical_replication_slot($1, $2)', [slot, plugin]);
  }

  async slotInfo(slot: string): Promise<{ confirmed: bigint | null; activePid: number | null } | null> {
    const rows = await this.query<{ confirmed: string | null; active_pid: number | null }>(
      'select confirmed_flush_lsn::text as confirmed, active_pid from pg_replication_slots where slot_name = $1',
      [slot],
    );
    const row = rows[0];
    if (!row) return null;
    return { confirmed: row.confirmed ? parseLsn(row.confirmed) : null, activePid: row.active_pid };
  }

  /** Drops a slot once its consumer has let go (terminating a leftover walsender after `waitMs`). */
  async dropSlot(slot: string, waitMs = 30_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const info = await this.slotInfo(slot);
      if (!info) return;
      if (info.activePid === null) {
        try {
          await this.query('select pg_drop_replication_slot($1)', [slot]);
          return;
        } catch (error) {
          if ((error as { code?: string }).code === '42704') return; // already gone
          if ((error as { code?: string }).code !== '55006') throw error; // 55006: became active again
        }
      } else if (Date.now() > deadline) {
        log(`slot ${slot} still held by pid ${info.activePid}: terminating that walsender`);
        await this.query('select pg_terminate_backend($1)', [info.activePid]);
      }
      await sleep(200);
    }
  }

  async currentLsn(): Promise<bigint> {
    return parseLsn((await this.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
  }

  /**
   * Removes what earlier, interrupted benchmark runs left behind: inactive slots, publications and
   * schemas whose names start with `prefix` (never anything else, never an active slot).
   */
  async cleanupStale(prefix: string, keepRun: string): Promise<string[]> {
    const like = `${prefix.replace(/_/g, '\\_')}%`;
    const dropped: string[] = [];
    for (const r of await this.query<{ slot_name: string }>('select slot_name from pg_replication_slots where slot_name like $1 and not active', [like])) {
      if (r.slot_name.startsWith(keepRun)) continue;
      await this.query('select pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
      dropped.push(`slot ${r.slot_name}`);
    }
    for (const r of await this.query<{ pubname: string }>('select pubname from pg_publication where pubname like $1', [like])) {
      if (r.pubname.startsWith(keepRun)) continue;
      await this.query(`drop publication if exists ${ident(r.pubname)}`);
      dropped.push(`publication ${r.pubname}`);
    }
    for (const r of await this.query<{ nspname: string }>('select nspname from pg_namespace where nspname like $1', [like])) {
      if (r.nspname.startsWith(keepRun)) continue;
      await this.query(`drop schema if exists ${ident(r.nspname)} cascade`);
      dropped.push(`schema ${r.nspname}`);
    }
    return dropped;
  }
}

export interface PgUrlParts {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function pgUrlParts(url: string): PgUrlParts {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
  };
}

/**
 * CPU of the PostgreSQL backends that serve one client (its walsender and its other connections,
 * or a COPY), sampled from /proc while it runs: each backend from when it is first found (looked
 * for every `discoverMs`) to its last sample before it ended (sampled on every poll).
 */
export class BackendCpu {
  private readonly find: () => Promise<number[]>;
  private readonly discoverMs: number;
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private discoveredAt = 0;

  constructor(find: () => Promise<number[]>, discoverMs = 250) {
    this.find = find;
    this.discoverMs = discoverMs;
  }

  /** The backends of the connections process `pid` holds to PostgreSQL on `pgPort` (matched by client port). */
  static ofProcess(db: Db, pid: number, pgPort: number): BackendCpu {
    return new BackendCpu(async () => {
      const ports = tcpClientPorts(pid, pgPort);
      if (ports.length === 0) return [];
      const rows = await db.query<{ pid: number }>("select pid from pg_stat_activity where client_port = any($1::int[]) and client_addr in ('127.0.0.1', '::1')", [ports]);
      return rows.map((r) => r.pid);
    });
  }

  /** The backends whose application_name is `name`. */
  static ofApplication(db: Db, name: string): BackendCpu {
    return new BackendCpu(async () => (await db.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [name])).map((r) => r.pid), 0);
  }

  async poll(): Promise<void> {
    if (Date.now() - this.discoveredAt >= this.discoverMs) {
      this.discoveredAt = Date.now();
      const pids = await this.find().catch(() => []);
      for (const pid of pids) {
        if (this.first.has(pid)) continue;
        const s = sampleProc(pid);
        if (s) this.first.set(pid, s.cpuSeconds);
      }
    }
    for (const pid of this.first.keys()) {
      const s = sampleProc(pid);
      if (s) this.last.set(pid, s.cpuSeconds);
    }
  }

  /** Backends seen so far. */
  get backends(): number {
    return this.first.size;
  }

  /** CPU seconds of all backends seen, between their first and last samples. */
  cpu(): number | null {
    if (this.first.size === 0) return null;
    let sum = 0;
    for (const [pid, start] of this.first) sum += (this.last.get(pid) ?? start) - start;
    return sum;
  }
}
