// Issue 14, item 6: standby takeover. Two instances with the same configuration: the second waits
// for the slot (past the start deadline) and takes over when the first dies, by kill -9 or frozen
// past wal_sender_timeout (a lost host). Steady mixed writes run throughout; afterwards the
// independent reader (Python) sees every committed change exactly once (the consistency checker).
// A private PostgreSQL with wal_sender_timeout=2s, so the frozen case needs no change to the
// shared server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Workload } from '../chaos/workload.ts';
import { checkConsistency } from '../helpers/consistency-checker.ts';
import { startScratchPostgres, type ScratchPostgres } from '../helpers/scratch-postgres.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess, type LogLine } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const schema = `standby_${id}`;
const prefix = `standby${id.replace(/_/g, '')}`;
const WAL_SENDER_TIMEOUT_MS = 2000;
/** Short on purpose: a standby that gave up at the start deadline would be gone long before its turn. */
const STARTUP_TIMEOUT_MS = 2000;

let server: ScratchPostgres;
let workload: Workload;
const processes: WalcastProcess[] = [];

before(async () => {
  server = await startScratchPostgres({ wal_sender_timeout: `${WAL_SENDER_TIMEOUT_MS}ms` });
  workload = new Workload({ pgUrl: server.url, schema });
  await workload.setup();
});

after(async () => {
  await workload?.stop().catch(() => undefined);
  for (const p of processes) await p.stop('SIGKILL', 1000).catch(() => undefined);
  await server?.stop();
});

function start(): WalcastProcess {
  const p = new WalcastProcess({
    WALCAST_PG_URL: server.url,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: schema,
    WALCAST_PUBLICATION: schema,
    WALCAST_TABLES: `${schema}.accounts,${schema}.transfers`,
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_HTTP_PORT: '0',
    WALCAST_BATCH_MAX_EVENTS: '200',
    WALCAST_STARTUP_TIMEOUT_MS: String(STARTUP_TIMEOUT_MS),
    WALCAST_LOG_LEVEL: 'debug',
  });
  processes.push(p);
  return p;
}

const standingBy = (l: LogLine): boolean => l.msg.startsWith('standing by: replication slot');
const logTime = (l: LogLine): number => Date.parse(String(l.time));

/** Waits until `p` has stood by for longer than several start deadlines: it must not give up. */
async function assertStandsBy(p: WalcastProcess): Promise<void> {
  await p.waitForLog(standingBy, 60_000, 'the standby line');
  await p.waitForLog((l) => typeof l.waitingMs === 'number' && l.waitingMs > 3 * STARTUP_TIMEOUT_MS, 60_000, 'the standby still polling after three start deadlines');
  assert.equal(p.child.exitCode, null, 'the standby is still running');
  assert.ok(!p.lines.some((l) => l.msg === 'streaming'), 'the standby does not stream while the slot is held');
}

test('a standby takes over when the active instance is killed (kill -9) or frozen past wal_sender_timeout; every row arrives once', async (t) => {
  const first = start();
  await first.waitForStreaming();
  workload.start();
  await waitFor('some writes', () => (workload.committed > 20 ? true : undefined), 30_000);

  // 1. kill -9 of the active instance.
  const second = start();
  await assertStandsBy(second);
  const killedAt = Date.now();
  await first.stop('SIGKILL');
  const tookOver = await second.waitForStreaming(60_000);
  const killTakeoverMs = logTime(tookOver) - killedAt;
  t.diagnostic(`takeover after kill -9: ${killTakeoverMs} ms`);
  assert.ok(second.lines.some((l) => l.msg === 'the previous owner is gone: this instance took over'));
  await waitFor('writes after the takeover', () => (workload.committed > 60 ? true : undefined), 30_000);

  // 2. The active instance's host is lost: frozen (SIGSTOP) until its walsender times out.
  const third = start();
  await assertStandsBy(third);
  const frozenAt = Date.now();
  second.child.kill('SIGSTOP');
  let freezeTakeoverMs: number;
  try {
    const tookOver2 = await third.waitForStreaming(60_000);
    freezeTakeoverMs = logTime(tookOver2) - frozenAt;
  } finally {
    second.child.kill('SIGCONT');
  }
  t.diagnostic(`takeover after SIGSTOP (wal_sender_timeout ${WAL_SENDER_TIMEOUT_MS} ms): ${freezeTakeoverMs} ms`);
  assert.ok(freezeTakeoverMs >= WAL_SENDER_TIMEOUT_MS / 2, `the walsender released the slot only on its timeout (${freezeTakeoverMs} ms)`);

  // The thawed instance finds itself fenced (exit 6) or its slot taken (it stands by again).
  const resumedAt = second.lines.length;
  const outcome = await Promise.race([
    second.exited.then((e) => `exit ${e.code}`),
    second.waitForLog((l) => second.lines.indexOf(l) >= resumedAt && standingBy(l), 60_000, 'standing by again').then(() => 'standby'),
  ]);
  assert.ok(outcome === 'exit 6' || outcome === 'standby', `the thawed instance stepped down (${outcome}):\n${second.output.slice(-3000)}`);
  t.diagnostic(`the thawed instance: ${outcome}`);
  await waitFor('writes after the second takeover', () => (workload.committed > 100 ? true : undefined), 30_000);

  // Every committed change, exactly once, in order, and the topics' model equals the tables.
  await workload.stop();
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  const endLsn = (await db.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l;
  await waitFor('the new active instance to acknowledge every write', async () => {
    const r = await db.query<{ ok: boolean }>('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [endLsn, schema]);
    return r.rows[0]?.ok ? true : undefined;
  }, 120_000, 200);
  await db.end();
  const report = await checkConsistency({
    pgUrl: server.url,
    brokers: services.kafkaBrokers,
    registryUrl: services.schemaRegistryUrl,
    topicPrefix: prefix,
    schema,
    tables: ['accounts', 'transfers'],
    ledger: workload.ledger,
  });
  t.diagnostic(`${report.eventsChecked} events of ${report.transactionsChecked} transactions checked`);
  assert.ok(report.transactionsChecked > 100 && report.eventsChecked > 100, `the workload wrote through both takeovers (${report.transactionsChecked} transactions)`);
  assert.deepEqual(
    { missing: report.missing, duplicated: report.duplicated, outOfOrder: report.outOfOrder, rowMismatches: report.rowMismatches },
    { missing: 0, duplicated: 0, outOfOrder: 0, rowMismatches: 0 },
    report.problems.join('\n'),
  );
  const stopped = await third.stop('SIGTERM');
  assert.equal(stopped.code, 0, third.output.slice(-3000));
});
