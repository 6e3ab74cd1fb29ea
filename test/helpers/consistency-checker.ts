// The consistency checker (issue 6): replays the change topics with a read_committed consumer
// (the independent Python reader) into a model of each table, compares it with PostgreSQL row by
// row, and checks every committed transaction's event count against the ledger the workload wrote
// in the same transaction. Reports missing, duplicated and out-of-order events. With a dead-letter
// topic, the events the ledger says were dead-lettered must be there exactly once instead.
// With a target (the sink's copy of the tables, audited with auditVersions), it also compares the
// target with the source row by row and counts row versions the sink wrote twice.
import pg from 'pg';
import { readTopics, type ReadRecord } from './avro-reader.ts';
import { reapplied } from './sink.ts';

export interface CheckOptions {
  pgUrl: string;
  brokers: string[];
  registryUrl: string;
  topicPrefix: string;
  schema: string;
  tables: string[];
  /** Table (schema-qualified) with one row per committed workload transaction: xid, expected events, dead-lettered ones. */
  ledger: string;
  /** The dead-letter topic (WALCAST_ERRORS_TOLERANCE=all), read as JSON. */
  deadLetterTopic?: string;
  /** Schema of the sink's copy of `tables` (each audited by auditVersions): compared with the source. */
  targetSchema?: string;
}

export interface CheckReport {
  eventsChecked: number;
  /** op r events (snapshots) among them: not in the ledger, checked by the final row comparison. */
  snapshotReads: number;
  /** Dead-letter records read (each a row the ledger says was dead-lettered). */
  deadLettered: number;
  transactionsChecked: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  rowMismatches: number;
  /** With targetSchema: source rows compared with the target. */
  targetRows: number;
  /** Rows missing from the target, left over in it, or differing from the source. */
  targetMismatches: number;
  /** Row versions written by more sink transactions than the topics carry them (applied twice). */
  reapplied: number;
  problems: string[];
  /** Where each duplicate and its first copy lie: topic, partition and offset of both. */
  duplicates: Array<{ identity: string; first: RecordPosition; again: RecordPosition }>;
}

export interface RecordPosition {
  topic: string;
  partition: number;
  offset: number;
}

interface Envelope {
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { txId: number; lsn: number };
  transaction: { id: string; total_order: number } | null;
}

const XID_MASK = 0xffffffffn;

/** A row over the given columns; a column an old event predates (added later) reads as null. */
function canonical(row: Record<string, unknown> | null | undefined, columns: string[]): string {
  if (!row) return 'null';
  return JSON.stringify(columns.map((k) => [k, row[k] ?? null]));
}

export async function checkConsistency(options: CheckOptions): Promise<CheckReport> {
  const topics = options.tables.map((t) => `${options.topicPrefix}.${options.schema}.${t}`);
  const deadLetterTopics = options.deadLetterTopic ? [options.deadLetterTopic] : [];
  const all = await readTopics(
    { brokers: options.brokers, registryUrl: options.registryUrl, timeoutMs: 300_000, jsonTopics: deadLetterTopics },
    [...topics, ...deadLetterTopics],
  );
  const records = all.filter((r) => !deadLetterTopics.includes(r.topic));
  const report: CheckReport = { eventsChecked: 0, snapshotReads: 0, deadLettered: 0, transactionsChecked: 0, missing: 0, duplicated: 0, outOfOrder: 0, rowMismatches: 0, targetRows: 0, targetMismatches: 0, reapplied: 0, problems: [], duplicates: [] };
  const note = (problem: string): void => {
    if (report.problems.length < 20) report.problems.push(problem);
  };

  const seen = new Map<string, RecordPosition>();
  const perTransaction = new Map<string, number>();
  // Dead letters: one per row, identified by transaction and the row's LSN.
  const deadPerTransaction = new Map<string, number>();
  const deadSeen = new Set<string>();
  for (const letter of all.filter((r) => deadLetterTopics.includes(r.topic))) {
    const source = (letter.value as { source: { txId: number; lsn: number } }).source;
    const txId = String(BigInt(source.txId) & XID_MASK);
    const identity = `${txId}@${source.lsn}`;
    if (deadSeen.has(identity)) {
      report.duplicated += 1;
      note(`duplicate dead letter ${identity} at offset ${letter.offset}`);
      continue;
    }
    deadSeen.add(identity);
    report.deadLettered += 1;
    deadPerTransaction.set(txId, (deadPerTransaction.get(txId) ?? 0) + 1);
  }
  // Per table, `id|version` -> op r records of that row version (a snapshot writes it again).
  const snapshotCopies = new Map<string, Map<string, number>>(options.tables.map((t) => [t, new Map()]));
  const lastCommitPerKey = new Map<string, bigint>();
  const models = new Map<string, Map<string, Record<string, unknown>>>(options.tables.map((t) => [t, new Map()]));
  for (const record of records as Array<ReadRecord & { value: Envelope | null }>) {
    const value = record.value;
    if (value === null) continue; // tombstone
    report.eventsChecked += 1;
    const table = record.topic.slice(record.topic.lastIndexOf('.') + 1);
    if (value.op === 'r') {
      // A snapshot read belongs to no transaction and may be read again (an interrupted chunk):
      // only its place in the replay counts, and the final comparison catches a stale copy.
      report.snapshotReads += 1;
      if (value.after) {
        models.get(table)!.set(JSON.stringify(record.key), value.after);
        const copies = snapshotCopies.get(table)!;
        const version = `${String(value.after.id)}|${String(value.after.version)}`;
        copies.set(version, (copies.get(version) ?? 0) + 1);
      }
      continue;
    }
    const txId = BigInt(value.source.txId) & XID_MASK;
    const identity = `${txId}:${value.transaction?.total_order}`;
    const position: RecordPosition = { topic: record.topic, partition: record.partition, offset: record.offset };
    const first = seen.get(identity);
    if (first !== undefined) {
      report.duplicated += 1;
      report.duplicates.push({ identity, first, again: position });
      note(`duplicate event ${identity} on ${record.topic} offset ${record.offset} (first at offset ${first.offset})`);
      continue;
    }
    seen.set(identity, position);
    perTransaction.set(String(txId), (perTransaction.get(String(txId)) ?? 0) + 1);

    // Per key, events must follow commit order (the commit LSN is in the transaction id).
    const commitLsn = BigInt(value.transaction?.id.split(':')[1] ?? '0');
    const keyId = `${record.topic}|${JSON.stringify(record.key)}`;
    const previous = lastCommitPerKey.get(keyId);
    if (previous !== undefined && commitLsn < previous) {
      report.outOfOrder += 1;
      note(`out of order: ${keyId} commit ${commitLsn} after ${previous}`);
    }
    lastCommitPerKey.set(keyId, commitLsn);

    const model = models.get(table)!;
    const key = JSON.stringify(record.key);
    if (value.op === 't') model.clear();
    else if (value.op === 'd') model.delete(key);
    else if (value.after) model.set(key, value.after);
  }

  const db = new pg.Client({ connectionString: options.pgUrl });
  await db.connect();
  try {
    const ledger = await db.query<{ xid: string; events: number; dead_lettered: number }>(
      `select (xid::bigint & ${XID_MASK})::text as xid, events, dead_lettered from ${options.ledger}`,
    );
    report.transactionsChecked = ledger.rows.length;
    for (const row of ledger.rows) {
      const expected = row.events - row.dead_lettered;
      const got = perTransaction.get(row.xid) ?? 0;
      if (got < expected) {
        report.missing += expected - got;
        note(`transaction ${row.xid}: ${got} of ${expected} events`);
      } else if (got > expected) {
        report.duplicated += got - expected;
        note(`transaction ${row.xid}: ${got} events, ${expected} expected`);
      }
      const dead = deadPerTransaction.get(row.xid) ?? 0;
      if (dead < row.dead_lettered) {
        report.missing += row.dead_lettered - dead;
        note(`transaction ${row.xid}: ${dead} of ${row.dead_lettered} dead letters`);
      } else if (dead > row.dead_lettered) {
        report.duplicated += dead - row.dead_lettered;
        note(`transaction ${row.xid}: ${dead} dead letters, ${row.dead_lettered} expected`);
      }
      perTransaction.delete(row.xid);
      deadPerTransaction.delete(row.xid);
    }
    for (const [xid, dead] of deadPerTransaction) {
      report.duplicated += dead;
      note(`transaction ${xid}: ${dead} dead letters but no committed ledger row`);
    }
    for (const [xid, got] of perTransaction) {
      report.duplicated += got;
      note(`transaction ${xid}: ${got} events but no committed ledger row`);
    }

    for (const table of options.tables) {
      const model = models.get(table)!;
      const { rows } = await db.query<Record<string, unknown>>(`select * from "${options.schema}"."${table}"`);
      const actual = new Map(rows.map((r) => [JSON.stringify({ id: r.id }), r]));
      for (const [key, row] of actual) {
        const modelled = model.get(key);
        // PostgreSQL returns int8 as a string; the reader gives numbers.
        const normal = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) && k !== 'note' ? Number(v) : v]));
        const columns = Object.keys(normal).sort();
        if (canonical(modelled, columns) !== canonical(normal, columns)) {
          report.rowMismatches += 1;
          note(`${table} ${key}: Kafka model ${canonical(modelled, columns)} vs PostgreSQL ${canonical(normal, columns)}`);
        }
      }
      for (const key of model.keys()) {
        if (!actual.has(key)) {
          report.rowMismatches += 1;
          note(`${table} ${key}: in the Kafka model but not in PostgreSQL`);
        }
      }
    }
    if (options.targetSchema !== undefined) {
      for (const table of options.tables) {
        const source = `"${options.schema}"."${table}"`;
        const target = `"${options.targetSchema}".${table}`;
        const compared = await compareTables(db, source, target);
        report.targetRows += compared.rows;
        report.targetMismatches += compared.mismatches.length;
        for (const m of compared.mismatches.slice(0, 5)) note(`target ${table} ${m}`);
        const twice = await reapplied(db, target, snapshotCopies.get(table));
        report.reapplied += twice.length;
        for (const r of twice.slice(0, 5)) note(`target ${table} id ${r.id} version ${r.version} written by ${r.transactions} sink transactions`);
      }
    }
  } finally {
    await db.end();
  }
  return report;
}

/** Source and target compared row by row (by `id`, every column as jsonb): the source's row count and each difference. */
export async function compareTables(db: pg.ClientBase, source: string, target: string): Promise<{ rows: number; mismatches: string[] }> {
  const read = async (table: string): Promise<Map<string, string>> => {
    const { rows } = await db.query<{ id: string; r: string }>(`select id::text, to_jsonb(t)::text as r from ${table} t`);
    return new Map(rows.map((row) => [row.id, row.r]));
  };
  const [s, t] = [await read(source), await read(target)];
  const mismatches: string[] = [];
  for (const [id, row] of s) {
    const copy = t.get(id);
    if (copy === undefined) mismatches.push(`id ${id} missing: ${row}`);
    else if (copy !== row) mismatches.push(`id ${id} differs: source ${row}, target ${copy}`);
  }
  for (const [id, row] of t) if (!s.has(id)) mismatches.push(`id ${id} only in the target: ${row}`);
  return { rows: s.size, mismatches };
}
