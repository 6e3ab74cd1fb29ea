// Issue 14, item 4: WAL and lag protection. The retained-WAL metric rises while walcast is paused
// and falls after resume; the warning threshold logs; the status call shows the same figures; the
// per-table counters, the lag, the time since the last event and the commit latency histogram are
// exported. A private PostgreSQL, so that no other test's WAL moves the figures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { readTopics } from '../helpers/avro-reader.ts';
import { freePort, startScratchPostgres, type ScratchPostgres } from '../helpers/scratch-postgres.ts';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const id = uniqueSuffix();
const prefix = `wal${id.replace(/_/g, '')}`;
const slot = `wal_${id}`;
const WARN_BYTES = 4 * 1024 * 1024;

let server: ScratchPostgres;
let db: pg.Client;
let walcast: WalcastProcess | undefined;

before(async () => {
  server = await startScratchPostgres();
  db = new pg.Client({ connectionString: server.url });
  await db.connect();
  // Stored uncompressed, so each row adds its full size to the WAL.
  await db.query('create table public.t (id int primary key, payload text); alter table public.t alter column payload set storage external');
});

after(async () => {
  await walcast?.stop('SIGKILL', 1000).catch(() => undefined);
  await db?.end().catch(() => undefined);
  await server?.stop();
});

test('retained WAL rises while paused and falls after resume; lag, events by table and commit latency are exported', async (t) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  walcast = new WalcastProcess({
    WALCAST_PG_URL: server.url,
    WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    WALCAST_SLOT: slot,
    WALCAST_PUBLICATION: slot,
    WALCAST_TABLES: 'public.t',
    WALCAST_TOPIC_PREFIX: prefix,
    WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
    WALCAST_HTTP_PORT: String(port),
    WALCAST_HTTP_HOST: '127.0.0.1',
    WALCAST_PG_STATUS_INTERVAL_MS: '300',
    WALCAST_RETAINED_WAL_WARN_BYTES: String(WARN_BYTES),
  });
  const w = walcast;
  await w.waitForStreaming();
  const series = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const match = new RegExp(`^${name}\\{connector="${prefix}"\\} (\\S+)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const status = async (): Promise<{ connector: { state: string }; walcast: Record<string, unknown> }> =>
    (await (await fetch(`${base}/connectors/${prefix}/status`)).json()) as { connector: { state: string }; walcast: Record<string, unknown> };

  await db.query("insert into public.t values (0, 'first')");
  await readTopics({ brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: 1, timeoutMs: 30_000 }, [`${prefix}.public.t`]);
  const before = await waitFor('the first retained-WAL reading', () => series('walcast_slot_retained_wal_bytes'), 10_000, 100);
  assert.equal(await series('walcast_retained_wal_warn_bytes'), WARN_BYTES);

  // Paused: the slot holds on to everything written meanwhile.
  assert.equal((await fetch(`${base}/connectors/${prefix}/pause`, { method: 'PUT' })).status, 202);
  await waitFor('PAUSED', async () => ((await status()).connector.state === 'PAUSED' ? true : undefined), 10_000, 100);
  const rows = 3000;
  await db.query(`insert into public.t select i, repeat(md5(i::text), 64) from generate_series(1, ${rows}) i`);
  // Committed in PostgreSQL by now: its Kafka commit, after the resume below, is at least this far behind.
  const committedBy = Date.now();
  const peak = await waitFor('the retained WAL to rise past the threshold', async () => {
    const retained = await series('walcast_slot_retained_wal_bytes');
    return retained !== undefined && retained > before + WARN_BYTES ? retained : undefined;
  }, 30_000, 100);
  await w.waitForLog((l) => l.level === 40 && l.msg.includes('above WALCAST_RETAINED_WAL_WARN_BYTES'), 10_000, 'the retained-WAL warning');
  const paused = await status();
  assert.ok(typeof paused.walcast.retained_wal_bytes === 'number' && paused.walcast.retained_wal_bytes >= peak, `the status call shows the same figure: ${JSON.stringify(paused.walcast)}`);
  assert.equal(paused.walcast.retained_wal_warn_bytes, WARN_BYTES);

  // Resumed: walcast delivers and confirms, and the slot lets the WAL go.
  const resumedAt = Date.now();
  assert.equal((await fetch(`${base}/connectors/${prefix}/resume`, { method: 'PUT' })).status, 202);
  await waitFor('every row counted', async () => ((await series('walcast_events_total')) === rows + 1 ? true : undefined), 60_000, 200);
  // A checkpoint logs the running transactions that let the slot move its restart_lsn.
  await db.query('checkpoint');
  const fallen = await waitFor('the retained WAL to fall', async () => {
    const retained = await series('walcast_slot_retained_wal_bytes');
    return retained !== undefined && retained < peak / 2 ? retained : undefined;
  }, 60_000, 200);
  assert.ok(fallen < WARN_BYTES, `below the threshold again (${fallen} bytes)`);
  t.diagnostic(`retained WAL: ${before} bytes before the pause, ${peak} while paused (threshold ${WARN_BYTES}), ${fallen} after resume and a checkpoint`);
  await w.waitForLog((l) => l.level === 30 && l.msg.includes('below WALCAST_RETAINED_WAL_WARN_BYTES'), 10_000, 'the all-clear');

  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, new RegExp(`^walcast_table_events_total\\{connector="${prefix}",table="public.t",op="c"\\} ${rows + 1}$`, 'm'));
  assert.match(text, new RegExp(`^walcast_kafka_commit_seconds_count\\{connector="${prefix}"\\} [1-9]\\d*$`, 'm'));
  assert.match(text, new RegExp(`^walcast_kafka_commit_seconds_bucket\\{connector="${prefix}",le="\\+Inf"\\} [1-9]\\d*$`, 'm'));
  // The rows waited while paused: delivered well after their commit.
  const behind = await series('walcast_milliseconds_behind_source');
  assert.ok(behind !== undefined && behind >= resumedAt - committedBy, `milliseconds behind the source: ${behind}, paused ${resumedAt - committedBy} ms after the commit`);
  const since = await series('walcast_seconds_since_last_event');
  assert.ok(since !== undefined && since >= 0 && since <= (Date.now() - resumedAt) / 1000, `seconds since the last event: ${since} (resumed ${Date.now() - resumedAt} ms ago)`);
  t.diagnostic(`after resume: ${behind} ms behind the source (paused ${resumedAt - committedBy} ms after the commit), ${since} s since the last event`);
  const resumed = await status();
  assert.deepEqual(resumed.walcast.events_by_table, { 'public.t': { c: rows + 1 } });
  assert.ok((resumed.walcast.kafka_commit_ms as { count: number }).count > 0);

  const stopped = await w.stop();
  assert.equal(stopped.code, 0, w.output.slice(-3000));
});
