// An initial snapshot killed with -9 half-way resumes from its last committed chunk, not from
// zero, and still ends equal to the table; WALCAST_SNAPSHOT_MODE=initial_only then stops with 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, waitFor } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const ROWS = 300_000;
const it = capturedSchema('snapres', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key, v text not null)`);
    await db.query(`insert into ${schema}.t select g, repeat('x', 40) || g from generate_series(1, ${ROWS}) g`);
  },
});
const { schema, prefix } = it;
const { db } = it;

test('kill -9 half-way: the snapshot resumes from its last committed chunk and ends equal to the table', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = it.env({ WALCAST_SNAPSHOT_MODE: 'initial', WALCAST_SNAPSHOT_MAX_THREADS: '1', WALCAST_HTTP_PORT: String(port), WALCAST_HTTP_HOST: '127.0.0.1' });
  const first = new WalcastProcess(env);
  const committed = async (): Promise<number | undefined> => {
    const body = (await (await fetch(`http://127.0.0.1:${port}/connectors/${prefix}/status`)).json()) as { walcast: { events: number } | null };
    return body.walcast?.events;
  };
  await waitFor('a committed part of the snapshot', async () => ((await committed().catch(() => undefined)) ?? 0) >= 40_000 ? true : undefined, 120_000, 20);
  const killed = await first.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(!first.lines.some((l) => l.msg === 'snapshot complete'), 'killed before the snapshot completed');
  // Changes while walcast is down arrive through the stream after the resumed snapshot.
  await db.query(`update ${schema}.t set v = 'changed' where id % 1000 = 0`);
  await db.query(`delete from ${schema}.t where id % 997 = 0`);

  const second = new WalcastProcess(env);
  try {
    const resumed = await second.waitForLog((l) => l.msg === 'snapshot resuming from its last committed chunk', 60_000, 'the resume');
    const resumedAt = resumed.resumedAtRows as number;
    assert.ok(resumedAt >= 40_000 && resumedAt < ROWS, `resumed at row ${resumedAt}, not from zero`);
    const done = await second.waitForLog((l) => l.msg === 'snapshot complete', 120_000, 'snapshot complete');
    t.diagnostic(`rows published before the kill (committed): ${resumedAt}; rows read after the restart: ${(done.rows as number) - resumedAt}`);
    await it.waitForAck(db, await it.currentLsn(db), 120_000);
    const records = await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 120_000 }, [it.topic('t')]);
    const rows = new Map<number, string>();
    for (const r of records) {
      const v = r.value as { op: string; after: { id: number; v: string } | null } | null;
      if (!v) continue;
      if (v.op === 'd') rows.delete(r.key!.id as number);
      else rows.set(v.after!.id, v.after!.v);
    }
    const table = (await db.query<{ id: number; v: string }>(`select id, v from ${schema}.t`)).rows;
    assert.equal(rows.size, table.length);
    for (const row of table) assert.equal(rows.get(row.id), row.v, `row ${row.id}`);
    const reads = records.filter((r) => (r.value as { op?: string } | null)?.op === 'r').length;
    assert.ok(reads < ROWS + 60_000, `${reads} reads for ${ROWS} rows: the committed part was not read again`);
  } finally {
    assert.equal((await second.stop('SIGTERM')).code, 0, second.output.slice(-3000));
  }
});

test('WALCAST_SNAPSHOT_MODE=initial_only on a connector whose snapshot is complete stops at once with exit code 0', async () => {
  const walcast = new WalcastProcess(it.env({ WALCAST_SNAPSHOT_MODE: 'initial_only' }));
  const exit = await walcast.exited;
  assert.equal(exit.code, 0, walcast.output.slice(-2000));
  assert.ok(walcast.lines.some((l) => /initial_only: stopping/.test(l.msg)));
});
