// Initial snapshots beside the stream: existing rows arrive as op r events, read in parallel
// chunks reconciled with concurrent changes through WAL watermarks, so that replaying the topics
// gives exactly the tables' final contents; an interrupted snapshot resumes from its last
// committed chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices } from '../helpers/services.ts';
import { forEachRecord } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
// The size: one table of a million rows (about 20 s of the suite on an idle 2-core machine).
const BIG = 1_000_000;
const it = capturedSchema('snap', {
  setup: async (db) => {
    await db.query(`create table ${schema}.big (id int primary key, v text not null)`);
    await db.query(`insert into ${schema}.big select g, md5(g::text) from generate_series(1, ${BIG}) g`);
    // A composite key whose first column repeats, and a table without a key (duplicate rows allowed).
    await db.query(`create table ${schema}.comp (a int, b int, c text, primary key (a, b))`);
    await db.query(`insert into ${schema}.comp select g % 7, g, 'c' || g from generate_series(1, 20000) g`);
    await db.query(`create table ${schema}.nokey (a int, b text)`);
    await db.query(`insert into ${schema}.nokey select g % 100, 'same' from generate_series(1, 5000) g`);
    await db.query(`create table ${schema}.empty (id int primary key)`);
  },
});
const { schema } = it;
const { db } = it;

/** Snapshot reads seen while replaying: how many, their markers, and any that carried a transaction id. */
interface ReadSummary {
  reads: number;
  markers: Map<string, number>;
  withTxId: number;
}

/**
 * Replays a topic record by record (a million-row topic does not fit one array) per key, or,
 * without a key, as a multiset of rows; returns the final rows as sorted JSON.
 */
async function replay(table: string, keyed: boolean, summary: ReadSummary): Promise<string[]> {
  const rows = new Map<string, string>();
  const bag: string[] = [];
  await forEachRecord({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 600_000, requireComplete: true }, [it.topic(table)], (r) => {
    const v = r.value as { op: string; after: unknown; source: { snapshot: string; txId: unknown } } | null;
    if (!v) return;
    if (v.op === 'r') {
      summary.reads += 1;
      summary.markers.set(v.source.snapshot, (summary.markers.get(v.source.snapshot) ?? 0) + 1);
      if (v.source.txId !== null) summary.withTxId += 1;
    }
    if (keyed) {
      const key = JSON.stringify(r.key);
      if (v.op === 'd') rows.delete(key);
      else rows.set(key, JSON.stringify(v.after));
    } else if (v.op === 'r' || v.op === 'c') {
      bag.push(JSON.stringify(v.after));
    }
  });
  return (keyed ? [...rows.values()] : bag).sort();
}

async function tableRows(client: pg.Client, table: string, columns: string): Promise<string[]> {
  const { rows } = await client.query(`select ${columns} from ${schema}.${table}`);
  return rows.map((r) => JSON.stringify(r)).sort();
}

async function checkTopicsEqualTables(): Promise<ReadSummary> {
  const summary: ReadSummary = { reads: 0, markers: new Map(), withTxId: 0 };
  for (const [table, columns, keyed] of [['big', 'id, v', true], ['comp', 'a, b, c', true], ['nokey', 'a, b', false]] as const) {
    const actual = await replay(table, keyed, summary);
    const expected = await tableRows(db, table, columns);
    assert.equal(actual.length, expected.length, `${table}: ${actual.length} rows replayed, ${expected.length} in the table`);
    // Compared here rather than by deepEqual: its diff of a million rows would not fit a string.
    const differing = actual.findIndex((row, i) => row !== expected[i]);
    assert.equal(differing, -1, `${table}: replayed topic equals the table; first difference: ${actual[differing]} vs ${expected[differing]}`);
  }
  return summary;
}

/** Concurrent inserts, updates and deletes until stopped. */
function writer(client: pg.Client): { stop: () => Promise<number> } {
  let running = true;
  let statements = 0;
  const loop = (async () => {
    let n = 0;
    while (running) {
      n += 1;
      const id = 1 + ((n * 7919) % BIG);
      await client.query('begin');
      await client.query(`update ${schema}.big set v = 'upd' || $1::text where id = $2`, [n, id]);
      await client.query(`delete from ${schema}.big where id = $1`, [1 + ((n * 104729) % BIG)]);
      await client.query(`insert into ${schema}.big values ($1, 'new') on conflict (id) do update set v = 'reins'`, [BIG + n]);
      await client.query(`update ${schema}.comp set c = 'u' || $1::text where a = $2 and b = $3`, [n, n % 7, 1 + ((n * 31) % 20000)]);
      await client.query(`insert into ${schema}.nokey values ($1, 'live')`, [n]);
      await client.query('commit');
      statements += 5;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return statements;
    },
  };
}

test('initial snapshot under concurrent changes: topics replay to the tables\' contents, markers as Debezium sets them', async () => {
  const pgWriter = new (await import('pg')).default.Client({ connectionString: services.pgUrl });
  await pgWriter.connect();
  // nokey has no replica identity: only a pattern naming it exactly publishes it (a wildcard leaves it out).
  const walcast = new WalcastProcess(it.env({ WALCAST_SNAPSHOT_MODE: 'initial', WALCAST_SNAPSHOT_MAX_THREADS: '3', WALCAST_TABLES: `${schema}.*,${schema}.nokey` }));
  let load: { stop: () => Promise<number> } | null = null;
  try {
    await walcast.waitForLog((l) => l.msg === 'snapshot starting', 60_000, 'snapshot starting');
    load = writer(pgWriter);
    await walcast.waitForLog((l) => l.msg === 'snapshot complete', 180_000, 'snapshot complete');
    const statements = await load.stop();
    load = null;
    assert.ok(statements > 0, 'changes ran during the snapshot');
    await it.waitForAck(db, await it.currentLsn(db), 120_000);
    const { reads, markers, withTxId } = await checkTopicsEqualTables();
    assert.equal(markers.get('first'), 1, 'one first');
    assert.equal(markers.get('last'), 1, 'one last');
    assert.ok((markers.get('first_in_data_collection') ?? 0) >= 1);
    assert.ok(reads >= BIG, `at least the big table's rows were read (${reads})`);
    assert.equal(withTxId, 0, 'reads carry no transaction id');
  } finally {
    if (load) await load.stop();
    await pgWriter.end();
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
  }
});
