// A table rewritten while its snapshot runs (here CLUSTER, which reorders every row between heap
// blocks without a change in the WAL): the snapshot notices the new file and reads the table again
// from block 0, so no row that moved into blocks already read is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, waitFor } from '../helpers/services.ts';
import { forEachRecord } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const ROWS = 200_000;
const it = capturedSchema('snaprw', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key, v text not null)`);
    await db.query(`insert into ${schema}.t select g, md5(g::text) from generate_series(1, ${ROWS}) g`);
    await db.query(`create index t_v on ${schema}.t (v)`);
  },
});
const { schema, prefix } = it;
const { db } = it;

test('a table rewritten (CLUSTER) during its snapshot is read again from its new file; the topic still equals the table', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const walcast = new WalcastProcess(it.env({ WALCAST_SNAPSHOT_MODE: 'initial', WALCAST_SNAPSHOT_MAX_THREADS: '1', WALCAST_HTTP_PORT: String(port), WALCAST_HTTP_HOST: '127.0.0.1' }));
  const snapshots = `http://127.0.0.1:${port}/connectors/${prefix}/snapshots`;
  try {
    await walcast.waitForLog((l) => l.msg === 'snapshot starting', 60_000, 'snapshot starting');
    // Paused after its first chunks: the rewrite lands between chunks, in the middle of the table.
    await waitFor('the snapshot to pause', async () => ((await fetch(`${snapshots}/pause`, { method: 'PUT' }).catch(() => null))?.status === 202 ? true : undefined), 30_000, 20);
    assert.ok(!walcast.lines.some((l) => l.msg === 'snapshot complete'), 'paused before the snapshot completed');
    await db.query(`cluster ${schema}.t using t_v`);
    assert.equal((await fetch(`${snapshots}/resume`, { method: 'PUT' })).status, 202);
    const rewritten = await walcast.waitForLog((l) => l.msg.startsWith('table rewritten during its snapshot'), 60_000, 'the rewrite noticed');
    assert.notEqual(rewritten.fileNode, rewritten.previousFileNode);
    await walcast.waitForLog((l) => l.msg === 'snapshot complete', 120_000, 'snapshot complete');
    await it.waitForAck(db, await it.currentLsn(db), 60_000);

    const replayed = new Map<number, string>();
    await forEachRecord({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, timeoutMs: 300_000, requireComplete: true }, [it.topic('t')], (r) => {
      const after = (r.value as { after: { id: number; v: string } | null } | null)?.after;
      if (after) replayed.set(after.id, after.v);
    });
    const { rows } = await db.query<{ id: number; v: string }>(`select id, v from ${schema}.t`);
    assert.equal(replayed.size, rows.length, `${replayed.size} keys replayed, ${rows.length} rows in the table`);
    for (const row of rows) assert.equal(replayed.get(row.id), row.v, `row ${row.id}`);
  } finally {
    assert.equal((await walcast.stop('SIGTERM')).code, 0, walcast.output.slice(-3000));
  }
});
