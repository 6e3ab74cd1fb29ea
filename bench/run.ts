/**
 * `npm run bench`: walcast side by side with its ceilings and with Debezium, in one run (issue 5).
 * See bench/README.md for the method, options and outputs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { countPgstreamTopic, countSnapshotTopic, KafkaAdmin, measureLatency, scanTopic, type SnapshotCount } from './lib/kafka.ts';
import { BackendCpu, Db, formatLsn, ident } from './lib/pg.ts';
import { machineBusySeconds, portOwner, processIdentity, sampleProc, type ProcSample, type Watched } from './lib/proc.ts';
import { prepareBaseline, type Baseline } from './lib/baseline.ts';
import { fetchJars, NO_JARS } from './lib/jars.ts';
import { baselineLine, computeBaselineComparison, computeRatios, computeSinkRatios, computeSnapshotRatios, markdown, sinkLine, snapshotLine, summarize, svg, type BenchResults, type Measurement, type SinkRatios } from './lib/report.ts';
import { BENCH, log, pollEvery, readServicesEnv, ROOT, round, sleep, waitFor, type ServicesEnv } from './lib/util.ts';
import { runCopy, runKafkajsAlone, runProducerPerf, runRecvlogical, startDebezium, startDebeziumJdbcSink, startPgstream, startWalcast, startWalcastSink, walcastLauncherFlags, walcastRevision, type CdcJob, type CdcProcess, type SinkJob, type Tooling } from './systems.ts';
import { createSinkSource, createTable, fillSnapshotTable, isPgstream, isWalcast, SNAPSHOT_RUNNERS, SYSTEM_LABELS, workloadSpecs, writeSinkWorkload, writeWorkload, type SinkWritten, type SystemId, type WorkloadId, type WorkloadSpec, type Written } from './workloads.ts';
import { summarizeProfile } from './tools/cpuprofile-summary.ts';

// ------------------------------------------------------------------ options
const USAGE = `usage: npm run bench -- [options]
  --quick                 small sizes (100k rows instead of 1M, a 300k-row snapshot instead of 5M, 10 s live load) for development
  --workloads a,b,...     only these workloads (a, b, b2, c, d, e, s)
  --only walcast,...      only these systems: walcast, walcast-baseline (with --baseline), walsender, kafka (= kafkajs + kafka-perf),
                          kafkajs, kafka-perf, pgstream (= pgstream + pgstream-2500), pgstream-2500,
                          debezium (= debezium-json + debezium-avro + debezium-jdbc), debezium-json, debezium-avro, debezium-jdbc, copy;
                          in (e) walcast = walcast-snapshot-t1,-t2,-t4 and debezium-json/-avro include their -t2 rows;
                          in (s) walcast = walcast-sink, debezium = debezium-jdbc, copy = copy-in (COPY into a table)
  --repeat N              run each system N times per workload (separate slots on the same WAL); medians are reported
  --baseline REF          also measure walcast as of git commit REF (system walcast-baseline: built clean in
                          .local/bench-baseline/<commit>, same node_modules, so REF's packages must be installed here),
                          alternating with walcast back to back in each repeat; reports walcast / baseline per workload
  --live-seconds S        duration of the live load (d) (default 30, quick 10)
  --live-txn-rows N       rows per transaction of the live load (default 10)
  --cpu-prof              run walcast under node --cpu-prof and print its hot spots
  --walcast-node-flags F  extra node flags for walcast, space-separated (experiments, e.g. "--max-old-space-size=128")
  --walcast-env K=V,...   extra WALCAST_* settings for walcast (experiments, e.g. WALCAST_MAX_BUFFERED_MESSAGES=2000)
  --no-services           do not run scripts/services.sh up (services already up)
  --publish               write bench/results/<date>.json, latest.md and latest.svg even for a partial run
Full, unfiltered runs write bench/results/<date>.json, latest.md, latest.svg; others bench/results/partial/.`;

interface Args {
  quick: boolean;
  workloads: WorkloadId[] | null;
  only: SystemId[] | null;
  repeat: number;
  liveSeconds: number | null;
  liveTxnRows: number;
  cpuProf: boolean;
  walcastNodeFlags: string[];
  walcastEnv: Record<string, string>;
  services: boolean;
  publish: boolean;
  /** --baseline: the git ref measured as walcast-baseline. */
  baseline: string | null;
}

const WALCAST_SNAPSHOTS: SystemId[] = ['walcast-snapshot-t1', 'walcast-snapshot-t2', 'walcast-snapshot-t4'];
const SYSTEM_ALIASES: Record<string, SystemId[]> = {
  // a workload runs only the systems it lists: (e) lists walcast's snapshot rows, the others plain walcast
  walcast: ['walcast', ...WALCAST_SNAPSHOTS, 'walcast-sink'],
  'walcast-sink': ['walcast-sink'],
  sink: ['walcast-sink'],
  'debezium-jdbc': ['debezium-jdbc'],
  'copy-in': ['copy-in'],
  'walcast-snapshot': WALCAST_SNAPSHOTS,
  'walcast-snapshot-t1': ['walcast-snapshot-t1'],
  'walcast-snapshot-t2': ['walcast-snapshot-t2'],
  'walcast-snapshot-t4': ['walcast-snapshot-t4'],
  'walcast-baseline': ['walcast-baseline'],
  baseline: ['walcast-baseline'],
  walsender: ['walsender'],
  pg_recvlogical: ['walsender'],
  recvlogical: ['walsender'],
  kafka: ['kafkajs', 'kafka-perf'],
  kafkajs: ['kafkajs'],
  'kafka-perf': ['kafka-perf'],
  debezium: ['debezium-json', 'debezium-avro', 'debezium-json-t2', 'debezium-avro-t2', 'debezium-jdbc'],
  'debezium-json': ['debezium-json', 'debezium-json-t2'],
  'debezium-avro': ['debezium-avro', 'debezium-avro-t2'],
  'debezium-json-t2': ['debezium-json-t2'],
  'debezium-avro-t2': ['debezium-avro-t2'],
  copy: ['copy', 'copy-in'],
  pgstream: ['pgstream', 'pgstream-2500'],
  'pgstream-100': ['pgstream'],
  'pgstream-2500': ['pgstream-2500'],
};

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, workloads: null, only: null, repeat: 1, liveSeconds: null, liveTxnRows: 10, cpuProf: false, walcastNodeFlags: [], walcastEnv: {}, services: true, publish: false, baseline: null };
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--quick': a.quick = true; break;
      case '--workloads': {
        const ws = list(value());
        for (const w of ws) if (!['a', 'b', 'b2', 'c', 'd', 'e', 's'].includes(w)) throw new Error(`unknown workload ${w}\n${USAGE}`);
        a.workloads = ws as WorkloadId[];
        break;
      }
      case '--only': {
        const out = new Set<SystemId>();
        for (const s of list(value())) {
          const m = SYSTEM_ALIASES[s];
          if (!m) throw new Error(`unknown system ${s}\n${USAGE}`);
          m.forEach((x) => out.add(x));
        }
        a.only = [...out];
        break;
      }
      case '--repeat': a.repeat = Math.max(1, Number(value()) || 1); break;
      case '--live-seconds': a.liveSeconds = Math.max(2, Number(value()) || 30); break;
      case '--live-txn-rows': a.liveTxnRows = Math.max(1, Number(value()) || 10); break;
      case '--cpu-prof': a.cpuProf = true; break;
      case '--walcast-node-flags': a.walcastNodeFlags = value().split(/\s+/).filter(Boolean); break;
      case '--walcast-env':
        for (const pair of value().split(',').filter(Boolean)) {
          const eq = pair.indexOf('=');
          if (eq <= 0 || !pair.startsWith('WALCAST_')) throw new Error(`--walcast-env: expected WALCAST_NAME=value, got ${JSON.stringify(pair)}`);
          a.walcastEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        break;
      case '--no-services': a.services = false; break;
      case '--publish': a.publish = true; break;
      case '--baseline': a.baseline = value(); break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (a.only?.includes('walcast-baseline') && a.baseline === null) throw new Error(`--only walcast-baseline needs --baseline <git-ref>\n${USAGE}`);
  // --baseline is the request to measure it
  if (a.baseline !== null && a.only && !a.only.includes('walcast-baseline')) a.only.push('walcast-baseline');
  return a;
}

// ------------------------------------------------------------------ state shared with cleanup
const SLOT_CODES: Record<SystemId, string> = {
  walcast: 'wc', 'walcast-baseline': 'wb', walsender: 'ws', kafkajs: 'kj', 'kafka-perf': 'kp', 'debezium-json': 'dj', 'debezium-avro': 'da',
  'walcast-snapshot-t1': 'w1', 'walcast-snapshot-t2': 'w2', 'walcast-snapshot-t4': 'w4', 'debezium-json-t2': 'dj2', 'debezium-avro-t2': 'da2', copy: 'cp',
  pgstream: 'ps', 'pgstream-2500': 'ps2', 'walcast-sink': 'wsk', 'debezium-jdbc': 'djk', 'copy-in': 'ci',
};
const RUN_PREFIX = 'wcbench_';
const runStarted = Date.now();
const runId = `${RUN_PREFIX}${runStarted.toString(36)}`;
const children = new Set<Watched>();
const slots = new Set<string>();
let db: Db;
let kafka: KafkaAdmin;
let services: ServicesEnv;
let tooling: Tooling;
let brokerPid: number | null = null;
/** walcast's commit when the run started; a walcast run on other code says so in its notes. */
let startRevision = 'unknown';
/** --baseline: the compiled copy of that commit. */
let baseline: Baseline | null = null;
/** The first SIGINT/SIGTERM: no further measurement starts; what was measured is written. */
let stopRequested: NodeJS.Signals | null = null;

function emptyMeasurement(workload: WorkloadId, system: SystemId, repeat: number, status: Measurement['status']): Measurement {
  return {
    workload, system, repeat, status,
    events: null, seconds: null, rowsPerSec: null, startupSeconds: null, cpuSeconds: null, cpuPerMillion: null, peakRssMb: null,
    walsenderCpuPerMillion: null, postgresCpuPerMillion: null, brokerCpuPerMillion: null, otherLoadCores: null, latencyMs: null, verified: null, notes: [], error: null,
  };
}

/** Average cores busy on the machine outside the measured processes (other sessions' tests, the orchestrator). */
function otherLoad(busySeconds: number, wallSeconds: number, known: Array<number | null>): number | null {
  if (!Number.isFinite(busySeconds) || wallSeconds <= 0) return null;
  const ours = known.reduce<number>((sum, x) => sum + (x ?? 0), 0);
  return round(Math.max(0, (busySeconds - ours) / wallSeconds), 2);
}

type Identities = Record<'postgres' | 'kafka' | 'registry', string | null>;
let servicePorts: Record<keyof Identities, number>;

function serviceIdentities(): Identities {
  return {
    postgres: processIdentity(portOwner(servicePorts.postgres)),
    kafka: processIdentity(portOwner(servicePorts.kafka)),
    registry: processIdentity(portOwner(servicePorts.registry)),
  };
}

function changedServices(before: Identities, after: Identities, relevant: Array<keyof Identities> = ['postgres', 'kafka', 'registry']): string[] {
  return relevant.filter((k) => before[k] !== after[k]);
}

/** The services a system's figures depend on: a restart of another one does not disturb it. */
const DEPENDS_ON: Record<SystemId, Array<keyof Identities>> = {
  walsender: ['postgres'],
  walcast: ['postgres', 'kafka', 'registry'],
  'walcast-baseline': ['postgres', 'kafka', 'registry'],
  kafkajs: ['kafka'],
  'kafka-perf': ['kafka'],
  'debezium-json': ['postgres', 'kafka'],
  'debezium-avro': ['postgres', 'kafka', 'registry'],
  'walcast-snapshot-t1': ['postgres', 'kafka', 'registry'],
  'walcast-snapshot-t2': ['postgres', 'kafka', 'registry'],
  'walcast-snapshot-t4': ['postgres', 'kafka', 'registry'],
  'debezium-json-t2': ['postgres', 'kafka'],
  'debezium-avro-t2': ['postgres', 'kafka', 'registry'],
  copy: ['postgres'],
  pgstream: ['postgres', 'kafka'],
  'pgstream-2500': ['postgres', 'kafka'],
  'walcast-sink': ['postgres', 'kafka', 'registry'],
  'debezium-jdbc': ['postgres', 'kafka', 'registry'],
  'copy-in': ['postgres'],
};

/**
 * Other sessions on this machine run fault tests that stop and restart the shared services. Waits
 * until all three are up and have not changed for 3 s, and points the broker CPU sampling at the
 * current broker process.
 */
async function stableServices(): Promise<Identities> {
  const deadline = Date.now() + 5 * 60_000;
  let previous: Identities | null = null;
  for (;;) {
    const now = serviceIdentities();
    const allUp = Object.values(now).every((v) => v !== null);
    if (allUp && previous && changedServices(previous, now).length === 0) {
      brokerPid = portOwner(servicePorts.kafka);
      return now;
    }
    if (Date.now() > deadline) throw new Error(`services not all up (${JSON.stringify(now)}) for 5 minutes`);
    if (!allUp) log(`waiting for the services to come back (${Object.entries(now).filter(([, v]) => v === null).map(([k]) => k).join(', ')} down; another session's fault test?)`);
    previous = allUp ? now : null;
    await sleep(allUp ? 3000 : 2000);
  }
}

function perMillion(cpu: number | null | undefined, events: number): number | null {
  return cpu === null || cpu === undefined || events <= 0 ? null : round((cpu / events) * 1e6, 2);
}

/** Samples a walsender (found through its slot) while a system runs. */
class WalsenderSampler {
  first: ProcSample | null = null;
  last: ProcSample | null = null;
  private pid: number | null = null;
  async poll(slot: string): Promise<{ confirmed: bigint | null; activePid: number | null } | null> {
    const info = await db.slotInfo(slot);
    if (info?.activePid && info.activePid !== this.pid) {
      this.pid = info.activePid;
      this.first = sampleProc(this.pid);
    }
    if (this.pid !== null) {
      const s = sampleProc(this.pid);
      if (s) this.last = s;
    }
    return info;
  }
  cpu(): number | null {
    return this.first && this.last ? this.last.cpuSeconds - this.first.cpuSeconds : null;
  }
}

function brokerSample(): ProcSample | null {
  return brokerPid ? sampleProc(brokerPid) : null;
}

async function dropSlot(slot: string): Promise<void> {
  await db.dropSlot(slot).catch((e: unknown) => log(`could not drop slot ${slot}: ${(e as Error).message}`));
  slots.delete(slot);
}

function job(w: WorkloadSpec, system: SystemId, repeat: number, attempt = 1): CdcJob {
  const name = `${runId}_${w.id}_${SLOT_CODES[system]}_${repeat}${attempt > 1 ? `r${attempt}` : ''}`;
  return { name, slot: name, publication: `${runId}_${w.id}`, schema: runId, table: w.table, topicPrefix: name };
}

// ------------------------------------------------------------------ CDC systems (walcast, pgstream, Debezium)
/**
 * pgstream's Kafka writer: its defaults (100 messages, 1.5 MiB per batch), and batches of 2,500
 * kept under the broker's 1 MiB message limit (its JSON is ~400-600 B a row, so 2,500 rows can
 * pass 1 MiB: the byte limit then closes the batch first).
 */
const PGSTREAM_BATCHES = {
  pgstream: { size: null, bytes: null },
  'pgstream-2500': { size: 2500, bytes: 1_000_000 },
} as const;

/** The output plugin a system's slot needs. */
function slotPlugin(system: SystemId): 'pgoutput' | 'wal2json' {
  return isPgstream(system) ? 'wal2json' : 'pgoutput';
}

async function startCdc(system: SystemId, j: CdcJob): Promise<CdcProcess> {
  let cdc: CdcProcess;
  if (system === 'walcast') cdc = await startWalcast(tooling, j);
  else if (system === 'walcast-baseline') {
    if (!baseline) throw new Error('walcast-baseline needs --baseline <git-ref>');
    cdc = await startWalcast(tooling, j, baseline.dir);
  } else if (isPgstream(system)) cdc = startPgstream(tooling, j, PGSTREAM_BATCHES[system === 'pgstream' ? 'pgstream' : 'pgstream-2500']);
  else cdc = await startDebezium(tooling, j, system === 'debezium-avro' ? 'avro' : 'json');
  children.add(cdc.proc);
  return cdc;
}

async function stopCdc(cdc: CdcProcess): Promise<void> {
  await cdc.proc.stop('SIGTERM', 30_000);
  children.delete(cdc.proc);
}

async function scrapeEvents(port: number | null): Promise<number | null> {
  if (!port) return null;
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const m = /^walcast_events_total(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface TopicSizes {
  keyBytes: number;
  valueBytes: number;
  measured: boolean;
}

async function catchupCdc(w: WorkloadSpec, system: SystemId, repeat: number, j: CdcJob, written: Written, sizes: { current: TopicSizes }): Promise<Measurement> {
  const m = emptyMeasurement(w.id, system, repeat, 'ok');
  m.events = written.events;
  await kafka.createTopic(`${j.topicPrefix}.${j.schema}.${j.table}`);
  const spawnedAt = Date.now();
  const revision = system === 'walcast' ? walcastRevision() : null;
  const cdc = await startCdc(system, j);
  const ws = new WalsenderSampler();
  noteCommit(m, revision);
  try {
    await cdc.streaming;
    const t0 = Date.now();
    m.startupSeconds = round((t0 - spawnedAt) / 1000, 1);
    const cpu0 = sampleProc(cdc.proc.pid);
    const broker0 = brokerSample();
    const busy0 = machineBusySeconds();
    let last = cpu0;
    const walcastLike = isWalcast(system);
    const deadline = t0 + 25 * 60_000;
    let seen = 0;
    for (;;) {
      const info = await ws.poll(j.slot);
      const s = sampleProc(cdc.proc.pid);
      if (s) last = s;
      if (cdc.proc.child.exitCode !== null) throw new Error(`${system} exited with code ${cdc.proc.child.exitCode}:\n${cdc.proc.tail()}`);
      if (walcastLike) {
        if (info?.confirmed !== null && info?.confirmed !== undefined && info.confirmed > written.lastLsn) break;
      } else {
        seen = await kafka.highWatermark(cdc.topic);
        if (seen >= written.events) break;
      }
      if (Date.now() > deadline) throw new Error(`${system} did not catch up within 25 minutes (slot at ${info?.confirmed ? formatLsn(info.confirmed) : '?'}, target ${formatLsn(written.lastLsn)}, ${seen} records)`);
      await sleep(walcastLike ? 25 : 50);
    }
    const t1 = Date.now();
    const end = sampleProc(cdc.proc.pid) ?? last;
    const broker1 = brokerSample();
    const busy1 = machineBusySeconds();
    m.seconds = round((t1 - t0) / 1000, 2);
    m.rowsPerSec = round(written.events / ((t1 - t0) / 1000));
    m.cpuSeconds = end && cpu0 ? round(end.cpuSeconds - cpu0.cpuSeconds, 2) : null;
    m.cpuPerMillion = perMillion(m.cpuSeconds, written.events);
    m.peakRssMb = end ? round(end.peakRssMb) : null;
    m.walsenderCpuPerMillion = perMillion(ws.cpu(), written.events);
    m.brokerCpuPerMillion = broker0 && broker1 ? perMillion(broker1.cpuSeconds - broker0.cpuSeconds, written.events) : null;
    m.otherLoadCores = otherLoad(busy1 - busy0, (t1 - t0) / 1000, [m.cpuSeconds, ws.cpu(), broker0 && broker1 ? broker1.cpuSeconds - broker0.cpuSeconds : null]);
    if (walcastLike) {
      const metric = await scrapeEvents(cdc.metricsPort);
      if (metric !== null) m.notes.push(`walcast_events_total ${metric}`);
    } else if (!isPgstream(system)) {
      m.verified = { method: 'topic end offset (non-transactional producer)', expected: written.events, seen, ok: seen === written.events };
    }
  } finally {
    await stopCdc(cdc);
  }
  if (isPgstream(system)) {
    // its topic also gets the server's logical decoding messages (other sessions'): count rows alone
    const end = await kafka.highWatermark(cdc.topic);
    const count = await countPgstreamTopic(services.brokers, cdc.topic, end, j.schema, j.table);
    m.verified = { method: 'consumer count of the table\'s row events (other records: logical messages)', expected: written.events, seen: count.rows, ok: count.rows === written.events };
    if (count.other > 0) m.notes.push(`${count.other} other records in the topic (logical decoding messages of other sessions on the server, which wal2json passes on)`);
    if (count.records > 0) m.notes.push(`average record ${Math.round(count.keyBytes / count.records)}+${Math.round(count.valueBytes / count.records)} B`);
  }
  if (isWalcast(system)) {
    // The exact count a read_committed consumer gets (after the timed window).
    const scan = await scanTopic(services.brokers, cdc.topic, written.events);
    m.verified = { method: 'read_committed consumer count', expected: written.events, seen: scan.records, ok: scan.records === written.events };
    if (scan.records > 0) sizes.current = { keyBytes: Math.round(scan.keyBytes / scan.records), valueBytes: Math.round(scan.valueBytes / scan.records), measured: true };
    if (!m.verified.ok) {
      m.status = 'failed';
      m.error = `read_committed consumer saw ${scan.records} records, expected ${written.events}`;
    }
    if (tooling.walcastNodeFlags.includes('--cpu-prof')) reportProfile(m);
    const extraFlags = tooling.walcastNodeFlags.filter((f) => !f.startsWith('--cpu-prof'));
    if (extraFlags.length) m.notes.push(`node ${extraFlags.join(' ')}`);
    for (const [name, setting] of Object.entries(tooling.walcastEnv)) m.notes.push(`${name}=${setting}`);
  }
  return m;
}

/**
 * The commit a walcast row measured: the baseline's always; the tree's when it compares with a
 * baseline, or when it changed since the run started (another session committing in this tree).
 */
function noteCommit(m: Measurement, revision: string | null): void {
  if (m.system === 'walcast-baseline' && baseline) m.notes.push(`commit ${baseline.short} (${baseline.ref})`);
  if (!revision) return; // only the tree's walcast rows pass one
  if (revision !== startRevision) m.notes.push(`walcast ${revision} (the run started at ${startRevision})`);
  else if (baseline) m.notes.push(`commit ${revision}`);
}

function reportProfile(m: Measurement): void {
  const dir = join(tooling.runDir, 'profiles');
  try {
    const newest = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((x, y) => y.t - x.t)[0];
    if (!newest) return;
    const file = join(dir, newest.f);
    const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0], 15);
    log(`walcast CPU profile ${file}:\n${summary}`);
    m.notes.push(`profile ${file}`);
  } catch (error) {
    log(`no CPU profile: ${(error as Error).message}`);
  }
}

// ------------------------------------------------------------------ ceilings
async function walsenderCeiling(w: WorkloadSpec, repeat: number, j: CdcJob, written: Written): Promise<Measurement> {
  const m = emptyMeasurement(w.id, 'walsender', repeat, 'ok');
  m.events = written.events;
  const ws = new WalsenderSampler();
  const stopSampling = pollEvery(50, () => ws.poll(j.slot).catch(() => undefined));
  const r = await runRecvlogical(tooling, j, formatLsn(written.lastLsn)).finally(stopSampling);
  if (r.code !== 0) {
    m.status = 'failed';
    m.error = `pg_recvlogical exited with code ${r.code}: ${r.output.trim().split('\n').slice(-3).join(' / ')}`;
    return m;
  }
  m.seconds = round(r.wallSeconds, 2);
  m.rowsPerSec = round(written.events / r.wallSeconds);
  m.cpuSeconds = r.cpuSeconds === null ? null : round(r.cpuSeconds, 2);
  m.cpuPerMillion = perMillion(r.cpuSeconds, written.events);
  m.peakRssMb = r.peakRssMb === null ? null : round(r.peakRssMb);
  m.walsenderCpuPerMillion = perMillion(ws.cpu(), written.events);
  // pg_recvlogical exits 0 only once it received a record (the last commit) or keepalive at or past --endpos
  m.verified = { method: 'pg_recvlogical reached --endpos (inside the last transaction) and exited 0', expected: written.events, seen: written.events, ok: true };
  m.notes.push('process time incl. connection start; CPU/RSS are the pg_recvlogical client\'s');
  return m;
}

async function kafkajsCeiling(w: WorkloadSpec, repeat: number, j: CdcJob, written: Written, sizes: TopicSizes): Promise<Measurement> {
  const m = emptyMeasurement(w.id, 'kafkajs', repeat, 'ok');
  const topic = j.topicPrefix;
  await kafka.createTopic(topic);
  m.events = written.events;
  // walcast's shape: Kafka transactions of >= 20,000 events holding whole PostgreSQL transactions, requests of 1,000
  const txnRecords = w.txnRows >= w.rows ? w.rows : Math.ceil(20_000 / w.txnRows) * w.txnRows;
  const b0 = brokerSample();
  const r = await runKafkajsAlone(tooling, topic, { topic, count: written.events, keyBytes: sizes.keyBytes, valueBytes: sizes.valueBytes, txnRecords, chunkRecords: 1000, transactionalId: `${topic}-txn` });
  const b1 = brokerSample();
  m.seconds = round(r.seconds, 2);
  m.rowsPerSec = round(r.records / r.seconds);
  m.cpuSeconds = round(r.cpuSeconds, 2);
  m.cpuPerMillion = perMillion(r.cpuSeconds, r.records);
  m.peakRssMb = round(r.peakRssMb);
  m.brokerCpuPerMillion = b0 && b1 ? perMillion(b1.cpuSeconds - b0.cpuSeconds, r.records) : null;
  const hw = await kafka.highWatermark(topic);
  // each committed transaction adds one commit marker to the partition
  m.verified = { method: 'end offset = records + commit markers', expected: r.records + r.transactions, seen: hw, ok: hw === r.records + r.transactions };
  m.notes.push(`records ${sizes.keyBytes}+${sizes.valueBytes} B${sizes.measured ? " (walcast's average)" : ' (assumed)'}, ${r.transactions} transactions of <= ${txnRecords}`);
  return m;
}

async function javaPerfCeiling(w: WorkloadSpec, repeat: number, j: CdcJob, written: Written, sizes: TopicSizes): Promise<Measurement> {
  const m = emptyMeasurement(w.id, 'kafka-perf', repeat, 'ok');
  const topic = j.topicPrefix;
  await kafka.createTopic(topic);
  m.events = written.events;
  const recordBytes = sizes.keyBytes + sizes.valueBytes;
  const b0 = brokerSample();
  const r = await runProducerPerf(tooling, topic, { topic, count: written.events, recordBytes, transactionDurationMs: 100 });
  const b1 = brokerSample();
  if (r.code !== 0 || r.recordsPerSec === null) {
    m.status = 'failed';
    m.error = `ProducerPerformance exited with code ${r.code}: ${r.output.trim().split('\n').slice(-3).join(' / ')}`;
    return m;
  }
  m.rowsPerSec = round(r.recordsPerSec);
  m.seconds = round(written.events / r.recordsPerSec, 2);
  m.cpuSeconds = r.cpuSeconds === null ? null : round(r.cpuSeconds, 2);
  m.cpuPerMillion = perMillion(r.cpuSeconds, written.events);
  m.peakRssMb = r.peakRssMb === null ? null : round(r.peakRssMb);
  m.brokerCpuPerMillion = b0 && b1 ? perMillion(b1.cpuSeconds - b0.cpuSeconds, written.events) : null;
  const hw = await kafka.highWatermark(topic);
  m.verified = { method: 'end offset >= records', expected: written.events, seen: hw, ok: hw >= written.events };
  m.notes.push(`${recordBytes}-byte values, transactions of 100 ms; rows/s: steady state after the first 10%; CPU incl. JVM start`);
  return m;
}

// ------------------------------------------------------------------ workloads
/**
 * The order of a workload's measurements: each system's repeats in turn, except that walcast and
 * walcast-baseline run back to back in each repeat, which one first alternating (baseline #1,
 * walcast #1, walcast #2, baseline #2, baseline #3, walcast #3, ...): drift over the run (other
 * load on the machine, the broker's state, autovacuum after the write) hits both builds alike.
 */
function measurementOrder(systems: SystemId[], repeat: number): Array<{ system: SystemId; repeat: number }> {
  const paired = systems.includes('walcast') && systems.includes('walcast-baseline');
  const out: Array<{ system: SystemId; repeat: number }> = [];
  for (const system of systems) {
    if (paired && system === 'walcast') continue; // with its baseline
    for (let r = 1; r <= repeat; r++) {
      if (!paired || system !== 'walcast-baseline') out.push({ system, repeat: r });
      else if (r % 2 === 1) out.push({ system: 'walcast-baseline', repeat: r }, { system: 'walcast', repeat: r });
      else out.push({ system: 'walcast', repeat: r }, { system: 'walcast-baseline', repeat: r });
    }
  }
  return out;
}

/** The systems of a catch-up workload that read from a slot of their own (one per repeat). */
function slotHolders(systems: SystemId[]): SystemId[] {
  return systems.filter((s) => isWalcast(s) || s === 'walsender' || s.startsWith('debezium') || isPgstream(s));
}

/**
 * A catch-up workload creates every slot it needs before writing its WAL: refuses a run that needs
 * more than the server has free, before anything is measured (instead of failing those workloads
 * and running the others for nothing).
 */
async function checkSlotsSuffice(workloads: WorkloadSpec[], systemsFor: (w: WorkloadSpec) => SystemId[], repeat: number): Promise<void> {
  const needed = Math.max(0, ...workloads.filter((w) => w.mode === 'catchup').map((w) => slotHolders(systemsFor(w)).length * repeat));
  const rows = await db.query<{ max: string; used: string }>("select current_setting('max_replication_slots') as max, (select count(*) from pg_replication_slots)::text as used");
  const free = Number(rows[0]!.max) - Number(rows[0]!.used);
  if (needed > free) {
    throw new Error(
      `this run needs ${needed} replication slots at once (each system reading a slot, times --repeat ${repeat}), and the server has ${free} free ` +
        `(max_replication_slots = ${rows[0]!.max}, ${rows[0]!.used} in use): lower --repeat, narrow --only or --workloads, or raise max_replication_slots`,
    );
  }
}

async function runCatchup(w: WorkloadSpec, systems: SystemId[], repeat: number, out: Measurement[], meta: BenchResults['workloads'][number]): Promise<void> {
  const schema = runId;
  log(`(${w.id}) ${w.title}: creating ${schema}.${w.table}`);
  await createTable(db, schema, w);
  const publication = `${runId}_${w.id}`;
  await db.query(`create publication ${ident(publication)} for table ${ident(schema)}.${ident(w.table)}`);
  const slotSystems = slotHolders(systems);
  for (const s of slotSystems) {
    for (let r = 1; r <= repeat; r++) {
      const { slot } = job(w, s, r);
      await db.createSlot(slot, slotPlugin(s));
      slots.add(slot);
    }
  }
  log(`(${w.id}) writing ${w.rows.toLocaleString('en-US')} row changes with ${slotSystems.length * repeat} slot(s) holding the WAL`);
  const written = await writeWorkload(db, schema, w);
  meta.writeSeconds = round(written.seconds, 1) ?? undefined;
  log(`(${w.id}) written in ${written.seconds.toFixed(1)} s; last transaction at ${formatLsn(written.lastLsn)}`);
  const defaults: TopicSizes = w.id === 'c' ? { keyBytes: 6, valueBytes: 2600, measured: false } : { keyBytes: 6, valueBytes: 130, measured: false };
  const sizes = { current: defaults };
  for (const { system, repeat: r } of measurementOrder(systems, repeat)) {
    if (stopRequested) break;
    const needsSlot = slotSystems.includes(system);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const j = job(w, system, r, attempt);
      log(`(${w.id}) ${SYSTEM_LABELS[system]}${repeat > 1 ? ` #${r}` : ''}${attempt > 1 ? ' (again)' : ''} ...`);
      // a spare copy of the slot, at the same position, in case the measurement must be repeated
      const spare = needsSlot && attempt === 1 ? job(w, system, r, 2).slot : null;
      if (spare) {
        await db.query('select pg_copy_logical_replication_slot($1, $2)', [j.slot, spare]);
        slots.add(spare);
      }
      const before = await stableServices();
      const busy0 = machineBusySeconds();
      const started = Date.now();
      let m: Measurement;
      try {
        if (system === 'walsender') m = await walsenderCeiling(w, r, j, written);
        else if (system === 'kafkajs') m = await kafkajsCeiling(w, r, j, written, sizes.current);
        else if (system === 'kafka-perf') m = await javaPerfCeiling(w, r, j, written, sizes.current);
        else m = await catchupCdc(w, system, r, j, written, sizes);
      } catch (error) {
        m = emptyMeasurement(w.id, system, r, 'failed');
        m.events = written.events;
        m.error = (error as Error).message.split('\n')[0]!.slice(0, 400);
        log(`(${w.id}) ${system} FAILED: ${(error as Error).message}`);
      }
      if (m.otherLoadCores === null && m.status === 'ok') {
        m.otherLoadCores = otherLoad(machineBusySeconds() - busy0, (Date.now() - started) / 1000, [m.cpuSeconds, m.walsenderCpuPerMillion !== null ? (m.walsenderCpuPerMillion * written.events) / 1e6 : null]);
      }
      if (needsSlot) await dropSlot(j.slot);
      if (system === 'debezium-avro' && !tooling.apicurioConverter) m.notes.push('Apicurio AvroConverter could not be resolved: ran with JsonConverter');
      if (discardIfRestarted(w, system, m, before, attempt, out)) continue;
      if (attempt > 1) m.notes.push('second attempt (a service restarted during the first)');
      if (spare) await dropSlot(spare);
      if (m.otherLoadCores !== null && m.otherLoadCores >= 0.25) m.notes.push(`other load on the machine ~${m.otherLoadCores} cores`);
      out.push(m);
      log(`(${w.id}) ${system}: ${describe(m)}`);
      break;
    }
  }
}

/**
 * A measurement during which a service it depends on restarted (another session's fault test?)
 * is recorded as skipped and measured again once; on the second attempt it is kept with a note.
 * Returns true when the caller should measure again.
 */
function discardIfRestarted(w: WorkloadSpec, system: SystemId, m: Measurement, before: Identities, attempt: number, out: Measurement[]): boolean {
  if (stopRequested) {
    // its process was stopped by the interrupt: neither a result nor worth a second attempt
    if (m.status === 'failed') {
      m.status = 'skipped';
      m.error = `interrupted (${stopRequested}) before the end: ${m.error ?? ''}`;
    }
    return false;
  }
  const restarted = changedServices(before, serviceIdentities(), DEPENDS_ON[system]);
  if (restarted.length > 0 && attempt === 1) {
    m.status = 'skipped';
    m.error = `discarded: ${restarted.join(', ')} restarted during the measurement (another session's fault test?); measured again`;
    out.push(m);
    log(`(${w.id}) ${system}: ${m.error}`);
    return true;
  }
  if (restarted.length > 0) m.notes.push(`${restarted.join(', ')} restarted during this measurement too`);
  return false;
}

async function runLive(w: WorkloadSpec, systems: SystemId[], repeat: number, out: Measurement[]): Promise<void> {
  const schema = runId;
  log(`(${w.id}) ${w.title}: creating ${schema}.${w.table}`);
  await createTable(db, schema, w);
  const publication = `${runId}_${w.id}`;
  await db.query(`create publication ${ident(publication)} for table ${ident(schema)}.${ident(w.table)}`);
  let index = 0;
  for (const { system, repeat: r } of measurementOrder(systems, repeat)) {
    if (stopRequested) break;
    for (let attempt = 1; attempt <= 2; attempt++) {
      index += 1;
      log(`(${w.id}) ${SYSTEM_LABELS[system]}${repeat > 1 ? ` #${r}` : ''}${attempt > 1 ? ' (again)' : ''} ...`);
      const j = job(w, system, r, attempt);
      const m = emptyMeasurement(w.id, system, r, 'ok');
      const before = await stableServices();
      try {
        await liveOne(w, system, j, index * 10_000_000, m);
      } catch (error) {
        m.status = 'failed';
        m.error = (error as Error).message.split('\n')[0]!.slice(0, 400);
        log(`(${w.id}) ${system} FAILED: ${(error as Error).message}`);
      }
      await dropSlot(j.slot);
      if (discardIfRestarted(w, system, m, before, attempt, out)) continue;
      if (m.otherLoadCores !== null && m.otherLoadCores >= 0.25) m.notes.push(`other load on the machine ~${m.otherLoadCores} cores`);
      out.push(m);
      log(`(${w.id}) ${system}: ${describe(m)}`);
      break;
    }
  }
}

async function liveOne(w: WorkloadSpec, system: SystemId, j: CdcJob, base: number, m: Measurement): Promise<void> {
  const table = `${ident(j.schema)}.${ident(j.table)}`;
  await db.createSlot(j.slot, slotPlugin(system));
  slots.add(j.slot);
  const topic = `${j.topicPrefix}.${j.schema}.${j.table}`;
  await kafka.createTopic(topic, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
  const spawnedAt = Date.now();
  const revision = system === 'walcast' ? walcastRevision() : null;
  const cdc = await startCdc(system, j);
  const ws = new WalsenderSampler();
  noteCommit(m, revision);
  const insert = async (from: number, to: number): Promise<bigint> => {
    await db.query('begin');
    await db.query(`insert into ${table} (id, account, amount, note, flag) select g, g % 10000, (g % 100000) / 100.0, 'order ' || g, g % 2 = 0 from generate_series($1::bigint, $2::bigint) g`, [from, to]);
    const lsn = await db.currentLsn();
    await db.query('commit');
    return lsn;
  };
  const visible = async (lsn: bigint, count: number): Promise<true | undefined> => {
    const info = await ws.poll(j.slot);
    if (cdc.proc.child.exitCode !== null) throw new Error(`${system} exited with code ${cdc.proc.child.exitCode}:\n${cdc.proc.tail()}`);
    if (isWalcast(system)) return info?.confirmed && info.confirmed > lsn ? true : undefined;
    return (await kafka.highWatermark(topic)) >= count ? true : undefined;
  };
  try {
    await cdc.streaming;
    m.startupSeconds = round((Date.now() - spawnedAt) / 1000, 1);
    // warm-up: the first event registers schemas and opens connections; not measured
    const warm = await insert(base + 1, base + 10);
    await waitFor('the warm-up transaction', () => visible(warm, 10), 120_000, 50);
    const cpu0 = sampleProc(cdc.proc.pid);
    const broker0 = brokerSample();
    const ws0 = ws.last;
    const busy0 = machineBusySeconds();
    const liveStart = Date.now();
    const writer = spawnSync(process.execPath, [join(BENCH, 'tools', 'rate-writer.ts'), JSON.stringify({
      url: services.pgUrl, table, firstId: base + 11, rate: w.rate, txnRows: w.txnRows, seconds: w.seconds, connections: 2,
    })], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (writer.status !== 0) throw new Error(`rate writer failed: ${writer.stderr.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 6).join(' / ')}`);
    const load = JSON.parse(writer.stdout.trim().split('\n').pop()!) as { rows: number; transactions: number; seconds: number; achievedRate: number; lateTransactions: number };
    const markerId = base + 11 + load.rows;
    const marker = await insert(markerId, markerId);
    const expected = 10 + load.rows + 1;
    await waitFor(`${system} to deliver the live load`, () => visible(marker, expected), 10 * 60_000, 50);
    const end = sampleProc(cdc.proc.pid);
    const broker1 = brokerSample();
    m.events = load.rows;
    m.seconds = round(load.seconds, 1);
    m.rowsPerSec = round(load.achievedRate);
    m.cpuSeconds = end && cpu0 ? round(end.cpuSeconds - cpu0.cpuSeconds, 2) : null;
    m.cpuPerMillion = perMillion(m.cpuSeconds, load.rows);
    m.peakRssMb = end ? round(end.peakRssMb) : null;
    m.walsenderCpuPerMillion = ws0 && ws.last ? perMillion(ws.last.cpuSeconds - ws0.cpuSeconds, load.rows) : null;
    m.brokerCpuPerMillion = broker0 && broker1 ? perMillion(broker1.cpuSeconds - broker0.cpuSeconds, load.rows) : null;
    // the rate writer's own CPU counts as "other" here
    m.otherLoadCores = otherLoad(machineBusySeconds() - busy0, (Date.now() - liveStart) / 1000, [
      m.cpuSeconds, ws0 && ws.last ? ws.last.cpuSeconds - ws0.cpuSeconds : null, broker0 && broker1 ? broker1.cpuSeconds - broker0.cpuSeconds : null,
    ]);
    m.notes.push(`offered ${w.rate} rows/s in ${w.txnRows}-row transactions, achieved ${Math.round(load.achievedRate)}${load.lateTransactions ? `, ${load.lateTransactions} transactions started late` : ''}`);
  } finally {
    await stopCdc(cdc);
  }
  const { scan, latency } = await measureLatency(services.brokers, services.registryUrl, topic, 10 + (m.events ?? 0) + 1, base + 10);
  m.verified = { method: 'read_committed consumer count', expected: 10 + (m.events ?? 0) + 1, seen: scan.records, ok: scan.records === 10 + (m.events ?? 0) + 1 };
  m.latencyMs = { p50: round(latency.p50, 1)!, p99: round(latency.p99, 1)!, max: round(latency.max, 1)!, count: latency.count };
  if (!m.verified.ok) m.notes.push(`consumer saw ${scan.records} records, expected ${m.verified.expected}`);
}

// ------------------------------------------------------------------ (e) initial snapshot
/**
 * Workload (e): one table written, keyed and frozen before any system runs; then the COPY ceiling
 * and each snapshotting system in turn, each with its own slot (created by the system itself, as
 * a first start does), topics and offsets; each topic is counted and deleted before the next system.
 */
async function runSnapshot(w: WorkloadSpec, systems: SystemId[], repeat: number, out: Measurement[], meta: BenchResults['workloads'][number]): Promise<void> {
  const schema = runId;
  log(`(${w.id}) ${w.title}: creating ${schema}.${w.table} and writing ${w.rows.toLocaleString('en-US')} rows`);
  await createTable(db, schema, w);
  const table = await fillSnapshotTable(db, schema, w);
  meta.writeSeconds = round(table.seconds, 1) ?? undefined;
  log(`(${w.id}) written, keyed and frozen in ${table.seconds.toFixed(1)} s; heap ${table.heapMb} MB`);
  await db.query(`create publication ${ident(`${runId}_${w.id}`)} for table ${ident(schema)}.${ident(w.table)}`);
  for (const { system, repeat: r } of measurementOrder(systems, repeat)) {
    if (stopRequested) break;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const j = job(w, system, r, attempt);
      log(`(${w.id}) ${SYSTEM_LABELS[system]}${repeat > 1 ? ` #${r}` : ''}${attempt > 1 ? ' (again)' : ''} ...`);
      const before = await stableServices();
      let m: Measurement;
      try {
        m = system === 'copy' ? await copyCeiling(w, r, j) : await snapshotCdc(w, system, r, j);
      } catch (error) {
        m = emptyMeasurement(w.id, system, r, 'failed');
        m.events = w.rows;
        m.error = (error as Error).message.split('\n')[0]!.slice(0, 400);
        log(`(${w.id}) ${system} FAILED: ${(error as Error).message}`);
      }
      if (system !== 'copy') {
        await dropSlot(j.slot);
        // a JsonConverter topic of 5M rows holds ~10 GB: not kept until the workload ends
        await kafka.deleteTopicsWithPrefix(`${j.topicPrefix}.`).catch(() => undefined);
      }
      if (discardIfRestarted(w, system, m, before, attempt, out)) continue;
      if (attempt > 1) m.notes.push('second attempt (a service restarted during the first)');
      if (m.otherLoadCores !== null && m.otherLoadCores >= 0.25) m.notes.push(`other load on the machine ~${m.otherLoadCores} cores`);
      out.push(m);
      log(`(${w.id}) ${system}: ${describe(m)}`);
      break;
    }
  }
}

/** The source's ceiling: psql's \copy of the table to /dev/null, with the backend's CPU beside psql's. */
async function copyCeiling(w: WorkloadSpec, repeat: number, j: CdcJob): Promise<Measurement> {
  const m = emptyMeasurement(w.id, 'copy', repeat, 'ok');
  m.events = w.rows;
  const backend = BackendCpu.ofApplication(db, j.name);
  const busy0 = machineBusySeconds();
  const started = Date.now();
  const stopSampling = pollEvery(20, () => backend.poll());
  const r = await runCopy(tooling, j.name, `${ident(j.schema)}.${ident(j.table)}`, j.name).finally(stopSampling);
  const copied = Number(/^COPY (\d+)/m.exec(r.output)?.[1] ?? NaN);
  if (r.code !== 0) {
    m.status = 'failed';
    m.error = `psql exited with code ${r.code}: ${r.output.trim().split('\n').slice(-3).join(' / ')}`;
    return m;
  }
  m.seconds = round(r.wallSeconds, 2);
  m.rowsPerSec = round(w.rows / r.wallSeconds);
  m.cpuSeconds = r.cpuSeconds === null ? null : round(r.cpuSeconds, 2);
  m.cpuPerMillion = perMillion(r.cpuSeconds, w.rows);
  m.peakRssMb = r.peakRssMb === null ? null : round(r.peakRssMb);
  m.postgresCpuPerMillion = perMillion(backend.cpu(), w.rows);
  // over the whole call (the rusage wrapper's start included), as the busy time is
  m.otherLoadCores = otherLoad(machineBusySeconds() - busy0, (Date.now() - started) / 1000, [r.cpuSeconds, backend.cpu()]);
  m.verified = { method: 'psql reported COPY <rows>', expected: w.rows, seen: Number.isFinite(copied) ? copied : 0, ok: copied === w.rows };
  if (!m.verified.ok) {
    m.status = 'failed';
    m.error = `psql copied ${r.output.trim().split('\n').pop() ?? '?'}, expected ${w.rows}`;
  }
  m.notes.push("text format; psql's run time incl. connecting; CPU and RSS: psql's; PostgreSQL CPU: the COPY's backend");
  return m;
}

/**
 * Counts a snapshot's topic. A broker restarted under the consumer (another session's fault test)
 * stalls it past its idle limit and leaves the count short: then, and only then, it counts again
 * (up to twice). A short count without a restart stands.
 */
async function countExactly(w: WorkloadSpec, system: SystemId, topic: string): Promise<SnapshotCount & { attempts: number; shortCounts: number[] }> {
  const shortCounts: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const t = Date.now();
    const before = (await stableServices()).kafka;
    const count = await countSnapshotTopic(services.brokers, services.registryUrl, topic, w.rows);
    log(`(${w.id}) ${system}: counted ${count.records.toLocaleString('en-US')} records in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const restarted = serviceIdentities().kafka !== before;
    if (count.records >= w.rows || !restarted || attempt === 3) return { ...count, attempts: attempt, shortCounts };
    shortCounts.push(count.records);
    log(`(${w.id}) ${system}: Kafka restarted during the count (another session's fault test?): counting again`);
  }
}

/**
 * One snapshotting system (walcast at WALCAST_SNAPSHOT_MAX_THREADS n with initial_only, or
 * Debezium with snapshot.mode=initial): timed from its "snapshot starts" line to the last row
 * visible (walcast: the line it logs after its last Kafka commit; Debezium: topic end offset =
 * rows), then counted by a read_committed consumer.
 */
async function snapshotCdc(w: WorkloadSpec, system: SystemId, repeat: number, j: CdcJob): Promise<Measurement> {
  const runner = SNAPSHOT_RUNNERS[system];
  if (!runner) throw new Error(`${system} does not snapshot`);
  const m = emptyMeasurement(w.id, system, repeat, 'ok');
  m.events = w.rows;
  const topic = `${j.topicPrefix}.${j.schema}.${j.table}`;
  await kafka.createTopic(topic);
  slots.add(j.slot); // the system creates it; the run drops it
  const spawnedAt = Date.now();
  const walcast = runner.program === 'walcast';
  const revision = walcast ? walcastRevision() : null;
  const settings = { threads: runner.threads };
  const cdc = walcast ? await startWalcast(tooling, j, ROOT, settings) : await startDebezium(tooling, j, runner.program === 'debezium-avro' ? 'avro' : 'json', settings);
  children.add(cdc.proc);
  noteCommit(m, revision);
  const marks = cdc.snapshot!;
  const backends = BackendCpu.ofProcess(db, cdc.proc.pid, servicePorts.postgres);
  const state = { committed: false };
  void marks.committed?.then(() => (state.committed = true), () => undefined);
  try {
    await marks.started;
    const t0 = Date.now();
    m.startupSeconds = round((t0 - spawnedAt) / 1000, 1);
    const cpu0 = sampleProc(cdc.proc.pid);
    const broker0 = brokerSample();
    const busy0 = machineBusySeconds();
    await backends.poll();
    let last = cpu0;
    const deadline = t0 + 30 * 60_000;
    let seen = 0;
    for (;;) {
      const s = sampleProc(cdc.proc.pid);
      if (s) last = s;
      await backends.poll();
      if (marks.committed) {
        if (state.committed) break;
        if (cdc.proc.child.exitCode !== null) {
          // the exit may be noticed before the last line is read
          await Promise.race([marks.committed, sleep(2000)]).catch(() => undefined);
          if (!state.committed) throw new Error(`${system} exited with code ${cdc.proc.child.exitCode} before its last commit:\n${cdc.proc.tail()}`);
          break;
        }
      } else {
        if (cdc.proc.child.exitCode !== null) throw new Error(`${system} exited with code ${cdc.proc.child.exitCode}:\n${cdc.proc.tail()}`);
        seen = await kafka.highWatermark(topic);
        if (seen >= w.rows) break;
      }
      if (Date.now() > deadline) throw new Error(`${system} did not finish the snapshot within 30 minutes (${seen} records)`);
      await sleep(marks.committed ? 25 : 50);
    }
    const t1 = Date.now();
    // walcast exits right after its last commit: then its last sample (<= 25 ms earlier) stands
    const end = sampleProc(cdc.proc.pid) ?? last;
    const broker1 = brokerSample();
    const busy1 = machineBusySeconds();
    const pgCpu = backends.cpu();
    m.seconds = round((t1 - t0) / 1000, 2);
    m.rowsPerSec = round(w.rows / ((t1 - t0) / 1000));
    m.cpuSeconds = end && cpu0 ? round(end.cpuSeconds - cpu0.cpuSeconds, 2) : null;
    m.cpuPerMillion = perMillion(m.cpuSeconds, w.rows);
    m.peakRssMb = end ? round(end.peakRssMb) : null;
    m.postgresCpuPerMillion = perMillion(pgCpu, w.rows);
    m.brokerCpuPerMillion = broker0 && broker1 ? perMillion(broker1.cpuSeconds - broker0.cpuSeconds, w.rows) : null;
    m.otherLoadCores = otherLoad(busy1 - busy0, (t1 - t0) / 1000, [m.cpuSeconds, pgCpu, broker0 && broker1 ? broker1.cpuSeconds - broker0.cpuSeconds : null]);
    m.notes.push(`${backends.backends} PostgreSQL backend(s)`);
    if (walcast) {
      // WALCAST_SNAPSHOT_MODE=initial_only: the process ends by itself, with 0
      const exit = await Promise.race([cdc.proc.exited, sleep(60_000).then(() => null)]);
      if (exit === null) m.notes.push('**did not exit within 60 s of its last commit** (initial_only)');
      else if (exit.code !== 0) {
        m.status = 'failed';
        m.error = `exited with code ${exit.code} (signal ${exit.signal}) after the snapshot; initial_only should exit 0`;
      } else m.notes.push('exited 0 (initial_only)');
      const complete = marks.completeLine();
      let fields: { rows?: number; seconds?: number } | null = null;
      try {
        fields = complete ? (JSON.parse(complete) as { rows?: number; seconds?: number }) : null;
      } catch {
        fields = {};
      }
      m.notes.push(fields ? `its log: snapshot complete, ${fields.rows ?? '?'} rows in ${fields.seconds ?? '?'} s` : '**no "snapshot complete" line**');
    }
  } finally {
    await cdc.proc.stop('SIGTERM', 30_000);
    children.delete(cdc.proc);
  }
  // The exact count a read_committed consumer gets (after the timed window).
  const count = await countExactly(w, system, topic);
  const ok = count.records === w.rows && count.reads === w.rows && count.distinctIds === w.rows;
  m.verified = { method: 'read_committed consumer: records = op r events = distinct ids = rows', expected: w.rows, seen: count.distinctIds, ok };
  if (count.attempts > 1) m.notes.push(`counted ${count.attempts} times: Kafka restarted during the count (${count.shortCounts.join(', ')} records before)`);
  if (!ok) {
    m.status = 'failed';
    m.error =
      `read_committed consumer: ${count.records} records, ${count.reads} op r, ${count.distinctIds} distinct ids, ${count.duplicates} duplicates, ` +
      `${count.other} other (expected ${w.rows})${count.firstError ? `: ${count.firstError}` : ''}`;
  }
  if (walcast) {
    if (tooling.walcastNodeFlags.includes('--cpu-prof')) reportProfile(m);
    const extraFlags = tooling.walcastNodeFlags.filter((f) => !f.startsWith('--cpu-prof'));
    if (extraFlags.length) m.notes.push(`node ${extraFlags.join(' ')}`);
    for (const [name, setting] of Object.entries(tooling.walcastEnv)) m.notes.push(`${name}=${setting}`);
  }
  return m;
}

// ------------------------------------------------------------------ the sink workload (s)
/**
 * (s): walcast publishes the workload's changes once (the source side is not measured); then the
 * COPY ceiling and each sink in turn read that same topic into their own pre-created table.
 */
async function runSink(w: WorkloadSpec, systems: SystemId[], repeat: number, out: Measurement[], meta: BenchResults['workloads'][number]): Promise<void> {
  const schema = runId;
  const source = `${ident(schema)}.${ident(w.table)}`;
  log(`(${w.id}) ${w.title}: creating ${schema}.${w.table}; walcast publishes the changes once, for every sink`);
  await createSinkSource(db, schema, w);
  await db.query(`create publication ${ident(`${runId}_${w.id}`)} for table ${source}`);
  const src = job(w, 'walcast', 1);
  const topic = `${src.topicPrefix}.${src.schema}.${src.table}`;
  await kafka.createTopic(topic);
  slots.add(src.slot);
  const publisher = await startCdc('walcast', src);
  let written: SinkWritten;
  try {
    await publisher.streaming;
    log(`(${w.id}) writing ${w.rows.toLocaleString('en-US')} changes`);
    written = await writeSinkWorkload(db, schema, w);
    meta.writeSeconds = round(written.seconds, 1) ?? undefined;
    log(`(${w.id}) written in ${written.seconds.toFixed(1)} s; waiting for walcast to publish them`);
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const info = await db.slotInfo(src.slot);
      if (info?.confirmed && info.confirmed > written.lastLsn) break;
      if (publisher.proc.child.exitCode !== null) throw new Error(`walcast (publishing the changes) exited with code ${publisher.proc.child.exitCode}:\n${publisher.proc.tail()}`);
      if (Date.now() > deadline) throw new Error('walcast did not publish the changes within 30 minutes');
      await sleep(200);
    }
  } finally {
    await stopCdc(publisher);
  }
  await dropSlot(src.slot);
  const topicEnd = await kafka.highWatermark(topic);
  const finalRows = Number((await db.query<{ n: string }>(`select count(*)::text as n from ${source}`))[0]!.n);
  log(`(${w.id}) ${topic}: ${topicEnd.toLocaleString('en-US')} records (changes, tombstones, transaction markers); ${finalRows.toLocaleString('en-US')} rows in the source`);
  for (const { system, repeat: r } of measurementOrder(systems, repeat)) {
    if (stopRequested) break;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const name = job(w, system, r, attempt).name;
      log(`(${w.id}) ${SYSTEM_LABELS[system]}${repeat > 1 ? ` #${r}` : ''}${attempt > 1 ? ' (again)' : ''} ...`);
      const before = await stableServices();
      let m: Measurement;
      try {
        m = system === 'copy-in' ? await copyInCeiling(w, r, name, source) : await sinkOne(w, system, r, name, { topic, end: topicEnd, source, written }, before);
      } catch (error) {
        m = emptyMeasurement(w.id, system, r, 'failed');
        m.events = written.events;
        m.error = (error as Error).message.split('\n')[0]!.slice(0, 400);
        log(`(${w.id}) ${system} FAILED: ${(error as Error).message}`);
      }
      if (discardIfRestarted(w, system, m, before, attempt, out)) continue;
      if (attempt > 1) m.notes.push('second attempt (a service restarted during the first)');
      if (m.otherLoadCores !== null && m.otherLoadCores >= 0.25) m.notes.push(`other load on the machine ~${m.otherLoadCores} cores`);
      out.push(m);
      log(`(${w.id}) ${system}: ${describe(m)}`);
      break;
    }
  }
}

/** A target table of (s) in the run's schema, made like the source (columns, primary key). */
async function sinkTarget(w: WorkloadSpec, name: string, source: string): Promise<{ bare: string; quoted: string }> {
  const bare = `${w.table}_${name.slice(runId.length + 1)}`;
  const quoted = `${ident(runId)}.${ident(bare)}`;
  await db.query(`create table ${quoted} (like ${source} including all)`);
  return { bare, quoted };
}

/** The ceiling of (s): the source's final rows, COPY TO STDOUT piped into COPY FROM STDIN of an empty keyed table. */
async function copyInCeiling(w: WorkloadSpec, repeat: number, name: string, source: string): Promise<Measurement> {
  const m = emptyMeasurement(w.id, 'copy-in', repeat, 'ok');
  const target = await sinkTarget(w, name, source);
  const rows = Number((await db.query<{ n: string }>(`select count(*)::text as n from ${source}`))[0]!.n);
  m.events = rows;
  const from = new pg.Client({ connectionString: services.pgUrl, application_name: `${name}_out` });
  const into = new pg.Client({ connectionString: services.pgUrl, application_name: name });
  await from.connect();
  await into.connect();
  const backend = BackendCpu.ofApplication(db, name);
  await backend.poll();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const stopSampling = pollEvery(20, () => backend.poll());
  try {
    await pipeline(from.query(copyStreams.to(`copy ${source} to stdout`)), into.query(copyStreams.from(`copy ${target.quoted} from stdin`)));
  } finally {
    await stopSampling();
    await from.end().catch(() => undefined);
    await into.end().catch(() => undefined);
  }
  const seconds = (performance.now() - t0) / 1000;
  m.seconds = round(seconds, 2);
  m.rowsPerSec = round(rows / seconds);
  m.postgresCpuPerMillion = perMillion(backend.cpu(), rows);
  m.otherLoadCores = otherLoad(machineBusySeconds() - busy0, seconds, [backend.cpu()]);
  const copied = Number((await db.query<{ n: string }>(`select count(*)::text as n from ${target.quoted}`))[0]!.n);
  m.verified = { method: 'rows in the target', expected: rows, seen: copied, ok: copied === rows };
  if (!m.verified.ok) {
    m.status = 'failed';
    m.error = `copied ${copied} rows, expected ${rows}`;
  }
  m.notes.push('text format, through the benchmark process; the target has the primary key; PostgreSQL CPU: the COPY FROM backend');
  return m;
}

interface SinkInput {
  topic: string;
  /** The topic's end offset (changes, tombstones and transaction markers). */
  end: number;
  source: string;
  written: SinkWritten;
}

/**
 * One sink (walcast's or Debezium's JDBC sink) reading the topic from the start into its own
 * table: timed from the first row visible in the target to the last transaction's insert present
 * and its delete applied (polled every 25 ms), then checked: target = source row by row, and the
 * sink's consumed offsets at the topic's end.
 */
async function sinkOne(w: WorkloadSpec, system: SystemId, repeat: number, name: string, input: SinkInput, services0: Identities): Promise<Measurement> {
  const m = emptyMeasurement(w.id, system, repeat, 'ok');
  m.events = input.written.events;
  const target = await sinkTarget(w, name, input.source);
  const sinkJob: SinkJob = { name, topic: input.topic, table: `${runId}.${target.bare}`, offsetsTable: `${runId}.${target.bare}_offsets` };
  const walcast = system === 'walcast-sink';
  const revision = walcast ? walcastRevision() : null;
  const spawnedAt = Date.now();
  const proc = walcast ? await startWalcastSink(tooling, sinkJob) : await startDebeziumJdbcSink(tooling, sinkJob);
  children.add(proc);
  noteCommit(m, revision);
  // Connect keeps running with a failed task (e.g. after PostgreSQL restarted under it): that ends the measurement too.
  let taskFailed: string | null = null;
  void proc.waitForLine(/Task threw an uncaught and unrecoverable exception/, 2 * 60 * 60_000, 'a failed task').then((l) => (taskFailed = l), () => undefined);
  const exited = (): void => {
    if (proc.child.exitCode !== null) throw new Error(`${system} exited with code ${proc.child.exitCode}:\n${proc.tail()}`);
    if (taskFailed !== null) throw new Error(`${system}'s task failed: ${taskFailed}`);
    // Another session's fault test restarted a service the sink needs: the measurement is run again
    // (discardIfRestarted). Checked once a second: each check runs `ss` three times.
    if (Date.now() - servicesCheckedAt < 1000) return;
    servicesCheckedAt = Date.now();
    const restarted = changedServices(services0, serviceIdentities(), DEPENDS_ON[system]);
    if (restarted.length > 0) throw new Error(`${restarted.join(', ')} restarted during the measurement`);
  };
  let servicesCheckedAt = 0;
  try {
    const startDeadline = Date.now() + 5 * 60_000;
    for (;;) {
      if ((await db.query<{ e: boolean }>(`select exists(select 1 from ${target.quoted}) as e`))[0]?.e) break;
      exited();
      if (Date.now() > startDeadline) throw new Error(`${system} wrote no row within 5 minutes:\n${proc.tail()}`);
      await sleep(25);
    }
    const t0 = Date.now();
    m.startupSeconds = round((t0 - spawnedAt) / 1000, 1);
    const cpu0 = sampleProc(proc.pid);
    const broker0 = brokerSample();
    const busy0 = machineBusySeconds();
    const backends = BackendCpu.ofProcess(db, proc.pid, servicePorts.postgres);
    await backends.poll();
    let last = cpu0;
    const deadline = t0 + 60 * 60_000;
    for (;;) {
      const s = sampleProc(proc.pid);
      if (s) last = s;
      await backends.poll();
      const state = (await db.query<{ ins: boolean; del: boolean }>(
        `select exists(select 1 from ${target.quoted} where id = $1) as ins, exists(select 1 from ${target.quoted} where id = $2) as del`,
        [input.written.lastInsertedId, input.written.lastDeletedId],
      ))[0];
      if (state?.ins && !state.del) break;
      exited();
      if (Date.now() > deadline) throw new Error(`${system} did not apply every change within 60 minutes`);
      await sleep(25);
    }
    const t1 = Date.now();
    const end = sampleProc(proc.pid) ?? last;
    const broker1 = brokerSample();
    const pgCpu = backends.cpu();
    const events = input.written.events;
    m.seconds = round((t1 - t0) / 1000, 2);
    m.rowsPerSec = round(events / ((t1 - t0) / 1000));
    m.cpuSeconds = end && cpu0 ? round(end.cpuSeconds - cpu0.cpuSeconds, 2) : null;
    m.cpuPerMillion = perMillion(m.cpuSeconds, events);
    m.peakRssMb = end ? round(end.peakRssMb) : null;
    m.postgresCpuPerMillion = perMillion(pgCpu, events);
    m.brokerCpuPerMillion = broker0 && broker1 ? perMillion(broker1.cpuSeconds - broker0.cpuSeconds, events) : null;
    m.otherLoadCores = otherLoad(machineBusySeconds() - busy0, (t1 - t0) / 1000, [m.cpuSeconds, pgCpu, broker0 && broker1 ? broker1.cpuSeconds - broker0.cpuSeconds : null]);
    m.notes.push(`${backends.backends} PostgreSQL backend(s)`);
    // The offsets the sink consumed reach the topic's end (the last record is a transaction marker).
    const consumed = async (): Promise<number> =>
      walcast
        ? Number((await db.query<{ n: string | null }>(`select max(next_offset)::text as n from ${ident(runId)}.${ident(`${target.bare}_offsets`)} where topic = $1`, [input.topic]))[0]?.n ?? 0)
        : await kafka.committedOffset(`connect-${name}`, input.topic);
    const offsetDeadline = Date.now() + 30_000;
    let offset = await consumed();
    while (offset < input.end - 1 && Date.now() < offsetDeadline) {
      await sleep(200);
      offset = await consumed();
    }
    m.notes.push(`consumed offset ${offset.toLocaleString('en-US')} of ${input.end.toLocaleString('en-US')}${walcast ? ' (its offsets table)' : ' (its consumer group, committed every second)'}`);
    if (offset < input.end - 1) {
      m.status = 'failed';
      m.error = `the sink's consumed offset ${offset} stayed below the topic's end ${input.end - 1}`;
    }
  } finally {
    await proc.stop('SIGTERM', 30_000);
    children.delete(proc);
  }
  const diff = (await db.query<{ d: string; n: string }>(
    `select ((select count(*) from (table ${input.source} except table ${target.quoted}) a) + (select count(*) from (table ${target.quoted} except table ${input.source}) b))::text as d,
            (select count(*) from ${input.source})::text as n`,
  ))[0]!;
  const differing = Number(diff.d);
  const rows = Number(diff.n);
  m.verified = { method: 'target = source row by row (EXCEPT both ways)', expected: rows, seen: Math.max(0, rows - differing), ok: differing === 0 };
  if (!m.verified.ok) {
    m.status = 'failed';
    m.error = `${differing} rows differ between the target and the source (${rows} rows)`;
  }
  if (walcast) {
    if (tooling.walcastNodeFlags.includes('--cpu-prof')) reportProfile(m);
    const extraFlags = tooling.walcastNodeFlags.filter((f) => !f.startsWith('--cpu-prof'));
    if (extraFlags.length) m.notes.push(`node ${extraFlags.join(' ')}`);
    for (const [k, v] of Object.entries(tooling.walcastEnv)) m.notes.push(`${k}=${v}`);
  }
  return m;
}

function describe(m: Measurement): string {
  if (m.status !== 'ok') return `${m.status}: ${m.error ?? ''}`;
  const parts = [`${m.rowsPerSec?.toLocaleString('en-US')} rows/s`];
  if (m.seconds !== null) parts.push(`${m.seconds} s`);
  if (m.latencyMs) parts.push(`latency p50 ${m.latencyMs.p50} / p99 ${m.latencyMs.p99} / max ${m.latencyMs.max} ms`);
  if (m.peakRssMb !== null) parts.push(`peak RSS ${m.peakRssMb} MB`);
  if (m.cpuPerMillion !== null) parts.push(`${m.cpuPerMillion} CPU-s/M`);
  if (m.startupSeconds !== null) parts.push(`startup ${m.startupSeconds} s`);
  if (m.verified) parts.push(`verified: ${m.verified.ok ? 'ok' : `NO (${m.verified.seen}/${m.verified.expected})`}`);
  return parts.join(', ');
}

// ------------------------------------------------------------------ cleanup
async function deleteSubjects(prefix: string): Promise<void> {
  try {
    const base = services.registryUrl.replace(/\/+$/, '');
    const subjects = (await (await fetch(`${base}/subjects`, { signal: AbortSignal.timeout(10_000) })).json()) as string[];
    for (const s of subjects.filter((x) => x.startsWith(prefix))) {
      await fetch(`${base}/subjects/${encodeURIComponent(s)}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      await fetch(`${base}/subjects/${encodeURIComponent(s)}?permanent=true`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    }
  } catch {
    // best effort: the registry keeps schemas in memory only
  }
}

async function cleanupWorkload(w: WorkloadSpec): Promise<void> {
  for (const s of [...slots]) if (s.startsWith(`${runId}_${w.id}_`)) await dropSlot(s);
  await db.query(`drop publication if exists ${ident(`${runId}_${w.id}`)}`).catch(() => undefined);
  await db.query(`drop table if exists ${ident(runId)}.${ident(w.table)} cascade`).catch(() => undefined);
  if (w.mode === 'sink') {
    // the sinks' targets and offsets tables (<table>_<system>...)
    for (const r of await db.query<{ t: string }>('select tablename as t from pg_tables where schemaname = $1 and tablename like $2', [runId, `${w.table}\\_%`]).catch(() => [])) {
      await db.query(`drop table if exists ${ident(runId)}.${ident(r.t)} cascade`).catch(() => undefined);
    }
  }
  await kafka.deleteTopicsWithPrefix(`${runId}_${w.id}_`).catch(() => undefined);
  await deleteSubjects(`${runId}_${w.id}_`);
}

async function cleanupRun(): Promise<void> {
  for (const c of [...children]) await c.stop('SIGTERM', 15_000).catch(() => undefined);
  for (const s of [...slots]) await dropSlot(s);
  // and any slot of this run the bookkeeping missed (an abandoned slot retains WAL forever)
  for (const r of (await db?.query<{ slot_name: string }>('select slot_name from pg_replication_slots where slot_name like $1', [`${runId}\\_%`]).catch(() => [])) ?? []) {
    await dropSlot(r.slot_name);
  }
  await db?.query(`drop schema if exists ${ident(runId)} cascade`).catch(() => undefined);
  for (const r of (await db?.query<{ pubname: string }>('select pubname from pg_publication where pubname like $1', [`${runId}\\_%`]).catch(() => [])) ?? []) {
    await db.query(`drop publication if exists ${ident(r.pubname)}`).catch(() => undefined);
  }
  await kafka?.deleteTopicsWithPrefix(runId).catch(() => undefined);
  if (services) await deleteSubjects(runId);
}

/** Leftovers of interrupted runs older than 3 hours (a full run takes < 30 minutes; a concurrent run is left alone). */
async function cleanupStale(): Promise<void> {
  const isStale = (name: string): boolean => {
    const m = /^wcbench_([0-9a-z]+)/.exec(name);
    if (!m) return false;
    const t = parseInt(m[1]!, 36);
    return Number.isFinite(t) && Date.now() - t > 3 * 3600_000;
  };
  const dropped: string[] = [];
  for (const r of await db.query<{ slot_name: string }>(`select slot_name from pg_replication_slots where slot_name like 'wcbench\\_%' and not active`)) {
    if (isStale(r.slot_name)) {
      await db.query('select pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
      dropped.push(`slot ${r.slot_name}`);
    }
  }
  for (const r of await db.query<{ pubname: string }>(`select pubname from pg_publication where pubname like 'wcbench\\_%'`)) {
    if (isStale(r.pubname)) {
      await db.query(`drop publication if exists ${ident(r.pubname)}`);
      dropped.push(`publication ${r.pubname}`);
    }
  }
  for (const r of await db.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'wcbench\\_%'`)) {
    if (isStale(r.nspname)) {
      await db.query(`drop schema if exists ${ident(r.nspname)} cascade`);
      dropped.push(`schema ${r.nspname}`);
    }
  }
  const topics = (await kafka.listTopics(RUN_PREFIX)).filter(isStale);
  if (topics.length) await kafka.deleteTopics(topics).catch(() => undefined);
  if (dropped.length || topics.length) log(`removed leftovers of earlier runs: ${[...dropped, ...topics.map((t) => `topic ${t}`)].join(', ')}`);
}

// ------------------------------------------------------------------ main
/**
 * pgstream v1.3.1 built from its Go module and Debian's wal2json for this server's major version
 * (bench/lib/fetch-pgstream.sh, cached under ~/.cache/walcast/bench), or why not.
 */
async function preparePgstream(): Promise<{ binary: string; wal2jsonDir: string } | { error: string }> {
  const major = Math.floor(Number((await db.query<{ v: string }>("select current_setting('server_version_num') as v"))[0]?.v) / 10000);
  log(`building/fetching pgstream 1.3.1 and wal2json for PostgreSQL ${major} (bench/lib/fetch-pgstream.sh)`);
  const r = spawnSync('bash', [join(BENCH, 'lib', 'fetch-pgstream.sh'), String(major), join(ROOT, '.local', 'bench', 'pglib')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kv: Record<string, string> = {};
  for (const line of (r.stdout ?? '').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  if (kv['PGSTREAM_ERROR']) return { error: kv['PGSTREAM_ERROR'] };
  if (r.status !== 0 || !kv['PGSTREAM_BIN'] || !kv['WAL2JSON_DIR']) return { error: `bench/lib/fetch-pgstream.sh exited with ${r.status ?? r.signal}` };
  return { binary: kv['PGSTREAM_BIN'], wal2jsonDir: kv['WAL2JSON_DIR'] };
}

function javaVersion(java: string): string {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  return /version "([^"]+)"/.exec(r.stderr ?? '')?.[1] ?? 'unknown';
}

function targets(summary: Measurement[], ratios: BenchResults['ratios'], snapshots: NonNullable<BenchResults['snapshot']>, sinks: SinkRatios[]): BenchResults['targets'] {
  const get = (w: WorkloadId, s: SystemId): Measurement | undefined => summary.find((m) => m.workload === w && m.system === s && m.status === 'ok');
  const out: BenchResults['targets'] = [];
  const a = get('a', 'walcast');
  const ra = ratios.find((r) => r.workload === 'a');
  if (a?.rowsPerSec) out.push({ target: '(a) walcast >= 100k rows/s', value: `${Math.round(a.rowsPerSec).toLocaleString('en-US')} rows/s`, met: a.rowsPerSec >= 100_000 });
  const deb = ra?.vsDebeziumAvro ?? ra?.vsDebeziumJson ?? null;
  if (deb !== null && ra) out.push({ target: '(a) walcast >= 3x Debezium', value: `${ra.vsDebeziumAvro ?? '–'}x Avro, ${ra.vsDebeziumJson ?? '–'}x JSON`, met: deb >= 3 });
  if (ra?.vsLowerCeiling) out.push({ target: '(a) walcast >= 1/2 of the lower ceiling', value: `${ra.vsLowerCeiling}x`, met: ra.vsLowerCeiling >= 0.5 });
  const d = get('d', 'walcast');
  if (d?.latencyMs) {
    out.push({ target: '(d) walcast p99 <= 30 ms', value: `${d.latencyMs.p99} ms`, met: d.latencyMs.p99 <= 30 });
    out.push({ target: '(d) walcast p50 <= 10 ms', value: `${d.latencyMs.p50} ms`, met: d.latencyMs.p50 <= 10 });
  }
  const b = get('b', 'walcast');
  if (b?.peakRssMb) out.push({ target: '(b) walcast peak RSS < 200 MB', value: `${b.peakRssMb} MB`, met: b.peakRssMb < 200 });
  const b2 = get('b2', 'walcast');
  if (b2?.peakRssMb) out.push({ target: '(b2, not in the issue) walcast peak RSS < 200 MB, 2x the transaction', value: `${b2.peakRssMb} MB`, met: b2.peakRssMb < 200 });
  for (const e of snapshots) {
    const best = e.walcastBest;
    if (!best) continue;
    const bestOf = `walcast's best: ${best.threads} thread${best.threads === 1 ? '' : 's'}`;
    const vsDebezium = [e.vsDebeziumAvro, e.vsDebeziumJson].filter((x): x is number => x !== null);
    // against the faster of Debezium's rows (converter and snapshot.max.threads)
    if (vsDebezium.length) out.push({ target: `(${e.workload}) snapshot: walcast >= 5x Debezium`, value: `${e.vsDebeziumAvro ?? '–'}x Avro, ${e.vsDebeziumJson ?? '–'}x JSON (${bestOf}; Debezium's best of default threads and 2)`, met: Math.min(...vsDebezium) >= 5 });
    if (e.vsCopy !== null) out.push({ target: `(${e.workload}) snapshot: walcast >= 1/2 of the COPY ceiling`, value: `${e.vsCopy}x (${Math.round(e.copyRowsPerSec ?? 0).toLocaleString('en-US')} rows/s)`, met: e.vsCopy >= 0.5 });
    out.push({ target: `(${e.workload}) snapshot: walcast >= 150k rows/s (aim)`, value: `${Math.round(best.rowsPerSec).toLocaleString('en-US')} rows/s (${bestOf})`, met: best.rowsPerSec >= 150_000 });
    if (e.walcastMaxPeakRssMb !== null) out.push({ target: `(${e.workload}) snapshot: walcast peak RSS < 250 MB`, value: `${e.walcastMaxPeakRssMb} MB (highest of ${e.walcastByThreads.map((t) => t.threads).join('/')} threads)`, met: e.walcastMaxPeakRssMb < 250 });
  }
  for (const x of sinks) {
    if (x.walcastRowsPerSec !== null) out.push({ target: `(${x.workload}) sink: walcast >= 50k changes/s exactly-once`, value: `${Math.round(x.walcastRowsPerSec).toLocaleString('en-US')} changes/s`, met: x.walcastRowsPerSec >= 50_000 });
    if (x.vsDebezium !== null) out.push({ target: `(${x.workload}) sink: walcast >= 5x Debezium's JDBC sink`, value: `${x.vsDebezium}x`, met: x.vsDebezium >= 5 });
    if (x.vsCopy !== null) out.push({ target: `(${x.workload}) sink: walcast >= 1/4 of the COPY ceiling (aim)`, value: `${x.vsCopy}x (${Math.round(x.copyRowsPerSec ?? 0).toLocaleString('en-US')} rows/s)`, met: x.vsCopy >= 0.25 });
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const specs = workloadSpecs({ quick: args.quick, liveSeconds: args.liveSeconds ?? (args.quick ? 10 : 30), liveTxnRows: args.liveTxnRows });
  const chosen = specs.filter((w) => !args.workloads || args.workloads.includes(w.id));
  /** Why pgstream cannot run here (no Go toolchain, no wal2json for this server...): its rows are skipped. */
  let pgstreamUnavailable: string | null = null;
  const wanted = (w: WorkloadSpec): SystemId[] =>
    w.systems.filter((s) => (!args.only || args.only.includes(s)) && (s !== 'walcast-baseline' || args.baseline !== null));
  const systemsFor = (w: WorkloadSpec): SystemId[] => wanted(w).filter((s) => !(pgstreamUnavailable !== null && isPgstream(s)));
  const complete = !args.quick && !args.workloads && !args.only && args.walcastNodeFlags.length === 0 && Object.keys(args.walcastEnv).length === 0 && args.baseline === null;
  const notes: string[] = [];
  // first: a baseline that cannot be built (unknown ref, other dependencies) stops the run before anything starts
  if (args.baseline !== null && chosen.some((w) => systemsFor(w).includes('walcast-baseline'))) baseline = prepareBaseline(args.baseline);

  if (args.services) {
    log('starting the local services (bash scripts/services.sh up)');
    execFileSync('bash', [join(ROOT, 'scripts', 'services.sh'), 'up'], { stdio: 'inherit' });
  }
  services = readServicesEnv();
  startRevision = walcastRevision();
  if (chosen.some((w) => w.mode === 'sink' || systemsFor(w).some((x) => x === 'walcast' || SNAPSHOT_RUNNERS[x]?.program === 'walcast'))) {
    // bin/walcast.js runs dist/ when it exists, as the container does: build it from the sources
    // under test so a stale dist/ is never what gets measured.
    log('compiling walcast (npm run build): the benchmark runs the compiled code, as the container does');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const runDir = join(ROOT, '.local', 'bench', runId);
  mkdirSync(runDir, { recursive: true });
  const needsJars = chosen.some((w) => systemsFor(w).some((s) => s.startsWith('debezium')));
  const jars = needsJars ? fetchJars() : NO_JARS;
  if (needsJars && !jars.debeziumAvailable) notes.push('Debezium/Connect jars could not be fetched: Debezium rows failed (see bench/lib/fetch.sh output)');
  if (needsJars && chosen.some((w) => systemsFor(w).includes('debezium-jdbc')) && !jars.debeziumJdbcAvailable) notes.push("Debezium's JDBC sink jars could not be fetched: its rows failed (see bench/lib/fetch.sh output)");
  if (needsJars && !jars.apicurioConverter) notes.push(`Apicurio's AvroConverter could not be resolved from Maven Central (${jars.converterError ?? 'see ~/.cache/walcast/bench/apicurio-converter.mvn.log'}); "Debezium + Avro" ran with JsonConverter`);
  if (baseline) {
    const ours = walcastLauncherFlags();
    const theirs = walcastLauncherFlags(baseline.dir);
    if (ours.join(' ') !== theirs.join(' ')) {
      notes.push(`Each build ran with its own bin/walcast.js flags: the baseline with node ${theirs.join(' ') || '(no flags)'}, this tree with ${ours.join(' ') || '(no flags)'}.`);
    }
  }
  tooling = {
    services, runDir, connectLibs: jars.connectLibs, pluginPath: jars.pluginPath, debeziumAvailable: jars.debeziumAvailable, debeziumJdbcAvailable: jars.debeziumJdbcAvailable,
    apicurioConverter: jars.apicurioConverter,
    walcastNodeFlags: [...args.walcastNodeFlags, ...(args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(runDir, 'profiles')}`] : [])],
    walcastEnv: args.walcastEnv,
    pgstream: null,
  };
  servicePorts = {
    postgres: Number(new URL(services.pgUrl).port || 5432),
    kafka: Number(services.brokers[0]!.split(':').pop()),
    registry: Number(new URL(services.registryUrl).port || 80),
  };
  brokerPid = portOwner(servicePorts.kafka);

  db = await Db.connect(services.pgUrl);
  kafka = await KafkaAdmin.connect(services.brokers);
  if (chosen.some((w) => systemsFor(w).some(isPgstream))) {
    const prepared = await preparePgstream();
    if ('error' in prepared) {
      pgstreamUnavailable = prepared.error;
      notes.push(`pgstream skipped: ${prepared.error}`);
      log(`pgstream skipped: ${prepared.error}`);
    } else {
      tooling.pgstream = prepared;
      await db.addLibraryDir(prepared.wal2jsonDir);
    }
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) process.exit(130);
    stopRequested = signal;
    log(`${signal}: stopping the system under measurement; the results measured so far are written (partial), then this run's slots, publications, tables and topics are removed (again to exit at once)`);
    for (const c of [...children]) void c.stop('SIGTERM', 15_000).catch(() => undefined);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await cleanupStale();
  await checkSlotsSuffice(chosen, systemsFor, args.repeat);
  await db.query(`create schema ${ident(runId)}`);
  log(`run ${runId}: workloads ${chosen.map((w) => w.id).join(', ')}${args.quick ? ' (quick sizes)' : ''}; logs in ${runDir}`);

  const measurements: Measurement[] = [];
  const workloadMeta: BenchResults['workloads'] = [];
  try {
    for (const w of chosen) {
      if (stopRequested) break;
      const meta: BenchResults['workloads'][number] = { id: w.id, title: w.title, short: w.short, mode: w.mode, rows: w.rows, txnRows: w.txnRows, note: w.note };
      workloadMeta.push(meta);
      const systems = systemsFor(w);
      if (pgstreamUnavailable !== null) {
        for (const system of wanted(w).filter(isPgstream)) {
          const m = emptyMeasurement(w.id, system, 1, 'skipped');
          m.error = `pgstream unavailable: ${pgstreamUnavailable}`;
          measurements.push(m);
        }
      }
      if (systems.length === 0) continue;
      try {
        await stableServices();
        if (w.mode === 'catchup') await runCatchup(w, systems, args.repeat, measurements, meta);
        else if (w.mode === 'snapshot') await runSnapshot(w, systems, args.repeat, measurements, meta);
        else if (w.mode === 'sink') await runSink(w, systems, args.repeat, measurements, meta);
        else await runLive(w, systems, args.repeat, measurements);
      } catch (error) {
        // e.g. PostgreSQL restarted (another session's fault test) while the workload was written
        log(`(${w.id}) FAILED: ${(error as Error).stack ?? String(error)}`);
        for (const system of systems) {
          if (measurements.some((m) => m.workload === w.id && m.system === system && m.status !== 'skipped')) continue;
          const m = emptyMeasurement(w.id, system, 1, 'failed');
          m.error = `workload failed before this system ran: ${(error as Error).message.split('\n')[0]!.slice(0, 300)}`;
          measurements.push(m);
        }
      } finally {
        await cleanupWorkload(w);
      }
    }
  } finally {
    await cleanupRun();
  }

  const summary = summarize(measurements);
  const ratios = computeRatios(summary, chosen.filter((w) => w.mode === 'catchup').map((w) => w.id));
  const snapshotRatios = computeSnapshotRatios(summary, chosen.filter((w) => w.mode === 'snapshot' && systemsFor(w).length > 0).map((w) => w.id));
  const sinkRatios = computeSinkRatios(summary, chosen.filter((w) => w.mode === 'sink' && systemsFor(w).length > 0).map((w) => w.id));
  const baselineResults: BenchResults['baseline'] = baseline
    ? { ref: baseline.ref, commit: baseline.commit, walcastCommit: startRevision, dir: baseline.dir, comparisons: computeBaselineComparison(measurements, summary, chosen) }
    : undefined;
  const pgVersion = (await db.query<{ v: string }>("select current_setting('server_version') as v").catch(() => [{ v: '?' }]))[0]?.v ?? '?';
  await db.end();
  await kafka.disconnect();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const kafkajsVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'kafkajs', 'package.json'), 'utf8')) as { version: string }).version;
  const date = new Date(runStarted).toISOString().slice(0, 10);
  const results: BenchResults = {
    runId,
    date,
    quick: args.quick,
    complete: complete && !stopRequested,
    durationSeconds: Math.round((Date.now() - runStarted) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGb: Math.round(totalmem() / 2 ** 30), kernel: `Linux ${release()}` },
    versions: {
      walcast: `${pkg.version} (${startRevision}${walcastLauncherFlags().length ? `, node ${walcastLauncherFlags().join(' ')}` : ''})`, node: process.version, kafkajs: kafkajsVersion, PostgreSQL: pgVersion, Kafka: '4.3.1', 'Kafka Connect': '4.3.1',
      Debezium: '3.7.0.Final',
      ...(chosen.some((w) => systemsFor(w).includes('debezium-jdbc')) ? { "Debezium's JDBC sink": '3.6.0.Final (3.7.0.Final is not on Maven Central)' } : {}),
      ...(tooling.pgstream ? { pgstream: '1.3.1 (wal2json from Debian)' } : {}), 'Apicurio Registry': '3.3.3', 'Apicurio converter': !needsJars ? 'not used' : jars.apicurioConverter ? '2.6.13.Final' : 'unavailable',
      Java: javaVersion(join(services.java21Home, 'bin', 'java')),
      ...(baseline ? { 'walcast baseline': `${baseline.ref} (${baseline.short})` } : {}),
    },
    workloads: workloadMeta,
    measurements,
    summary,
    ratios,
    ...(snapshotRatios.length ? { snapshot: snapshotRatios } : {}),
    ...(sinkRatios.length ? { sink: sinkRatios } : {}),
    ...(baselineResults ? { baseline: baselineResults } : {}),
    targets: targets(summary, ratios, snapshotRatios, sinkRatios),
    notes: [
      ...notes,
      ...(stopRequested ? [`Interrupted (${stopRequested}) after ${Math.round((Date.now() - runStarted) / 1000)} s: nothing was measured afterwards; a measurement in progress then is kept if it completed, else marked skipped.`] : []),
      ...(tooling.pgstream
        ? ['pgstream: `pgstream run --log-level info` (its default level, debug, logs per batch), wal2json slot created by the run, `add-tables` = the workload\'s table, Kafka writer with its defaults (batches of 100, 1.5 MiB) and with PGSTREAM_KAFKA_WRITER_BATCH_SIZE=2500 + BATCH_BYTES=1000000; one topic, keyed by schema (its default), plain JSON, no registry, at-least-once.']
        : []),
      'Debezium exactly-once (exactly.once.source.support) exists only in distributed Connect; standalone, as here, runs at-least-once (its default).',
      'Debezium Avro: Apicurio\'s converter 2.6.13.Final (the newest on Maven Central that resolves; 3.3.3 has no jar there) through the registry\'s v2 API, Confluent wire format (as-confluent). Confluent\'s own converter is not on Maven Central.',
      'Debezium JVM: connect-standalone.sh defaults (-Xms256m -Xmx2g, G1); Connect start-up (~10 s) is reported separately, not in rows/s.',
    ],
  };
  const publish = (complete && !stopRequested) || args.publish;
  const outDir = publish ? join(BENCH, 'results') : join(BENCH, 'results', 'partial');
  mkdirSync(outDir, { recursive: true });
  const stamp = publish ? date : `${new Date(runStarted).toISOString().slice(0, 16).replace('T', '-').replace(':', '')}${args.quick ? '-quick' : ''}`;
  const md = markdown(results);
  writeFileSync(join(outDir, `${stamp}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(outDir, publish ? 'latest.md' : `${stamp}.md`), md);
  writeFileSync(join(outDir, publish ? 'latest.svg' : `${stamp}.svg`), svg(results));
  process.stdout.write('\n' + md + '\n');
  log(`results: ${join(outDir, `${stamp}.json`)}, ${publish ? 'latest.md, latest.svg' : `${stamp}.md, ${stamp}.svg`} in ${outDir}`);
  for (const r of ratios) {
    log(
      `ratios (${r.workload}): walcast ${r.walcastRowsPerSec?.toLocaleString('en-US')} rows/s = ${r.vsDebeziumAvro ?? '–'}x Debezium Avro, ${r.vsDebeziumJson ?? '–'}x Debezium JSON, ` +
        `${r.vsWalsender ?? '–'}x walsender ceiling, ${r.vsKafkajs ?? '–'}x Kafka ceiling (kafkajs), ${r.vsKafkaPerf ?? '–'}x Kafka ceiling (Java)`,
    );
  }
  for (const x of snapshotRatios) log(`snapshot (${x.workload}): ${snapshotLine(x)}`);
  for (const x of sinkRatios) log(`sink (${x.workload}): ${sinkLine(x)}`);
  for (const c of baselineResults?.comparisons ?? []) log(`walcast ${startRevision} vs baseline ${baseline?.short ?? '?'} (${c.workload}): ${baselineLine(c)}`);
  log(`total ${Math.round((Date.now() - runStarted) / 1000)} s`);
  if (measurements.some((m) => m.status === 'failed')) process.exitCode = 1;
  if (stopRequested) process.exitCode = 130;
}

// kafkajs' consumer trips Node 24's TimeoutNegativeWarning on every run: keep other warnings only
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// A promise nobody handled is a bug of the run; still, stop the systems it started and drop its
// slots (an orphaned Connect JVM and a slot retaining WAL would outlive it otherwise).
process.on('unhandledRejection', (error: unknown) => {
  log(`FAILED (unhandled rejection): ${(error as Error)?.stack ?? String(error)}`);
  void cleanupRun().catch(() => undefined).finally(() => process.exit(1));
});

main().then(
  // a kafkajs consumer or socket left behind (e.g. by a broker restarted under it) must not keep the run alive
  () => process.exit(process.exitCode ?? 0),
  async (error: unknown) => {
    log(`FAILED: ${(error as Error).stack ?? String(error)}`);
    await cleanupRun().catch(() => undefined);
    process.exit(1);
  },
);
