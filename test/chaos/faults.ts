// The fault run (issue 6): steady mixed writes while faults are injected in turn, each followed by
// the consistency checker. Used by `npm run chaos` (50+ faults) and, shorter, by the test suite.
// It is a round trip (issue 15): `walcast sink` applies the change topics to a copy of the tables
// in a target schema throughout, faults included (walcast-kill and registry-outage kill -9 both
// processes; the broker and PostgreSQL restarts hit both), and every check also compares the
// target with the source row by row and counts row versions the sink wrote twice.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { checkConsistency, compareTables, type CheckReport } from '../helpers/consistency-checker.ts';
import { describeOffsets } from '../helpers/kafka-log-dump.ts';
import { ownerScript, startService, stopService } from '../helpers/service-control.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { auditVersions, sinkTarget } from '../helpers/sink.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';
import { Workload } from './workload.ts';

const run = promisify(execFile);

export const FAULT_KINDS = ['walcast-kill', 'kafka-kill', 'postgres-restart', 'registry-outage', 'walcast-freeze', 'standby-kill', 'standby-freeze', 'poison-row', 'snapshot-kill'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultResult {
  fault: FaultKind;
  seconds: number;
  report: CheckReport;
  /** standby-*: from the fault to the standby's "streaming" line. */
  takeoverMs?: number;
  /** From the source's catch-up (slot confirmed) to the sink's target equal to the source. */
  sinkCatchUpMs: number;
}

async function portOwner(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-ltnpH', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(stdout)?.[1];
  if (!pid) throw new Error(`nothing listens on port ${port}`);
  return Number(pid);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface FaultRunOptions {
  faults: number;
  log: (line: string) => void;
  registryOutageMs?: number;
  /** The kinds to cycle through (default: all). */
  kinds?: readonly FaultKind[];
  /** Where to write the output of every walcast process of the run, for diagnosis. */
  walcastLogPath?: string;
}

export async function runFaults(options: FaultRunOptions): Promise<FaultResult[]> {
  const kinds = options.kinds ?? FAULT_KINDS;
  const services = loadServices();
  const id = uniqueSuffix();
  const schema = `chaos_${id}`;
  const slot = `chaos_${id}`;
  const prefix = `chaos${id.replace(/_/g, '')}`;
  const kafkaPort = Number(services.kafkaBrokers[0]!.split(':')[1]);
  const registryPort = Number(new URL(services.schemaRegistryUrl).port);
  const env = {
    WALCAST_PG_URL: services.pgUrl,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: `${schema}.accounts,${schema}.transfers`,
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_SNAPSHOT_MODE: 'no_data',
    WALCAST_HTTP_PORT: '0',
    WALCAST_BATCH_MAX_EVENTS: '200',
    WALCAST_STARTUP_TIMEOUT_MS: '600000',
    // Poison rows (a change event over the topic's max.message.bytes) go to the dead-letter topic.
    WALCAST_ERRORS_TOLERANCE: 'all',
    // snapshot-kill asks for an incremental snapshot as Debezium's users do: a Kafka signal.
    WALCAST_SIGNAL_KAFKA_TOPIC: `${prefix}-signals`,
  };
  const deadLetterTopic = `${prefix}-dlq`;
  const tables = ['accounts', 'transfers'];
  const topics = tables.map((t) => `${prefix}.${schema}.${t}`);
  const target = sinkTarget({ schema, prefix });
  const sinkEnv = target.env({ WALCAST_SINK_TOPICS_REGEX: '', WALCAST_SINK_TOPICS: topics.join(','), WALCAST_STARTUP_TIMEOUT_MS: '600000' });
  const admin = async <T>(fn: (db: pg.Client) => Promise<T>): Promise<T> => {
    const db = new pg.Client({ connectionString: services.pgUrl });
    await db.connect();
    try {
      return await fn(db);
    } finally {
      await db.end();
    }
  };

  // Learn who owns each service while all are up: a killed one must come back from the same place.
  for (const name of ['postgres', 'kafka', 'registry'] as const) await ownerScript(name);
  const workload = new Workload({ pgUrl: services.pgUrl, schema });
  await workload.setup();
  // The sink's copy, created beforehand so that every row version it writes is audited (the
  // column the schema change adds, the sink adds itself).
  await admin(async (db) => {
    await db.query(`create schema "${target.schema}"`);
    for (const table of tables) {
      await db.query(`create table "${target.schema}".${table} (like "${schema}".${table} including all)`);
      await auditVersions(db, `"${target.schema}".${table}`);
    }
  });
  // A short wal_sender_timeout makes a frozen walcast lose its connection within the fault.
  await admin(async (db) => {
    await db.query(`alter system set wal_sender_timeout = '5s'`);
    await db.query('select pg_reload_conf()');
  });
  let walcast = new WalcastProcess(env);
  let sink: WalcastProcess | null = null;
  const processes = [walcast];
  const sinks = new Set<WalcastProcess>();
  const startSink = (): WalcastProcess => {
    sink = new WalcastProcess(sinkEnv, ['sink']);
    processes.push(sink);
    sinks.add(sink);
    return sink;
  };
  const results: FaultResult[] = [];
  const explained = new Set<string>();
  try {
    await walcast.waitForStreaming(120_000);
    workload.start();
    // The sink subscribes to a list of topics: walcast creates them with the first changes.
    await waitFor('the change topics', () => topicsExist(services.kafkaBrokers, topics), 60_000, 250);
    await startSink().waitForLog((l) => l.msg === 'sink running', 120_000, '"sink running"');
    for (let i = 0; i < options.faults; i++) {
      const fault = kinds[i % kinds.length]!;
      const t0 = Date.now();
      let takeoverMs: number | undefined;
      await sleep(500 + Math.random() * 1500);
      if (i === Math.floor(options.faults / 2)) await workload.schemaChange();
      switch (fault) {
        case 'walcast-kill':
          // Both processes at once: the source mid-transaction, the sink mid-apply.
          await Promise.all([walcast.stop('SIGKILL'), sink!.stop('SIGKILL')]);
          walcast = new WalcastProcess(env);
          processes.push(walcast);
          startSink();
          break;
        case 'kafka-kill':
          process.kill(await portOwner(kafkaPort), 'SIGKILL');
          await sleep(500);
          await startService('kafka');
          break;
        case 'postgres-restart':
          await stopService('postgres');
          await startService('postgres');
          break;
        case 'registry-outage': {
          // Frozen rather than stopped: the local registry keeps schemas in memory only.
          const pid = await portOwner(registryPort);
          process.kill(pid, 'SIGSTOP');
          try {
            // A fresh walcast must register its schemas, and a fresh sink look them up, so both
            // wait for the registry.
            await Promise.all([walcast.stop('SIGKILL'), sink!.stop('SIGKILL')]);
            walcast = new WalcastProcess(env);
            processes.push(walcast);
            startSink();
            await sleep(options.registryOutageMs ?? 30_000);
          } finally {
            process.kill(pid, 'SIGCONT');
          }
          break;
        }
        case 'walcast-freeze':
          walcast.child.kill('SIGSTOP');
          await sleep(7_000);
          walcast.child.kill('SIGCONT');
          break;
        case 'standby-kill':
        case 'standby-freeze': {
          // A second instance with the same configuration waits for the slot; the active one dies
          // (kill -9) or its host is lost (frozen past wal_sender_timeout); the standby takes over.
          const standby = new WalcastProcess(env);
          processes.push(standby);
          await standby.waitForLog((l) => l.msg.startsWith('standing by: '), 120_000, 'the standby to wait for the slot');
          const active = walcast;
          const failedAt = Date.now();
          if (fault === 'standby-kill') await active.stop('SIGKILL');
          else active.child.kill('SIGSTOP');
          try {
            const streaming = await standby.waitForStreaming(120_000);
            takeoverMs = Date.parse(String(streaming.time)) - failedAt;
          } finally {
            if (fault === 'standby-freeze') active.child.kill('SIGCONT');
          }
          // The thawed instance is fenced (exit 6) or stands by again; either way it leaves.
          await active.stop('SIGTERM');
          walcast = standby;
          break;
        }
        case 'poison-row':
          // Beside the steady writes; the check below wants it dead-lettered exactly once.
          await workload.poisonRow();
          break;
        case 'snapshot-kill': {
          // An incremental snapshot of both tables under the writes, walcast killed (-9) as it
          // starts: the next process resumes it from its committed progress. The check below
          // replays its op r rows too: a stale snapshot copy would show as a row mismatch.
          const active = walcast;
          await requestSnapshot(services.kafkaBrokers, env.WALCAST_SIGNAL_KAFKA_TOPIC, prefix, [`${schema}.accounts`, `${schema}.transfers`], active);
          await active.stop('SIGKILL');
          walcast = new WalcastProcess(env);
          processes.push(walcast);
          const completedBefore = active.lines.some((l) => l.msg === 'snapshot complete');
          if (!completedBefore) await walcast.waitForLog((l) => l.msg === 'snapshot complete', 240_000, 'the resumed snapshot to complete');
          break;
        }
      }
      // Quiesce, let walcast catch up, then check everything written so far.
      await workload.pause();
      const endLsn = await admin(async (db) => (await db.query('select pg_current_wal_lsn()::text as l')).rows[0].l as string);
      await waitFor(`walcast to recover from ${fault}`, () =>
        admin(async (db) => {
          const r = await db.query('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [endLsn, slot]);
          return r.rows[0]?.ok ? true : undefined;
        }).catch(() => undefined), 240_000, 250);
      // The sink catches up (or the check below reports what it lacks).
      const sinkWait = Date.now();
      await waitFor(`the sink to apply everything after ${fault}`, () =>
        admin(async (db) => {
          for (const table of tables) {
            if ((await compareTables(db, `"${schema}".${table}`, `"${target.schema}".${table}`)).mismatches.length > 0) return undefined;
          }
          return true;
        }).catch(() => undefined), 240_000, 250).catch(() => undefined);
      const sinkCatchUpMs = Date.now() - sinkWait;
      const report = await checkConsistency({
        pgUrl: services.pgUrl,
        brokers: services.kafkaBrokers,
        registryUrl: services.schemaRegistryUrl,
        topicPrefix: prefix,
        schema,
        tables,
        ledger: workload.ledger,
        deadLetterTopic,
        targetSchema: target.schema,
      });
      const explanation = await explainDuplicates(report, explained);
      workload.resume();
      const seconds = (Date.now() - t0) / 1000;
      results.push({ fault, seconds, report, sinkCatchUpMs, ...(takeoverMs !== undefined ? { takeoverMs } : {}) });
      options.log(
        `fault ${i + 1}/${options.faults} ${fault.padEnd(16)} ${seconds.toFixed(1).padStart(5)} s  events ${report.eventsChecked} (snapshot reads ${report.snapshotReads})  dead-lettered ${report.deadLettered}  ` +
          (takeoverMs !== undefined ? `takeover ${(takeoverMs / 1000).toFixed(1)} s  ` : '') +
          `missing ${report.missing}  duplicated ${report.duplicated}  out-of-order ${report.outOfOrder}  row mismatches ${report.rowMismatches}  ` +
          `target rows ${report.targetRows} (sink caught up in ${(sinkCatchUpMs / 1000).toFixed(1)} s) mismatches ${report.targetMismatches} reapplied ${report.reapplied}` +
          (report.problems.length ? `\n  ${report.problems.join('\n  ')}` : '') +
          (explanation ? `\n  broker log around the duplicates:\n    ${explanation.replace(/\n/g, '\n    ')}` : ''),
      );
    }
  } finally {
    await workload.stop();
    await walcast.stop('SIGTERM').catch(() => undefined);
    await (sink as WalcastProcess | null)?.stop('SIGTERM').catch(() => undefined);
    if (options.walcastLogPath) writeFileSync(options.walcastLogPath, processes.map((p) => `--- walcast ${sinks.has(p) ? 'sink' : 'run'} ---\n${p.output}`).join('\n'));
    await admin(async (db) => {
      await db.query('alter system reset wal_sender_timeout');
      await db.query('select pg_reload_conf()');
      await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [slot]);
      await db.query(`drop publication if exists "${slot}"`);
    }).catch(() => undefined);
    await workload.teardown().catch(() => undefined);
    await admin((db) => target.cleanup(db)).catch(() => undefined);
  }
  return results;
}

async function topicsExist(brokers: string[], topics: string[]): Promise<true | undefined> {
  const admin = new Kafka({ brokers, clientId: 'chaos-topics', logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    return topics.every((t) => existing.has(t)) ? true : undefined;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Debezium's execute-snapshot signal, sent until the walcast process logs it started (and recorded) the snapshot. */
async function requestSnapshot(brokers: string[], topic: string, connector: string, tables: string[], walcast: WalcastProcess): Promise<void> {
  const producer = new Kafka({ brokers, clientId: 'chaos-signal', logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    const value = JSON.stringify({ type: 'execute-snapshot', data: { 'data-collections': tables, type: 'INCREMENTAL' } });
    // The signal consumer joins its group after "streaming": resend until the snapshot starts.
    for (let attempt = 0; attempt < 120; attempt++) {
      await producer.send({ topic, messages: [{ key: connector, value }] });
      const started = await walcast
        .waitForLog((l) => l.msg === 'Kafka signal' && /^snapshot \S+ started/.test(String(l.outcome)), 1000, 'the signal handled')
        .then(() => true, () => false);
      if (started) return;
    }
    throw new Error(`no snapshot started after 120 execute-snapshot signals on ${topic}`);
  } finally {
    await producer.disconnect();
  }
}

export function summaryTable(results: FaultResult[]): string {
  const rows = FAULT_KINDS.map((kind) => {
    const of = results.filter((r) => r.fault === kind);
    const sum = (f: (r: CheckReport) => number): number => of.reduce((n, r) => n + f(r.report), 0);
    const takeovers = of.flatMap((r) => (r.takeoverMs === undefined ? [] : [r.takeoverMs / 1000]));
    const takeover = takeovers.length > 0 ? `${Math.min(...takeovers).toFixed(1)}-${Math.max(...takeovers).toFixed(1)} s` : '';
    return `| ${kind} | ${of.length} | ${sum((r) => r.missing)} | ${sum((r) => r.duplicated)} | ${sum((r) => r.outOfOrder)} | ${sum((r) => r.rowMismatches)} | ${sum((r) => r.targetMismatches)} | ${sum((r) => r.reapplied)} | ${takeover} |`;
  });
  const last = results.at(-1)?.report;
  return [
    '| fault | injected | missing | duplicated | out of order | row mismatches | target mismatches | reapplied | takeover |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    `| **total** | ${results.length} | ${results.reduce((n, r) => n + r.report.missing, 0)} | ${results.reduce((n, r) => n + r.report.duplicated, 0)} | ${results.reduce((n, r) => n + r.report.outOfOrder, 0)} | ${results.reduce((n, r) => n + r.report.rowMismatches, 0)} | ${results.reduce((n, r) => n + r.report.targetMismatches, 0)} | ${results.reduce((n, r) => n + r.report.reapplied, 0)} | |`,
    '',
    `Final check: ${last?.eventsChecked ?? 0} events and ${last?.deadLettered ?? 0} dead-lettered rows of ${last?.transactionsChecked ?? 0} committed transactions; ${last?.targetRows ?? 0} rows compared with the sink's target.`,
  ].join('\n');
}

/** The broker's view of new duplicates (producer, epoch, sequence, markers), once per duplicate. */
async function explainDuplicates(report: CheckReport, explained: Set<string>): Promise<string> {
  const fresh = report.duplicates.filter((d) => !explained.has(d.identity)).slice(0, 4);
  for (const d of report.duplicates) explained.add(d.identity);
  const parts: string[] = [];
  for (const d of fresh) {
    const sameLog = d.first.topic === d.again.topic && d.first.partition === d.again.partition;
    const offsets = sameLog ? [d.first.offset, d.again.offset] : [d.again.offset];
    parts.push(`${d.identity}: first ${d.first.topic}-${d.first.partition}@${d.first.offset}, again @${d.again.offset}`);
    parts.push(await describeOffsets(d.again.topic, d.again.partition, offsets).catch((error: unknown) => `(log dump failed: ${(error as Error).message})`));
  }
  return parts.join('\n');
}
