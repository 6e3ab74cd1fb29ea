// Steady mixed writes for the fault runs: multi-row transactions of inserts, updates and deletes
// over two tables, one schema change, and a ledger row per transaction (written in the same
// transaction, so it exists exactly when the transaction committed) with its expected event count
// and how many of those events go to the dead-letter topic (poison rows, see poisonRow()). Every
// row carries a version that each update bumps, so that a copy of the tables (the sink's) can be
// audited for a row version written twice.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface WorkloadOptions {
  pgUrl: string;
  schema: string;
}

export class Workload {
  private readonly options: WorkloadOptions;
  private client: pg.Client | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private gate: Promise<void> = Promise.resolve();
  private openGate: (() => void) | null = null;
  private inFlight = false;
  private nextAccount = 1;
  private nextTransfer = 1;
  private tier = false;
  committed = 0;
  failedAttempts = 0;

  constructor(options: WorkloadOptions) {
    this.options = options;
  }

  get ledger(): string {
    return `"${this.options.schema}_ledger".transactions`;
  }

  async setup(): Promise<void> {
    const db = new pg.Client({ connectionString: this.options.pgUrl });
    await db.connect();
    const s = this.options.schema;
    await db.query(`create schema "${s}"`);
    await db.query(`create schema "${s}_ledger"`);
    await db.query(`create table "${s}".accounts (id int primary key, version int not null default 1, balance bigint not null, note text)`);
    await db.query(`create table "${s}".transfers (id int primary key, version int not null default 1, account int not null, amount int not null)`);
    await db.query(`create table ${this.ledger} (xid bigint primary key, events int not null, dead_lettered int not null default 0)`);
    await db.end();
  }

  async teardown(): Promise<void> {
    const db = new pg.Client({ connectionString: this.options.pgUrl });
    await db.connect();
    await db.query(`drop schema if exists "${this.options.schema}" cascade`);
    await db.query(`drop schema if exists "${this.options.schema}_ledger" cascade`);
    await db.end();
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await this.loop;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  /** Parks the writer between transactions (for a quiescent check). */
  async pause(): Promise<void> {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    while (this.inFlight) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  resume(): void {
    this.openGate?.();
    this.openGate = null;
  }

  /**
   * A poison row: an account whose note is larger than a change topic accepts (1.2 MB against
   * Kafka's 1 MiB default max.message.bytes), so walcast dead-letters its insert (the run uses
   * WALCAST_ERRORS_TOLERANCE=all); in the same transaction its note is then shortened, and that
   * update flows. Written beside the steady workload, on a connection of its own. Returns the xid.
   */
  async poisonRow(): Promise<string> {
    const db = new pg.Client({ connectionString: this.options.pgUrl });
    await db.connect();
    try {
      const s = this.options.schema;
      const id = this.nextAccount++;
      await db.query('begin');
      const note = `poison ${id} ${randomBytes(600_000).toString('hex')}`;
      const tier = this.tier ? ', tier' : '';
      await db.query(`insert into "${s}".accounts (id, balance, note${tier}) values ($1, 100, $2${this.tier ? ', 0' : ''})`, [id, note]);
      await db.query(`update "${s}".accounts set version = version + 1, note = $2 where id = $1`, [id, `poison ${id}, shortened`]);
      const { rows } = await db.query<{ xid: string }>(`insert into ${this.ledger} values (pg_current_xact_id()::text::bigint, 2, 1) returning xid::text`);
      await db.query('commit');
      this.committed += 1;
      return rows[0]!.xid;
    } finally {
      await db.end();
    }
  }

  /** Adds a column mid-stream; later transactions fill it. */
  async schemaChange(): Promise<void> {
    await this.pause();
    const db = new pg.Client({ connectionString: this.options.pgUrl });
    await db.connect();
    await db.query(`alter table "${this.options.schema}".accounts add column tier int`);
    await db.end();
    this.tier = true;
    this.resume();
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.options.pgUrl });
    client.on('error', () => undefined);
    await client.connect();
    this.client = client;
    return client;
  }

  private async run(): Promise<void> {
    const s = this.options.schema;
    while (this.running) {
      await this.gate;
      if (!this.running) break;
      this.inFlight = true;
      try {
        const db = await this.connection();
        await db.query('begin');
        let events = 0;
        const inserts = 1 + Math.floor(Math.random() * 4);
        for (let i = 0; i < inserts; i++) {
          const id = this.nextAccount++;
          const r = this.tier
            ? await db.query(`insert into "${s}".accounts (id, balance, note, tier) values ($1, 100, $2, $3) on conflict do nothing`, [id, `acct ${id}`, id % 3])
            : await db.query(`insert into "${s}".accounts (id, balance, note) values ($1, 100, $2) on conflict do nothing`, [id, `acct ${id}`]);
          events += r.rowCount ?? 0;
        }
        for (let i = 0; i < 2; i++) {
          const account = 1 + Math.floor(Math.random() * this.nextAccount);
          const amount = Math.floor(Math.random() * 50);
          const u = await db.query(`update "${s}".accounts set version = version + 1, balance = balance - $2 where id = $1`, [account, amount]);
          events += u.rowCount ?? 0;
          if ((u.rowCount ?? 0) > 0) {
            const t = await db.query(`insert into "${s}".transfers (id, account, amount) values ($1, $2, $3) on conflict do nothing`, [this.nextTransfer++, account, amount]);
            events += t.rowCount ?? 0;
          }
        }
        if (Math.random() < 0.3) {
          const d = await db.query(`delete from "${s}".accounts where id = $1`, [1 + Math.floor(Math.random() * this.nextAccount)]);
          events += d.rowCount ?? 0;
        }
        await db.query(`insert into ${this.ledger} values (pg_current_xact_id()::text::bigint, $1)`, [events]);
        await db.query('commit');
        this.committed += 1;
        // A steady, not saturating, load: every check re-reads all topics from the start.
        await new Promise((resolve) => setTimeout(resolve, 5));
      } catch {
        // A fault (PostgreSQL restarting): the transaction either committed (its ledger row says
        // so) or not; reconnect and carry on.
        this.failedAttempts += 1;
        await this.client?.end().catch(() => undefined);
        this.client = null;
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        this.inFlight = false;
      }
    }
  }
}
