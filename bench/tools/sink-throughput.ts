// The sink's catch-up rate, first figures before a full bench workload: N changes (inserts,
// updates, deletes in 10-row source transactions) are written and published by `walcast run`
// while no sink runs; then `walcast sink` starts and is timed from its first applied batch until
// its offsets reach the topic's end. The ceiling beside it: COPY of the final rows into an empty
// table of the same shape (one backend, no keys to look up).
//
//   node bench/tools/sink-throughput.ts [changes=300000] [partitions=1]
//   SINK_CPU_PROF=<dir>: the sink runs under node --cpu-prof, its profile written to <dir>
//   SINK_NODE_FLAGS="--max-semi-space-size=32": extra node flags for the sink (after walcast's launcher flags)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { benchKafka } from '../lib/kafka.ts';
import { sampleProc } from '../lib/proc.ts';
import { ROOT, log, readServicesEnv, sleep, waitFor } from '../lib/util.ts';

const changes = Number(process.argv[2] ?? 300_000);
const partitions = Number(process.argv[3] ?? 1);
const services = readServicesEnv();
const id = Date.now().toString(36);
const schema = `sinkbench_${id}`;
const target = `${schema}_target`;
const prefix = `sinkbench${id}`;
const topic = `${prefix}.${schema}.accounts`;
const cli = join(ROOT, 'src', 'cli.ts');

function start(args: string[], env: Record<string, string>, nodeArgs: string[] = []): { pid: number; exited: Promise<number | null>; kill: (signal?: NodeJS.Signals) => void; output: () => string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WALCAST_'))) as Record<string, string>;
  const child = spawn(process.execPath, ['--max-semi-space-size=8', '--max-old-space-size=1024', ...nodeArgs, cli, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { pid: child.pid!, exited: new Promise((resolve) => child.once('exit', resolve)), kill: (signal = 'SIGTERM') => child.kill(signal), output: () => output };
}

const db = new pg.Client({ connectionString: services.pgUrl });
await db.connect();
const common = { WALCAST_KAFKA_BROKERS: services.brokers.join(','), WALCAST_SCHEMA_REGISTRY_URL: services.registryUrl, WALCAST_HTTP_PORT: '0' };
try {
  await db.query(`create schema ${schema}`);
  await db.query(`create schema ${target}`);
  await db.query(`create table ${schema}.accounts (id bigint primary key, version int not null, balance bigint not null, owner text not null, opened timestamptz not null, note text)`);
  const walcast = start(['run'], {
    ...common, WALCAST_PG_URL: services.pgUrl, WALCAST_SLOT: schema, WALCAST_PUBLICATION: schema, WALCAST_TABLES: `${schema}.*`,
    WALCAST_TOPIC_PREFIX: prefix, WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`, WALCAST_SNAPSHOT_MODE: 'no_data', WALCAST_TOPIC_PARTITIONS: String(partitions),
  });
  await waitFor('the slot', async () => ((await db.query(`select 1 from pg_replication_slots where slot_name = $1 and active`, [schema])).rowCount ? true : undefined), 120_000, 200);
  // 10-row transactions: 7 inserts, 2 updates of earlier rows, 1 delete.
  log(`writing ${changes} changes`);
  await db.query(`do $$ declare n bigint := 0; begin
    for t in 1..${Math.ceil(changes / 10)} loop
      for i in 1..7 loop n := n + 1; insert into ${schema}.accounts values (n, 1, n * 100, 'owner ' || n, now(), null); end loop;
      update ${schema}.accounts set version = version + 1, balance = balance + 1, note = 'u' where id in (n - 3, greatest(n - 500, 1));
      delete from ${schema}.accounts where id = n - 6;
      commit;
    end loop; end $$`);
  const lsn = (await db.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l;
  await waitFor('walcast to publish everything', async () => ((await db.query(`select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2`, [lsn, schema])).rows[0]?.ok ? true : undefined), 600_000, 500);
  walcast.kill();
  await walcast.exited;
  const kafka = benchKafka(services.brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const records = ends.reduce((sum, p) => sum + Number(p.high), 0);
  log(`${records} Kafka records (changes, tombstones and commit markers) on ${topic}`);

  const offsetsTable = `${target}.walcast_sink_offsets`;
  const sinkNodeArgs = (process.env.SINK_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const sink = start(['sink'], { ...common, WALCAST_SINK_PG_URL: services.pgUrl, WALCAST_SINK_TOPICS: topic, WALCAST_SINK_GROUP_ID: `${prefix}-sink`, WALCAST_SINK_TABLE_NAME_FORMAT: `${target}.\${source.table}`, WALCAST_SINK_OFFSETS_TABLE: offsetsTable, WALCAST_LOG_LEVEL: process.env.SINK_LOG ?? 'info' }, [...sinkNodeArgs, ...(process.env.SINK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SINK_CPU_PROF}`] : [])]);
  const t0 = Date.now();
  let firstBatchAt = 0;
  let cpu0 = 0;
  await waitFor('the first batch', async () => {
    const r = await db.query(`select 1 from ${offsetsTable} where next_offset is not null`).catch(() => ({ rowCount: 0 }));
    if (r.rowCount) {
      firstBatchAt = Date.now();
      cpu0 = sampleProc(sink.pid)?.cpuSeconds ?? 0;
    }
    return r.rowCount ? true : undefined;
  }, 120_000, 20);
  await waitFor('the sink to reach the end', async () => {
    const { rows } = await db.query<{ partition: number; next: string | null }>(`select partition, next_offset::text as next from ${offsetsTable}`);
    const done = ends.every((e) => { const row = rows.find((r) => r.partition === e.partition); return row !== undefined && row.next !== null && BigInt(row.next) >= BigInt(e.high) - 1n; });
    return done ? true : undefined;
  }, 1_800_000, 20);
  const seconds = (Date.now() - firstBatchAt) / 1000;
  const cpuSeconds = (sampleProc(sink.pid)?.cpuSeconds ?? 0) - cpu0;
  sink.kill();
  await sink.exited;
  if (process.env.SINK_LOG) process.stdout.write(sink.output().split('\n').filter((l) => l.includes('batch applied')).join('\n') + '\n');
  const final = Number((await db.query<{ n: string }>(`select count(*) as n from ${schema}.accounts`)).rows[0]!.n);
  const same = (await db.query<{ d: string }>(`select count(*) as d from (select * from ${schema}.accounts except select * from ${target}.accounts) x`)).rows[0]!.d;
  if (Number(same) > 0) {
    // What differs: rows missing from the target, rows it should not have, rows with other values.
    const { rows: diff } = await db.query(`select coalesce(s.id, t.id) as id, s.version as source_version, t.version as target_version, s.note as source_note, t.note as target_note
      from ${schema}.accounts s full join ${target}.accounts t using (id) where s is distinct from t order by 1 limit 10`);
    const { rows: kinds } = await db.query(`select count(*) filter (where t.id is null) as missing, count(*) filter (where s.id is null) as extra, count(*) filter (where s.id is not null and t.id is not null) as changed,
      min(coalesce(s.id, t.id)) as min_id, max(coalesce(s.id, t.id)) as max_id from ${schema}.accounts s full join ${target}.accounts t using (id) where s is distinct from t`);
    log(`DIFFERENCES ${JSON.stringify(kinds[0])}: ${JSON.stringify(diff)}`);
    const { rows: offsets } = await db.query(`select * from ${offsetsTable}`);
    log(`offsets ${JSON.stringify(offsets)}; topic ends ${JSON.stringify(ends)}`);
    process.stdout.write(sink.output().split('\n').filter((l) => /warn|error|"level":(40|50)|session|claimed|seek|rebalance/i.test(l)).slice(-30).join('\n') + '\n');
  }
  log(`sink: ${changes} changes in ${seconds.toFixed(2)} s after the first batch (${((firstBatchAt - t0) / 1000).toFixed(1)} s to start) = ${Math.round(changes / seconds)} changes/s, ${((cpuSeconds / changes) * 1e6).toFixed(2)} CPU-s per M changes (the sink process); ${final} rows, ${same} differing`);

  // The ceiling: COPY of the final rows into an empty table of the same shape.
  await db.query(`create table ${target}.ceiling (like ${schema}.accounts including all)`);
  const out = new pg.Client({ connectionString: services.pgUrl });
  const into = new pg.Client({ connectionString: services.pgUrl });
  await out.connect();
  await into.connect();
  const c0 = Date.now();
  await pipeline(out.query(copyStreams.to(`copy ${schema}.accounts to stdout`)), into.query(copyStreams.from(`copy ${target}.ceiling from stdin`)));
  const copySeconds = (Date.now() - c0) / 1000;
  await out.end();
  await into.end();
  log(`COPY ceiling: ${final} rows in ${copySeconds.toFixed(2)} s = ${Math.round(final / copySeconds)} rows/s; sink / ceiling = ${(changes / seconds / (final / copySeconds)).toFixed(2)}`);
  await sleep(100);
} finally {
  await db.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active`, [schema]).catch(() => undefined);
  await db.query(`drop publication if exists ${schema}`).catch(() => undefined);
  await db.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
  await db.query(`drop schema if exists ${target} cascade`).catch(() => undefined);
  await db.end();
}
