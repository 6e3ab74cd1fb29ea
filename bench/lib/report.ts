/** Results: the JSON document's shape, the Markdown table and the SVG chart. */
import type { SystemId, WorkloadId } from '../workloads.ts';
import { median, round } from './util.ts';

export interface Measurement {
  workload: WorkloadId;
  system: SystemId;
  repeat: number;
  status: 'ok' | 'failed' | 'skipped' | 'n/a';
  events: number | null;
  /** Catch-up: streaming start to last event visible; live: the load's duration. */
  seconds: number | null;
  rowsPerSec: number | null;
  /** Process start to "streaming". */
  startupSeconds: number | null;
  /** CPU of the system's process in the measured window. */
  cpuSeconds: number | null;
  cpuPerMillion: number | null;
  /** VmHWM of the system's process (JVM for Connect), whole life. */
  peakRssMb: number | null;
  walsenderCpuPerMillion: number | null;
  /**
   * (e): CPU of every PostgreSQL backend that served the system in the window (walsender, snapshot
   * or JDBC connections; the COPY's backend), per million rows. Absent in results of older runs.
   */
  postgresCpuPerMillion?: number | null;
  brokerCpuPerMillion: number | null;
  /** Average cores busy elsewhere on the machine during the window (noise indicator). */
  otherLoadCores: number | null;
  latencyMs: { p50: number; p99: number; max: number; count: number } | null;
  verified: { method: string; expected: number; seen: number; ok: boolean } | null;
  notes: string[];
  error: string | null;
}

export interface Ratios {
  workload: WorkloadId;
  walcastRowsPerSec: number | null;
  vsDebeziumJson: number | null;
  vsDebeziumAvro: number | null;
  /** walcast / pgstream's faster batch setting. */
  vsPgstream?: number | null;
  vsWalsender: number | null;
  vsKafkajs: number | null;
  vsKafkaPerf: number | null;
  /** walcast / min(walsender, kafkajs): the "lower ceiling". */
  vsLowerCeiling: number | null;
}

/** walcast / baseline over the back-to-back pairs of one workload: the median and the range. */
export interface PairedRatio {
  median: number;
  min: number;
  max: number;
}

/** `--baseline`: the tree under test against the baseline commit, per workload. */
export interface BaselineComparison {
  workload: WorkloadId;
  /** Repeats in which both builds were measured (back to back). */
  pairs: number;
  /** Medians over the repeats, as in the summary rows. */
  baselineRowsPerSec: number | null;
  walcastRowsPerSec: number | null;
  baselineCpuPerMillion: number | null;
  walcastCpuPerMillion: number | null;
  /** walcast / baseline of each pair; null for a live workload (rows/s is the offered rate). */
  rowsPerSec: PairedRatio | null;
  /** walcast / baseline of each pair: < 1 means walcast needs less CPU per event. */
  cpuPerMillion: PairedRatio | null;
}

export interface BaselineResults {
  /** As given to --baseline. */
  ref: string;
  commit: string;
  /** The tree under test (short commit, "+dirty" when src/ or bin/ had changes). */
  walcastCommit: string;
  dir: string;
  comparisons: BaselineComparison[];
}

/** (e): walcast's snapshot against Debezium's and the COPY ceiling (best of each system's thread settings). */
export interface SnapshotRatios {
  workload: WorkloadId;
  /** walcast's rows/s by WALCAST_SNAPSHOT_MAX_THREADS. */
  walcastByThreads: Array<{ threads: number; rowsPerSec: number | null; peakRssMb: number | null; cpuPerMillion: number | null }>;
  /** The fastest walcast row. */
  walcastBest: { system: SystemId; threads: number; rowsPerSec: number } | null;
  /** Debezium's faster row of its default threads and snapshot.max.threads=2, per converter. */
  debeziumJson: { system: SystemId; rowsPerSec: number } | null;
  debeziumAvro: { system: SystemId; rowsPerSec: number } | null;
  copyRowsPerSec: number | null;
  vsDebeziumJson: number | null;
  vsDebeziumAvro: number | null;
  vsCopy: number | null;
  /** Highest peak RSS over the walcast rows. */
  walcastMaxPeakRssMb: number | null;
}

/** (s): walcast's sink against Debezium's JDBC sink and the COPY ceiling. */
export interface SinkRatios {
  workload: WorkloadId;
  walcastRowsPerSec: number | null;
  debeziumRowsPerSec: number | null;
  copyRowsPerSec: number | null;
  /** walcast / Debezium's JDBC sink: changes/s, and CPU-s per million changes (< 1: walcast needs less). */
  vsDebezium: number | null;
  cpuVsDebezium: number | null;
  /** walcast's changes/s / the COPY ceiling's rows/s. */
  vsCopy: number | null;
}

export function computeSinkRatios(summary: Measurement[], workloads: WorkloadId[]): SinkRatios[] {
  return workloads.map((workload) => {
    const get = (s: SystemId): Measurement | undefined => summary.find((m) => m.workload === workload && m.system === s && m.status === 'ok');
    const w = get('walcast-sink');
    const d = get('debezium-jdbc');
    const c = get('copy-in');
    const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? round(a / b, 2) : null);
    return {
      workload,
      walcastRowsPerSec: w?.rowsPerSec ?? null,
      debeziumRowsPerSec: d?.rowsPerSec ?? null,
      copyRowsPerSec: c?.rowsPerSec ?? null,
      vsDebezium: ratio(w?.rowsPerSec, d?.rowsPerSec),
      cpuVsDebezium: ratio(w?.cpuPerMillion, d?.cpuPerMillion),
      vsCopy: ratio(w?.rowsPerSec, c?.rowsPerSec),
    };
  });
}

export function sinkLine(x: SinkRatios): string {
  return (
    `walcast's sink ${fmtInt(x.walcastRowsPerSec)} changes/s = ${fmtRatio(x.vsDebezium)} Debezium's JDBC sink (${fmtInt(x.debeziumRowsPerSec)} changes/s), ` +
    `${fmtRatio(x.vsCopy)} the COPY ceiling (${fmtInt(x.copyRowsPerSec)} rows/s); CPU per change ${fmtRatio(x.cpuVsDebezium)} Debezium's`
  );
}

export interface BenchResults {
  runId: string;
  date: string;
  quick: boolean;
  complete: boolean;
  durationSeconds: number;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  workloads: Array<{ id: WorkloadId; title: string; short: string; mode: string; rows: number; txnRows: number; note?: string; writeSeconds?: number }>;
  measurements: Measurement[];
  summary: Measurement[];
  ratios: Ratios[];
  /** (e), when it ran. */
  snapshot?: SnapshotRatios[];
  /** (s), when it ran. */
  sink?: SinkRatios[];
  /** Only with --baseline. */
  baseline?: BaselineResults;
  targets: Array<{ target: string; value: string; met: boolean | null }>;
  notes: string[];
}

/** One row per workload and system: medians over repeats (first failure when none succeeded). */
export function summarize(ms: Measurement[]): Measurement[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of ms) {
    const k = `${m.workload}\u0000${m.system}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(m);
  }
  const out: Measurement[] = [];
  for (const g of groups.values()) {
    const ok = g.filter((m) => m.status === 'ok');
    if (ok.length <= 1) {
      out.push(ok[0] ?? g.find((m) => m.status !== 'skipped') ?? g[0]!);
      continue;
    }
    const med = (f: (m: Measurement) => number | null): number | null => round(median(ok.map((m) => f(m) ?? NaN)), 2);
    const first = ok[0]!;
    out.push({
      ...first,
      repeat: 0,
      seconds: med((m) => m.seconds),
      rowsPerSec: med((m) => m.rowsPerSec),
      startupSeconds: med((m) => m.startupSeconds),
      cpuSeconds: med((m) => m.cpuSeconds),
      cpuPerMillion: med((m) => m.cpuPerMillion),
      peakRssMb: med((m) => m.peakRssMb),
      walsenderCpuPerMillion: med((m) => m.walsenderCpuPerMillion),
      postgresCpuPerMillion: med((m) => m.postgresCpuPerMillion ?? null),
      brokerCpuPerMillion: med((m) => m.brokerCpuPerMillion),
      otherLoadCores: med((m) => m.otherLoadCores),
      latencyMs: first.latencyMs
        ? { p50: med((m) => m.latencyMs?.p50 ?? null)!, p99: med((m) => m.latencyMs?.p99 ?? null)!, max: med((m) => m.latencyMs?.max ?? null)!, count: first.latencyMs.count }
        : null,
      notes: [`median of ${ok.length} runs`, ...first.notes],
    });
  }
  return out;
}

export function computeRatios(summary: Measurement[], workloads: WorkloadId[]): Ratios[] {
  const out: Ratios[] = [];
  for (const w of workloads) {
    const rate = (s: SystemId): number | null => {
      const m = summary.find((x) => x.workload === w && x.system === s && x.status === 'ok');
      return m?.rowsPerSec ?? null;
    };
    const wc = rate('walcast');
    if (wc === null) continue;
    const r = (other: number | null): number | null => (other ? round(wc / other, 2) : null);
    const ceilings = [rate('walsender'), rate('kafkajs')].filter((x): x is number => x !== null);
    out.push({
      workload: w,
      walcastRowsPerSec: wc,
      vsDebeziumJson: r(rate('debezium-json')),
      vsDebeziumAvro: r(rate('debezium-avro')),
      vsPgstream: r(Math.max(rate('pgstream') ?? 0, rate('pgstream-2500') ?? 0) || null),
      vsWalsender: r(rate('walsender')),
      vsKafkajs: r(rate('kafkajs')),
      vsKafkaPerf: r(rate('kafka-perf')),
      vsLowerCeiling: ceilings.length ? r(Math.min(...ceilings)) : null,
    });
  }
  return out;
}

const WALCAST_THREADS: Array<[SystemId, number]> = [['walcast-snapshot-t1', 1], ['walcast-snapshot-t2', 2], ['walcast-snapshot-t4', 4]];

/** (e): walcast's best thread setting against Debezium's best per converter and the COPY ceiling. */
export function computeSnapshotRatios(summary: Measurement[], workloads: WorkloadId[]): SnapshotRatios[] {
  const out: SnapshotRatios[] = [];
  for (const w of workloads) {
    const ok = (s: SystemId): Measurement | undefined => summary.find((x) => x.workload === w && x.system === s && x.status === 'ok' && x.rowsPerSec !== null);
    const best = (systems: SystemId[]): { system: SystemId; rowsPerSec: number } | null =>
      systems.map(ok).reduce<{ system: SystemId; rowsPerSec: number } | null>((b, m) => (m && (!b || m.rowsPerSec! > b.rowsPerSec) ? { system: m.system, rowsPerSec: m.rowsPerSec! } : b), null);
    const byThreads = WALCAST_THREADS.filter(([s]) => summary.some((x) => x.workload === w && x.system === s)).map(([s, threads]) => {
      const m = ok(s);
      return { threads, rowsPerSec: m?.rowsPerSec ?? null, peakRssMb: m?.peakRssMb ?? null, cpuPerMillion: m?.cpuPerMillion ?? null };
    });
    const wc = best(WALCAST_THREADS.map(([s]) => s));
    const dj = best(['debezium-json', 'debezium-json-t2']);
    const da = best(['debezium-avro', 'debezium-avro-t2']);
    const copy = ok('copy')?.rowsPerSec ?? null;
    const r = (other: number | null | undefined): number | null => (wc && other ? round(wc.rowsPerSec / other, 2) : null);
    const rss = byThreads.map((x) => x.peakRssMb).filter((x): x is number => x !== null);
    out.push({
      workload: w,
      walcastByThreads: byThreads,
      walcastBest: wc ? { ...wc, threads: WALCAST_THREADS.find(([s]) => s === wc.system)![1] } : null,
      debeziumJson: dj,
      debeziumAvro: da,
      copyRowsPerSec: copy,
      vsDebeziumJson: r(dj?.rowsPerSec),
      vsDebeziumAvro: r(da?.rowsPerSec),
      vsCopy: r(copy),
      walcastMaxPeakRssMb: rss.length ? Math.max(...rss) : null,
    });
  }
  return out;
}

/** One line: "walcast best 152,000 rows/s (2 threads; 1: ..., 4: ...) = 6.1x Debezium Avro, ...". */
export function snapshotLine(x: SnapshotRatios): string {
  const threads = x.walcastByThreads.map((t) => `${t.threads} thread${t.threads === 1 ? '' : 's'} ${fmtInt(t.rowsPerSec)}`).join(', ');
  const dbz = (d: { system: SystemId; rowsPerSec: number } | null): string => (d ? `${fmtInt(d.rowsPerSec)} rows/s, ${d.system.endsWith('-t2') ? 'snapshot.max.threads=2' : 'default threads'}` : '–');
  return (
    `walcast best ${fmtInt(x.walcastBest?.rowsPerSec)} rows/s (${threads}) = ${fmtRatio(x.vsDebeziumAvro)} Debezium Avro (${dbz(x.debeziumAvro)}), ` +
    `${fmtRatio(x.vsDebeziumJson)} Debezium JSON (${dbz(x.debeziumJson)}), ${fmtRatio(x.vsCopy)} the COPY ceiling (${fmtInt(x.copyRowsPerSec)} rows/s); walcast peak RSS <= ${fmtInt(x.walcastMaxPeakRssMb)} MB`
  );
}

function pairedRatio(ratios: number[]): PairedRatio | null {
  const v = ratios.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: round(median(v), 3)!, min: round(Math.min(...v), 3)!, max: round(Math.max(...v), 3)! };
}

/**
 * walcast against walcast-baseline per workload: the ratio of each repeat's back-to-back pair
 * (both measured ok), then the median over the pairs, so drift between repeats cancels out.
 */
export function computeBaselineComparison(measurements: Measurement[], summary: Measurement[], workloads: Array<{ id: WorkloadId; mode: string }>): BaselineComparison[] {
  const out: BaselineComparison[] = [];
  for (const w of workloads) {
    const ok = (s: SystemId): Measurement[] => measurements.filter((m) => m.workload === w.id && m.system === s && m.status === 'ok');
    const base = ok('walcast-baseline');
    const pairs = ok('walcast').flatMap((m) => {
      const b = base.find((x) => x.repeat === m.repeat);
      return b ? [{ walcast: m, baseline: b }] : [];
    });
    const row = (s: SystemId): Measurement | undefined => summary.find((m) => m.workload === w.id && m.system === s && m.status === 'ok');
    const wc = row('walcast');
    const bl = row('walcast-baseline');
    if (!wc && !bl) continue;
    const ratio = (f: (m: Measurement) => number | null): PairedRatio | null =>
      pairedRatio(pairs.map((p) => {
        const a = f(p.walcast);
        const b = f(p.baseline);
        return a !== null && b ? a / b : NaN;
      }));
    out.push({
      workload: w.id,
      pairs: pairs.length,
      baselineRowsPerSec: bl?.rowsPerSec ?? null,
      walcastRowsPerSec: wc?.rowsPerSec ?? null,
      baselineCpuPerMillion: bl?.cpuPerMillion ?? null,
      walcastCpuPerMillion: wc?.cpuPerMillion ?? null,
      rowsPerSec: w.mode === 'catchup' ? ratio((m) => m.rowsPerSec) : null,
      cpuPerMillion: ratio((m) => m.cpuPerMillion),
    });
  }
  return out;
}

/** "1.013x (0.982–1.040)": the median of the pairs and their range. */
export function fmtPaired(p: PairedRatio | null): string {
  if (!p) return '–';
  return p.min === p.max ? `${p.median.toFixed(3)}x` : `${p.median.toFixed(3)}x (${p.min.toFixed(3)}–${p.max.toFixed(3)})`;
}

const SHORT: Record<SystemId, string> = {
  walcast: 'walcast',
  'walcast-baseline': 'walcast baseline',
  walsender: 'walsender (pg_recvlogical)',
  kafkajs: 'Kafka alone (kafkajs)',
  'kafka-perf': 'Kafka alone (Java perf tool)',
  'debezium-json': 'Debezium + JSON',
  'debezium-avro': 'Debezium + Avro (Apicurio)',
  pgstream: 'pgstream (JSON, batches of 100)',
  'pgstream-2500': 'pgstream (JSON, batches of 2,500)',
  'walcast-snapshot-t1': 'walcast, 1 thread',
  'walcast-snapshot-t2': 'walcast, 2 threads (default)',
  'walcast-snapshot-t4': 'walcast, 4 threads',
  'debezium-json-t2': 'Debezium + JSON, snapshot.max.threads=2',
  'debezium-avro-t2': 'Debezium + Avro, snapshot.max.threads=2',
  copy: 'COPY ceiling (psql \\copy -> /dev/null)',
  'walcast-sink': 'walcast sink',
  'debezium-jdbc': "Debezium's JDBC sink",
  'copy-in': 'COPY ceiling (final rows into an empty table)',
};

function fmtInt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US');
}
function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}
function fmtRatio(v: number | null): string {
  return v === null ? '–' : `${v.toFixed(2)}x`;
}

export function markdown(r: BenchResults): string {
  const lines: string[] = [];
  lines.push(`# walcast benchmark — ${r.date}${r.quick ? ' (quick sizes)' : ''}`);
  lines.push('');
  lines.push(
    `Run \`${r.runId}\`, ${Math.round(r.durationSeconds / 60)} min, on ${r.machine['cpus']} cores / ${r.machine['memoryGb']} GB (${r.machine['kernel']}), ` +
      `everything on loopback; other work may share the machine, so **compare ratios, not absolute figures**. Produced by \`npm run bench\` (bench/README.md).`,
  );
  lines.push('');
  lines.push('Versions: ' + Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ') + '.');
  lines.push('');
  // (e) and (s) have their own tables; a run of them alone has no other
  if (r.workloads.some((w) => w.mode !== 'snapshot' && w.mode !== 'sink')) {
    lines.push('| workload | system | events | rows/s | latency p50 / p99 / max (ms) | peak RSS (MB) | CPU-s per M events | walsender CPU-s/M | broker CPU-s/M | notes |');
    lines.push('|---|---|---:|---:|---|---:|---:|---:|---:|---|');
    for (const w of r.workloads) {
      const rows = r.summary.filter((m) => m.workload === w.id);
      if (w.mode === 'unavailable') {
        lines.push(`| (${w.id}) ${w.title} | all | – | – | – | – | – | – | – | ${w.note ?? 'not yet available'} |`);
        continue;
      }
      if (w.mode === 'snapshot' || w.mode === 'sink') continue; // its own table below
      for (const m of rows) {
        const lat = m.latencyMs ? `${fmt(m.latencyMs.p50)} / ${fmt(m.latencyMs.p99)} / ${fmt(m.latencyMs.max, 0)}` : '–';
        lines.push(
          `| (${w.id}) ${w.title} | ${SHORT[m.system]} | ${fmtInt(m.events)} | ${m.status === 'ok' ? fmtInt(m.rowsPerSec) : '–'} | ${lat} | ${fmtInt(m.peakRssMb)} | ${fmt(m.cpuPerMillion)} | ${fmt(m.walsenderCpuPerMillion)} | ${fmt(m.brokerCpuPerMillion)} | ${notesCell(m)} |`,
        );
      }
    }
    lines.push('');
    lines.push('## Ratios (same run)');
    lines.push('');
    lines.push('| workload | walcast rows/s | / pgstream (best batch) | / Debezium JSON | / Debezium Avro | / walsender ceiling | / Kafka ceiling (kafkajs) | / Kafka ceiling (Java) | / lower ceiling |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of r.ratios) {
      lines.push(`| (${x.workload}) | ${fmtInt(x.walcastRowsPerSec)} | ${fmtRatio(x.vsPgstream ?? null)} | ${fmtRatio(x.vsDebeziumJson)} | ${fmtRatio(x.vsDebeziumAvro)} | ${fmtRatio(x.vsWalsender)} | ${fmtRatio(x.vsKafkajs)} | ${fmtRatio(x.vsKafkaPerf)} | ${fmtRatio(x.vsLowerCeiling)} |`);
    }
    lines.push('');
    lines.push('Lower ceiling = min(walsender, Kafka via kafkajs): the faster of the two cannot help a pipeline bound by the other.');
  }
  for (const w of r.workloads.filter((x) => x.mode === 'snapshot')) lines.push(...snapshotSection(r, w));
  for (const w of r.workloads.filter((x) => x.mode === 'sink')) lines.push(...sinkSection(r, w));
  if (r.baseline) lines.push(...baselineSection(r, r.baseline));
  for (const w of r.workloads.filter((x) => x.mode === 'live')) {
    const lat = (s: SystemId): string => {
      const m = r.summary.find((x) => x.workload === w.id && x.system === s && x.status === 'ok' && x.latencyMs);
      return m?.latencyMs ? `${fmt(m.latencyMs.p50)} / ${fmt(m.latencyMs.p99)} ms` : '–';
    };
    lines.push(`Latency (${w.id}), p50 / p99: walcast ${lat('walcast')}, pgstream ${lat('pgstream')} (batches of 2,500: ${lat('pgstream-2500')}), Debezium JSON ${lat('debezium-json')}, Debezium Avro ${lat('debezium-avro')}.`);
  }
  lines.push('');
  if (r.targets.length) {
    lines.push('## Targets (issue 5; the snapshot, (e): issue 12; the sink, (s): issue 15)');
    lines.push('');
    lines.push('| target | measured | met |');
    lines.push('|---|---|---|');
    for (const t of r.targets) lines.push(`| ${t.target} | ${t.value} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} |`);
    lines.push('');
  }
  lines.push('## Method');
  lines.push('');
  lines.push('- Catch-up workloads are written once while every CDC system is stopped; each system has its own slot on that WAL and reads it in turn.');
  lines.push('  rows/s = events / (the system reports streaming -> last event visible): walcast, when its slot\'s confirmed_flush_lsn passes the last');
  lines.push('  transaction (it acknowledges only after the Kafka commit; the count is then verified by a read_committed consumer);');
  lines.push('  Debezium and pgstream, when the topic holds every event (non-transactional: end offset = records); pg_recvlogical, process run time to --endpos.');
  lines.push('- Kafka alone: the same number of records of walcast\'s average key/value size, produced transactionally (kafkajs: walcast\'s');
  lines.push('  transaction and request sizes; Java: `ProducerPerformance --transaction-duration-ms 100`, value-only records of the same total size).');
  if (r.workloads.some((w) => w.mode === 'snapshot')) {
    lines.push('- Snapshot (e): the table is written and frozen (VACUUM FREEZE) before any system runs; each system reads it in turn with its own slot, topic and');
    lines.push('  offsets. walcast runs with WALCAST_SNAPSHOT_MODE=initial_only (exits 0 after the commit of the last chunk), Debezium with snapshot.mode=initial.');
    lines.push('  rows/s = rows / (the system logs that its snapshot starts -> last row visible): walcast "snapshot planned" -> "stopped streaming; position');
    lines.push('  acknowledged" (logged after its last Kafka commit); Debezium "Snapshot step 1 - Preparing" -> topic end offset = rows. Every topic is then');
    lines.push('  counted by a read_committed consumer: records = op r events = distinct ids = rows. COPY: psql `\\copy <table> to \'/dev/null\'` run time;');
    lines.push('  its CPU is psql\'s, "PostgreSQL CPU" the backend\'s. PostgreSQL CPU of the CDC systems: every backend of their connections (walsender included).');
  }
  if (r.workloads.some((w) => w.mode === 'sink')) {
    lines.push('- Sink (s): walcast publishes the workload\'s changes once (Avro, exactly-once); each sink then reads that same topic from the start into its own');
    lines.push('  pre-created table (`like` the source). changes/s = changes / (first row visible in the target -> the last transaction\'s insert present and');
    lines.push('  its delete applied), polled every 25 ms; every target must then equal the source row by row (EXCEPT both ways) and the sink\'s offsets');
    lines.push('  (walcast: its offsets table; Debezium: its consumer group) reach the topic\'s end. CPU and peak RSS: the sink\'s process in that window;');
    lines.push('  PostgreSQL CPU: the backends of its connections. COPY: the final rows, COPY TO STDOUT piped into COPY FROM STDIN of an empty table.');
  }
  lines.push('- Latency (d): Kafka LogAppendTime (topics created with message.timestamp.type=LogAppendTime) minus source.ts_us (commit time).');
  lines.push('- CPU: utime+stime of the system\'s process during the measured window (JVM start excluded for Connect; included for the Java perf tool);');
  lines.push('  peak RSS: VmHWM of that process. walsender and broker CPU are sampled from /proc for context.');
  for (const n of r.notes) lines.push(`- ${n}`);
  lines.push('');
  return lines.join('\n');
}

/** A measurement's notes column: failure first, start-up time, its notes; escaped for a table cell. */
function notesCell(m: BenchResults['summary'][number]): string {
  const extra = [...(m.startupSeconds !== null ? [`start-up ${m.startupSeconds} s (not timed)`] : []), ...m.notes];
  if (m.verified && !m.verified.ok) extra.unshift(`**verification failed: ${m.verified.seen} of ${m.verified.expected}**`);
  const notes = m.status === 'ok' ? extra.join('; ') : `**${m.status.toUpperCase()}**: ${m.error ?? ''} ${extra.join('; ')}`.trim();
  return notes.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function sinkSection(r: BenchResults, w: BenchResults['workloads'][number]): string[] {
  const lines: string[] = ['', `## (${w.id}) ${w.title}`, ''];
  const x = r.sink?.find((s) => s.workload === w.id);
  if (x) lines.push(`${sinkLine(x)}.`, '');
  lines.push('| system | changes (COPY: rows) | changes/s | seconds | peak RSS (MB) | CPU-s per M changes | PostgreSQL CPU-s per M changes | notes |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const m of r.summary.filter((s) => s.workload === w.id)) {
    lines.push(
      `| ${SHORT[m.system]} | ${fmtInt(m.events)} | ${m.status === 'ok' ? fmtInt(m.rowsPerSec) : '–'} | ${fmt(m.seconds)} | ${fmtInt(m.peakRssMb)} | ${fmt(m.cpuPerMillion)} | ` +
        `${fmt(m.postgresCpuPerMillion)} | ${notesCell(m)} |`,
    );
  }
  return lines;
}

function snapshotSection(r: BenchResults, w: BenchResults['workloads'][number]): string[] {
  const lines: string[] = ['', `## (${w.id}) ${w.title}`, ''];
  const x = r.snapshot?.find((s) => s.workload === w.id);
  if (x) lines.push(`${snapshotLine(x)}.`, '');
  lines.push('| system | rows | rows/s | seconds | peak RSS (MB) | CPU-s per M rows | PostgreSQL CPU-s per M rows | broker CPU-s/M | notes |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const m of r.summary.filter((s) => s.workload === w.id)) {
    lines.push(
      `| ${SHORT[m.system]} | ${fmtInt(m.events)} | ${m.status === 'ok' ? fmtInt(m.rowsPerSec) : '–'} | ${fmt(m.seconds)} | ${fmtInt(m.peakRssMb)} | ${fmt(m.cpuPerMillion)} | ` +
        `${fmt(m.postgresCpuPerMillion)} | ${fmt(m.brokerCpuPerMillion)} | ${notesCell(m)} |`,
    );
  }
  return lines;
}

function baselineSection(r: BenchResults, b: BaselineResults): string[] {
  const lines: string[] = [];
  const repeats = Math.max(0, ...b.comparisons.map((c) => c.pairs));
  lines.push('');
  lines.push('## walcast vs baseline (same run)');
  lines.push('');
  lines.push(
    `walcast = this tree (${b.walcastCommit}), baseline = \`${b.ref}\` (${b.commit.slice(0, 12)}), each with its own launcher's node flags, the same settings and workloads. ` +
      `In each repeat the two ran back to back, each from its own slot on the same WAL, which one first alternating (baseline first in odd repeats). ` +
      `Ratio = walcast / baseline within each pair; median over the pairs${repeats > 1 ? ' (min–max)' : ''}.`,
  );
  lines.push('');
  lines.push('| workload | baseline rows/s | walcast rows/s | **rows/s ratio** | baseline CPU-s/M | walcast CPU-s/M | **CPU-s/M ratio** | pairs |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of b.comparisons) {
    const w = r.workloads.find((x) => x.id === c.workload);
    lines.push(
      `| (${c.workload}) ${w?.short ?? ''} | ${fmtInt(c.baselineRowsPerSec)} | ${fmtInt(c.walcastRowsPerSec)} | ${c.rowsPerSec ? fmtPaired(c.rowsPerSec) : w?.mode === 'live' ? 'n/a (offered rate)' : '–'} | ` +
        `${fmt(c.baselineCpuPerMillion, 2)} | ${fmt(c.walcastCpuPerMillion, 2)} | ${fmtPaired(c.cpuPerMillion)} | ${c.pairs} |`,
    );
  }
  lines.push('');
  for (const c of b.comparisons) lines.push(`- walcast vs baseline (${c.workload}): ${baselineLine(c)}`);
  return lines;
}

/** One line per workload: "rows/s 1.013x (0.982–1.040), CPU-s per million 0.991x (...), 3 pairs". */
export function baselineLine(c: BaselineComparison): string {
  return `rows/s ${fmtPaired(c.rowsPerSec)}, CPU-s per million ${fmtPaired(c.cpuPerMillion)} (walcast / baseline, median of ${c.pairs} pair${c.pairs === 1 ? '' : 's'})`;
}

// Key order = bar order in the chart.
const COLORS: Record<SystemId, string> = {
  walcast: '#1f77b4',
  'walcast-baseline': '#aec7e8',
  walsender: '#7f7f7f',
  copy: '#7f7f7f',
  'walcast-snapshot-t1': '#9ecae1',
  'walcast-snapshot-t2': '#4292c6',
  'walcast-snapshot-t4': '#08519c',
  kafkajs: '#bcbd22',
  'kafka-perf': '#8c564b',
  'debezium-json': '#ff7f0e',
  'debezium-json-t2': '#fdae6b',
  'debezium-avro': '#d62728',
  'debezium-avro-t2': '#f28e8e',
  pgstream: '#2ca02c',
  'pgstream-2500': '#98df8a',
  'walcast-sink': '#1f77b4',
  'debezium-jdbc': '#d62728',
  'copy-in': '#7f7f7f',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Hand-written SVG: rows/s per catch-up workload (log scale) and latency of the live workload. */
export function svg(r: BenchResults): string {
  const systems = (Object.keys(COLORS) as SystemId[]).filter((s) => r.summary.some((m) => m.system === s));
  const catchup = r.workloads.filter((w) => (w.mode === 'catchup' || w.mode === 'snapshot') && r.summary.some((m) => m.workload === w.id && m.status === 'ok'));
  const live = r.workloads.find((w) => w.mode === 'live');
  const liveRows = live ? r.summary.filter((m) => m.workload === live.id && m.status === 'ok' && m.latencyMs) : [];
  const width = 1000;
  const left = 250;
  const plotW = width - left - 200;
  const barH = 14;
  const groupGap = 18;
  const parts: string[] = [];
  let y = 60;
  parts.push(`<text x="20" y="28" font-size="18" font-weight="bold">walcast benchmark ${esc(r.date)}${r.quick ? ' (quick sizes)' : ''}: catch-up and snapshot throughput, rows/s (log scale)</text>`);
  const max = Math.max(10, ...r.summary.filter((m) => m.status === 'ok' && m.rowsPerSec).map((m) => m.rowsPerSec!));
  const minV = 1000;
  const logMax = Math.log10(Math.pow(10, Math.ceil(Math.log10(max))));
  const xOf = (v: number): number => left + (plotW * (Math.log10(Math.max(v, minV)) - Math.log10(minV))) / (logMax - Math.log10(minV));
  const top = y;
  const gridAt = parts.length; // grid lines go under the bars
  for (const w of catchup) {
    parts.push(`<text x="20" y="${y + 11}" font-size="13" font-weight="bold">(${w.id}) ${esc(w.short)}</text>`);
    for (const s of systems) {
      const m = r.summary.find((x) => x.workload === w.id && x.system === s);
      if (!m) continue;
      y += barH + 3;
      parts.push(`<text x="${left - 8}" y="${y + barH - 3}" font-size="11" text-anchor="end">${esc(SHORT[s])}</text>`);
      if (m.status === 'ok' && m.rowsPerSec) {
        const x1 = xOf(m.rowsPerSec);
        parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x1 - left).toFixed(1)}" height="${barH}" fill="${COLORS[s]}"/>`);
        parts.push(`<text x="${(x1 + 4).toFixed(1)}" y="${y + barH - 3}" font-size="11">${fmtInt(m.rowsPerSec)}</text>`);
      } else {
        parts.push(`<text x="${left + 4}" y="${y + barH - 3}" font-size="11" fill="#a00">${esc(m.status)}</text>`);
      }
    }
    y += groupGap + barH;
  }
  // log grid
  const grid: string[] = [];
  for (let e = Math.log10(minV); e <= logMax; e++) {
    const x = xOf(10 ** e);
    grid.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${y - groupGap}" stroke="#ddd"/>`);
    grid.push(`<text x="${x.toFixed(1)}" y="${y - groupGap + 14}" font-size="10" text-anchor="middle" fill="#666">${fmtInt(10 ** e)}</text>`);
  }
  parts.splice(gridAt, 0, ...grid);
  y += 20;
  if (live && liveRows.length) {
    parts.push(`<text x="20" y="${y}" font-size="16" font-weight="bold">(${live.id}) ${esc(live.short)}: latency from PostgreSQL commit to Kafka append, ms (log scale)</text>`);
    y += 12;
    const lmax = Math.max(10, ...liveRows.map((m) => m.latencyMs!.max));
    const lTop = Math.ceil(Math.log10(lmax));
    const lx = (v: number): number => left + (plotW * Math.max(0, Math.log10(Math.max(v, 1)))) / lTop;
    const lTopY = y;
    const lGridAt = parts.length;
    for (const m of liveRows) {
      y += barH + 6;
      const l = m.latencyMs!;
      parts.push(`<text x="${left - 8}" y="${y + barH - 3}" font-size="11" text-anchor="end">${esc(SHORT[m.system])}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, lx(l.max) - left).toFixed(1)}" height="${barH}" fill="${COLORS[m.system]}" opacity="0.15"/>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, lx(l.p99) - left).toFixed(1)}" height="${barH}" fill="${COLORS[m.system]}" opacity="0.45"/>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, lx(l.p50) - left).toFixed(1)}" height="${barH}" fill="${COLORS[m.system]}"/>`);
      parts.push(`<text x="${(lx(l.max) + 4).toFixed(1)}" y="${y + barH - 3}" font-size="11">p50 ${fmt(l.p50)} | p99 ${fmt(l.p99)} | max ${fmt(l.max, 0)}</text>`);
    }
    y += barH + 6;
    const lGrid: string[] = [];
    for (let e = 0; e <= lTop; e++) {
      const x = lx(10 ** e);
      lGrid.push(`<line x1="${x.toFixed(1)}" y1="${lTopY + 8}" x2="${x.toFixed(1)}" y2="${y}" stroke="#ddd"/>`);
      lGrid.push(`<text x="${x.toFixed(1)}" y="${y + 12}" font-size="10" text-anchor="middle" fill="#666">${fmtInt(10 ** e)}</text>`);
    }
    parts.splice(lGridAt, 0, ...lGrid);
    y += 26;
    parts.push(`<text x="${left}" y="${y}" font-size="10" fill="#666">dark: p50, medium: p99, light: max</text>`);
    y += 6;
  }
  y += 16;
  const ratio = r.ratios.find((x) => x.workload === 'a');
  if (ratio) {
    parts.push(
      `<text x="20" y="${y}" font-size="12">(a): walcast/Debezium ${fmtRatio(ratio.vsDebeziumAvro)} (Avro), ${fmtRatio(ratio.vsDebeziumJson)} (JSON); walcast/walsender ${fmtRatio(ratio.vsWalsender)}; walcast/Kafka (kafkajs) ${fmtRatio(ratio.vsKafkajs)}</text>`,
    );
    y += 10;
  }
  for (const x of r.snapshot ?? []) {
    y += 6;
    parts.push(
      `<text x="20" y="${y}" font-size="12">(${x.workload}): walcast best (${x.walcastBest?.threads ?? '–'} threads)/Debezium ${fmtRatio(x.vsDebeziumAvro)} (Avro), ${fmtRatio(x.vsDebeziumJson)} (JSON); walcast/COPY ceiling ${fmtRatio(x.vsCopy)}</text>`,
    );
    y += 10;
  }
  const height = y + 14;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
