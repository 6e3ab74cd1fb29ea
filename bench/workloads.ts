/**
 * The benchmark's workloads (issue 5). Each catch-up workload is written once, while every CDC
 * system is stopped and each holds its own slot on the same WAL; the systems then read it in turn.
 */
import type { Db } from './lib/pg.ts';
import { ident, parseLsn } from './lib/pg.ts';

export type WorkloadId = 'a' | 'b' | 'b2' | 'c' | 'd' | 'e' | 's';
export type SystemId =
  | 'walcast' | 'walcast-baseline' | 'walsender' | 'kafkajs' | 'kafka-perf' | 'debezium-json' | 'debezium-avro'
  // xataio/pgstream (wal2json -> Kafka, JSON): its default Kafka writer batches (100) and batches of 2,500
  | 'pgstream' | 'pgstream-2500'
  // (e) only: walcast's snapshot at 1, 2 and 4 threads, Debezium's at snapshot.max.threads=2, the source's COPY ceiling
  | 'walcast-snapshot-t1' | 'walcast-snapshot-t2' | 'walcast-snapshot-t4' | 'debezium-json-t2' | 'debezium-avro-t2' | 'copy'
  // (s) only: the sinks, Kafka -> PostgreSQL, and COPY into a table as their ceiling
  | 'walcast-sink' | 'debezium-jdbc' | 'copy-in';

/** `walcast-baseline` runs only with `--baseline <git-ref>`. */
export const ALL_SYSTEMS: SystemId[] = ['walsender', 'walcast', 'walcast-baseline', 'kafkajs', 'kafka-perf', 'pgstream', 'pgstream-2500', 'debezium-json', 'debezium-avro'];

/** Workload (e): the COPY ceiling, walcast at 1, 2 and 4 threads, Debezium at its default threads and at 2. */
export const SNAPSHOT_SYSTEMS: SystemId[] = ['copy', 'walcast-snapshot-t1', 'walcast-snapshot-t2', 'walcast-snapshot-t4', 'debezium-avro', 'debezium-avro-t2', 'debezium-json', 'debezium-json-t2'];

/** Workload (s): the target's COPY ceiling, walcast's sink, Debezium's JDBC sink. */
export const SINK_SYSTEMS: SystemId[] = ['copy-in', 'walcast-sink', 'debezium-jdbc'];

/** A system that reads the table as a snapshot (e): which program, with how many threads (null: its default). */
export interface SnapshotRunner {
  program: 'walcast' | 'debezium-json' | 'debezium-avro';
  threads: number | null;
}

export const SNAPSHOT_RUNNERS: Partial<Record<SystemId, SnapshotRunner>> = {
  'walcast-snapshot-t1': { program: 'walcast', threads: 1 },
  'walcast-snapshot-t2': { program: 'walcast', threads: 2 },
  'walcast-snapshot-t4': { program: 'walcast', threads: 4 },
  'debezium-json': { program: 'debezium-json', threads: null },
  'debezium-avro': { program: 'debezium-avro', threads: null },
  'debezium-json-t2': { program: 'debezium-json', threads: 2 },
  'debezium-avro-t2': { program: 'debezium-avro', threads: 2 },
};

/** walcast itself: the tree under test or the `--baseline` commit, measured alike. */
export function isWalcast(system: SystemId): boolean {
  return system === 'walcast' || system === 'walcast-baseline';
}

/** pgstream, at either batch setting. */
export function isPgstream(system: SystemId): boolean {
  return system === 'pgstream' || system === 'pgstream-2500';
}

export const SYSTEM_LABELS: Record<SystemId, string> = {
  walcast: 'walcast (Avro + registry, exactly-once)',
  'walcast-baseline': 'walcast baseline (the --baseline commit, its own launcher flags, same configuration)',
  walsender: 'walsender ceiling (pg_recvlogical, pgoutput -> /dev/null)',
  kafkajs: "Kafka ceiling: walcast's kafkajs producer alone",
  'kafka-perf': 'Kafka ceiling: Java ProducerPerformance, transactional',
  'debezium-json': 'Debezium 3.7.0 on Connect 4.3.1, JsonConverter',
  'debezium-avro': 'Debezium 3.7.0 on Connect 4.3.1, Apicurio AvroConverter',
  pgstream: 'pgstream 1.3.1 (wal2json -> Kafka writer, JSON), default batches of 100',
  'pgstream-2500': 'pgstream 1.3.1 (wal2json -> Kafka writer, JSON), batches of 2,500',
  'walcast-snapshot-t1': 'walcast snapshot, WALCAST_SNAPSHOT_MAX_THREADS=1 (initial_only, Avro + registry, exactly-once)',
  'walcast-snapshot-t2': 'walcast snapshot, WALCAST_SNAPSHOT_MAX_THREADS=2 (the default)',
  'walcast-snapshot-t4': 'walcast snapshot, WALCAST_SNAPSHOT_MAX_THREADS=4',
  'debezium-json-t2': 'Debezium 3.7.0 on Connect 4.3.1, JsonConverter, snapshot.max.threads=2',
  'debezium-avro-t2': 'Debezium 3.7.0 on Connect 4.3.1, Apicurio AvroConverter, snapshot.max.threads=2',
  copy: 'source ceiling: psql \\copy of the table to /dev/null (COPY ... TO STDOUT)',
  'walcast-sink': 'walcast sink (Avro + registry, exactly-once: offsets in the target transaction)',
  'debezium-jdbc': "Debezium's JDBC sink 3.6.0 on Connect 4.3.1 (upsert, delete.enabled, record_key; Apicurio AvroConverter)",
  'copy-in': 'target ceiling: COPY of the final rows into an empty table (COPY ... FROM STDIN)',
};

export interface WorkloadSpec {
  id: WorkloadId;
  title: string;
  /** For the chart. */
  short: string;
  mode: 'catchup' | 'live' | 'snapshot' | 'sink';
  /** Table name inside the run's schema. */
  table: string;
  /** Row changes (= change events) the workload writes; live: rows per second x seconds. */
  rows: number;
  /** Rows per PostgreSQL transaction. */
  txnRows: number;
  /** Systems this workload runs (before --only filtering). */
  systems: SystemId[];
  /** Live workload: rows per second and duration. */
  rate?: number;
  seconds?: number;
  note?: string;
}

export interface Sizes {
  quick: boolean;
  liveSeconds: number;
  liveTxnRows: number;
}

export function workloadSpecs(s: Sizes): WorkloadSpec[] {
  const q = s.quick;
  const rate = 10_000;
  return [
    {
      id: 'a',
      short: q ? '100k rows, 10-row txns' : '1M rows, 10-row txns',
      title: `${q ? '100k' : '1M'} rows in 10-row transactions`,
      mode: 'catchup',
      table: 'orders_a',
      rows: q ? 100_000 : 1_000_000,
      txnRows: 10,
      systems: ALL_SYSTEMS,
    },
    {
      id: 'b',
      short: q ? 'one 100k-row txn' : 'one 1M-row txn',
      title: `one ${q ? '100k' : '1M'}-row transaction`,
      mode: 'catchup',
      table: 'orders_b',
      rows: q ? 100_000 : 1_000_000,
      txnRows: q ? 100_000 : 1_000_000,
      systems: ALL_SYSTEMS,
    },
    {
      id: 'b2',
      short: q ? 'one 200k-row txn' : 'one 2M-row txn',
      title: `one ${q ? '200k' : '2M'}-row transaction (walcast memory check)`,
      mode: 'catchup',
      table: 'orders_b2',
      rows: q ? 200_000 : 2_000_000,
      txnRows: q ? 200_000 : 2_000_000,
      systems: ['walsender', 'walcast', 'walcast-baseline'],
      note: 'walcast and the walsender only, to keep a full run under 30 minutes',
    },
    {
      id: 'c',
      short: 'wide rows + TOAST, updates',
      title: `updates of ${q ? '20k' : '100k'} wide rows (25 columns, 2 KB TOASTed text unchanged), 100-row transactions`,
      mode: 'catchup',
      table: 'wide_c',
      rows: q ? 20_000 : 100_000,
      txnRows: 100,
      systems: ALL_SYSTEMS,
    },
    {
      id: 'd',
      short: `live ${rate / 1000}k rows/s`,
      title: `live load, ${rate / 1000}k rows/s for ${s.liveSeconds} s in ${s.liveTxnRows}-row transactions (latency)`,
      mode: 'live',
      table: 'orders_d',
      rows: rate * s.liveSeconds,
      txnRows: s.liveTxnRows,
      rate,
      seconds: s.liveSeconds,
      systems: ['walcast', 'walcast-baseline', 'pgstream', 'pgstream-2500', 'debezium-json', 'debezium-avro'],
      note: 'latency = Kafka LogAppendTime - source.ts_us (PostgreSQL commit time)',
    },
    {
      id: 'e',
      short: q ? 'snapshot of 300k rows' : 'snapshot of 5M rows',
      title: `initial snapshot of a ${q ? '300k' : '5M'}-row table`,
      mode: 'snapshot',
      table: 'snapshot_e',
      rows: q ? 300_000 : 5_000_000,
      txnRows: 0,
      systems: SNAPSHOT_SYSTEMS,
      note: 'rows/s = rows / (the system reports its snapshot starts -> last event visible to a read_committed consumer); COPY: psql run time',
    },
    {
      id: 's',
      short: q ? 'sink: 100k changes' : 'sink: 1M changes',
      title: `sink: ${q ? '100k' : '1M'} changes (7 inserts, 2 updates, 1 delete per 10-row source transaction) applied from one topic`,
      mode: 'sink',
      table: 'accounts_s',
      rows: q ? 100_000 : 1_000_000,
      txnRows: 10,
      systems: SINK_SYSTEMS,
      note: 'changes/s = changes / (first row visible in the target -> last change visible); COPY: the final rows into an empty table',
    },
  ];
}

const ORDERS_DDL = (t: string, key = true): string =>
  `create table ${t} (id bigint${key ? ' primary key' : ''}, account int not null, amount numeric(12,2) not null, note text not null,
     created timestamptz not null default now(), flag boolean not null)`;
const ORDERS_ROWS = (from: string, to: string): string =>
  `select g, g % 10000, (g % 100000) / 100.0, 'order ' || g, g % 2 = 0 from generate_series(${from}, ${to}) g`;

/** Creates the workload's table (and, for (c), the rows it later updates: before any slot exists). */
export async function createTable(db: Db, schema: string, w: WorkloadSpec): Promise<void> {
  const t = `${ident(schema)}.${ident(w.table)}`;
  if (w.id === 'c') {
    await db.query(`create table ${t} (
      id bigint primary key, counter int not null default 0,
      i1 int, i2 int, i3 int, i4 int, b1 bigint, b2 bigint,
      t1 text, t2 text, t3 text, t4 text, t5 varchar(64), t6 varchar(64),
      n1 numeric(14,4), n2 numeric(14,4), n3 numeric(20,2),
      ts1 timestamptz, ts2 timestamptz, d1 date, f1 boolean, f2 boolean, u1 uuid, j1 jsonb,
      doc text)`);
    // out of line and uncompressed: every row's doc is TOASTed (2,112 bytes > the ~2 KB threshold)
    await db.query(`alter table ${t} alter column doc set storage external`);
    await db.query('set synchronous_commit = off');
    await db.query(`insert into ${t}
      select g, 0, g, g * 2, g % 7, g % 100, g * 1000, g * 10000,
             'alpha ' || g, 'beta ' || g, md5(g::text), 'delta', 'v' || g, 'w' || g,
             g / 3.0, g / 7.0, g * 1.5, now(), now() - interval '1 day', current_date, true, false,
             md5(g::text)::uuid, jsonb_build_object('k', g, 'tag', 'x'), repeat(md5(g::text), 66)
        from generate_series(1, ${w.rows}) g`);
    await db.query('reset synchronous_commit');
    await db.query(`vacuum analyze ${t}`);
    return;
  }
  await db.query(ORDERS_DDL(t, w.mode !== 'snapshot'));
}

export interface SnapshotTable {
  rows: number;
  /** Heap size: what a snapshot reads. */
  heapMb: number;
  seconds: number;
}

/**
 * Fills the snapshot workload's table (e) before any system runs: (a)'s rows, the key added after
 * the load (an index built once instead of 5M inserts into it), then VACUUM (FREEZE, ANALYZE), so
 * no reader pays for setting hint bits and the heap is in the page cache for every system alike.
 */
export async function fillSnapshotTable(db: Db, schema: string, w: WorkloadSpec): Promise<SnapshotTable> {
  const t = `${ident(schema)}.${ident(w.table)}`;
  const t0 = performance.now();
  await db.query('set synchronous_commit = off');
  await db.query(`insert into ${t} (id, account, amount, note, flag) ${ORDERS_ROWS('1', String(w.rows))}`);
  await db.query('reset synchronous_commit');
  await db.query(`alter table ${t} add primary key (id)`);
  await db.query(`vacuum (freeze, analyze) ${t}`);
  const size = await db.query<{ bytes: string }>('select pg_relation_size($1::regclass)::text as bytes', [`${ident(schema)}.${ident(w.table)}`]);
  return { rows: w.rows, heapMb: Math.round(Number(size[0]!.bytes) / 2 ** 20), seconds: (performance.now() - t0) / 1000 };
}

export interface Written {
  events: number;
  /**
   * WAL insert position taken inside the last transaction, after its last change: the last
   * commit ends above it, so a slot confirmed past it has received everything.
   */
  lastLsn: bigint;
  seconds: number;
}

/** Writes a catch-up workload (no CDC system is running; every slot holds the WAL). */
export async function writeWorkload(db: Db, schema: string, w: WorkloadSpec): Promise<Written> {
  const t = `${ident(schema)}.${ident(w.table)}`;
  const t0 = performance.now();
  // Same WAL either way; only the generator's own commit waits are skipped.
  await db.query('set synchronous_commit = off');
  let lastLsn: bigint;
  if (w.txnRows >= w.rows) {
    await db.query('begin');
    await db.query(`insert into ${t} (id, account, amount, note, flag) ${ORDERS_ROWS('1', String(w.rows))}`);
    lastLsn = parseLsn((await db.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
    await db.query('commit');
  } else {
    const proc = `${ident(schema)}.${ident(`fill_${w.table}`)}`;
    const body =
      w.id === 'c'
        ? `update ${t} set counter = counter + 1, ts2 = now() where id between i + 1 and least(i + per, n);`
        : `insert into ${t} (id, account, amount, note, flag) ${ORDERS_ROWS('i + 1', 'least(i + per, n)')};`;
    await db.query(`create procedure ${proc}(n bigint, per bigint, inout last_lsn pg_lsn default null) language plpgsql as $$
      declare i bigint := 0;
      begin
        while i < n loop
          ${body}
          i := i + per;
          if i >= n then last_lsn := pg_current_wal_insert_lsn(); end if;
          commit;
        end loop;
      end $$`);
    const rows = await db.query<{ last_lsn: string }>(`call ${proc}($1, $2)`, [w.rows, w.txnRows]);
    lastLsn = parseLsn(rows[0]!.last_lsn);
  }
  await db.query('reset synchronous_commit');
  return { events: w.rows, lastLsn, seconds: (performance.now() - t0) / 1000 };
}

/** (s): the source table whose changes walcast publishes once for both sinks; the targets are made `like` it. */
export async function createSinkSource(db: Db, schema: string, w: WorkloadSpec): Promise<void> {
  await db.query(`create table ${ident(schema)}.${ident(w.table)} (id bigint primary key, version int not null, balance numeric(14,2) not null,
    owner text not null, opened timestamptz not null, note text)`);
}

export interface SinkWritten extends Written {
  /** The last row inserted and the last one deleted: both as in the source once a sink applied everything. */
  lastInsertedId: number;
  lastDeletedId: number;
}

/**
 * (s): `w.rows` changes in 10-row transactions, 7 inserts, 2 updates (one of a row a few changes
 * old, one ~500 rows back) and 1 delete each, as bench/tools/sink-throughput.ts writes them.
 */
export async function writeSinkWorkload(db: Db, schema: string, w: WorkloadSpec): Promise<SinkWritten> {
  const t = `${ident(schema)}.${ident(w.table)}`;
  const proc = `${ident(schema)}.${ident(`fill_${w.table}`)}`;
  const transactions = Math.ceil(w.rows / 10);
  const t0 = performance.now();
  await db.query('set synchronous_commit = off');
  await db.query(`create procedure ${proc}(txns bigint, inout last_lsn pg_lsn default null) language plpgsql as $$
    declare n bigint := 0;
    begin
      for t in 1..txns loop
        for i in 1..7 loop
          n := n + 1;
          insert into ${t} values (n, 1, n * 1.25, 'owner ' || n, timestamptz '2026-01-01 00:00:00+00' + n * interval '1 second', null);
        end loop;
        update ${t} set version = version + 1, balance = balance + 1, note = 'u' where id in (n - 3, greatest(n - 500, 1));
        delete from ${t} where id = n - 6;
        if t = txns then last_lsn := pg_current_wal_insert_lsn(); end if;
        commit;
      end loop;
    end $$`);
  const rows = await db.query<{ last_lsn: string }>(`call ${proc}($1)`, [transactions]);
  await db.query('reset synchronous_commit');
  const last = transactions * 7;
  return { events: transactions * 10, lastLsn: parseLsn(rows[0]!.last_lsn), seconds: (performance.now() - t0) / 1000, lastInsertedId: last, lastDeletedId: last - 6 };
}
