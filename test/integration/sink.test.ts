// The sink end to end: source PostgreSQL -> walcast run -> Kafka (Avro, registry) -> walcast sink
// -> target tables. The sink creates the target table from the records' schema (the source's
// column types, timestamptz included), adds a column the source adds, keeps unchanged TOAST
// values, and applies mixed inserts, updates and deletes exactly once through kill -9: the target
// equals the source row by row, and no row version is written by two transactions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { capturedSchema } from '../helpers/capture.ts';
import { freePort } from '../helpers/scratch-postgres.ts';
import { loadServices } from '../helpers/services.ts';
import { assertSameRows, auditVersions, reapplied, sinkTarget } from '../helpers/sink.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const services = loadServices();
const it = capturedSchema('sink', {
  setup: async (db) => {
    await db.query(`create schema ${target.schema}`);
    await db.query(`create table ${schema}.items (
      id bigint primary key, version int not null, name varchar(20), amount numeric(12,2), at timestamptz, local_at timestamp,
      born date, small int2, ratio float8, flag bool, tags text[], scores int[], doc jsonb, uid uuid, span interval, raw bytea, big text)`);
  },
  teardown: async (db) => target.cleanup(db),
});
const { schema, db } = it;
const target = sinkTarget(it);
const BIG = `(select string_agg(md5(random()::text), '') from generate_series(1, 200))`;

/** A transaction of the workload: a few inserts, updates that leave `big` alone (unchanged TOAST) and a delete. */
async function writeTransaction(writer: pg.Client, nextId: () => number, live: number[]): Promise<void> {
  await writer.query('begin');
  for (let i = 0; i < 3; i++) {
    const id = nextId();
    await writer.query(
      `insert into ${schema}.items select i, 1, 'n' || i, i * 1.25, now() - i * interval '1 minute', '2024-02-29 12:00:00.123456', date '2000-01-01' + i::int,
        (i % 100)::int2, i / 7.0, i % 2 = 0, array['a' || i, null, 'quote"and\\backslash'], array[i::int, 2], jsonb_build_object('k', i, 'nested', jsonb_build_array(1, 'x')),
        md5(i::text)::uuid, interval '1 day 2 hours' * i, '\\x00ff'::bytea, ${BIG} from (select $1::bigint as i) v`,
      [id],
    );
    live.push(id);
  }
  for (let i = 0; i < 4 && live.length > 0; i++) {
    const id = live[Math.floor(Math.random() * live.length)]!;
    await writer.query(`update ${schema}.items set version = version + 1, amount = amount + 0.01, tags = tags || 'u'::text where id = $1`, [id]);
  }
  if (live.length > 10) {
    const [id] = live.splice(Math.floor(Math.random() * live.length), 1);
    await writer.query(`delete from ${schema}.items where id = $1`, [id]);
  }
  await writer.query('commit');
}

test('round trip: the sink creates the table with the source types, keeps unchanged TOAST values, and applies exactly once through kill -9', async () => {
  const walcast = new WalcastProcess(it.env());
  await walcast.waitForStreaming();
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  let id = 0;
  const nextId = (): number => ++id;
  const live: number[] = [];
  let sink: WalcastProcess | null = null;
  try {
    for (let t = 0; t < 5; t++) await writeTransaction(writer, nextId, live);
    // Values at the edges of their types.
    await writer.query(`insert into ${schema}.items (id, version, at, local_at, born, amount, ratio, tags, doc, name) values
      (1000000, 1, 'infinity', '-infinity', '0044-03-15 BC', -9999999999.99, 'NaN', '{}', '"just a string"', ''),
      (1000001, 1, '1999-12-31 23:59:59.999999+05:30', '1970-01-01 00:00:00', 'infinity', 0, '-Infinity', array[null]::text[], 'null', 'tab	and newline
here')`);

    sink = new WalcastProcess(target.env({ WALCAST_LOG_LEVEL: process.env.SINK_LOG ?? 'info' }), ['sink']);
    await sink.waitForLog((l) => l.msg === 'sink running', 60_000, '"sink running"');
    const items = `${schema}.items`;
    const copy = `${target.schema}.items`;
    await assertSameRows(db, items, copy);

    // The created table has the source's column types, timestamptz and numeric(12,2) included.
    const types = async (s: string): Promise<string[]> =>
      (await db.query<{ t: string }>(`select attname || ' ' || format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`, [`${s}.items`])).rows.map((r) => r.t);
    assert.deepEqual(await types(target.schema), await types(schema));
    const pk = await db.query(`select 1 from pg_index where indrelid = $1::regclass and indisprimary`, [copy]);
    assert.equal(pk.rowCount, 1, 'the created table has the key as its primary key');

    // From here on every row version the sink writes is audited.
    await auditVersions(db, copy);
    const kills = 2;
    const httpPort = await freePort();
    let writing = true;
    const writes = (async () => {
      let n = 0;
      while (writing) {
        await writeTransaction(writer, nextId, live);
        // A column added at the source mid-stream is added to the target. (Without a default:
        // the values a default gives existing rows are no changes, for any CDC.)
        if (++n === 20) await writer.query(`alter table ${schema}.items add column note text`);
        if (n > 20) await writer.query(`update ${schema}.items set version = version + 1, note = 'noted' || $1 where id = $1`, [live[live.length - 1]]);
      }
    })();
    for (let k = 0; k < kills; k++) {
      await sink.waitForLog((l) => l.msg === 'sink running', 60_000, '"sink running"');
      await new Promise((resolve) => setTimeout(resolve, 700 + Math.random() * 1300));
      await sink.stop('SIGKILL');
      sink = new WalcastProcess(target.env(k === kills - 1 ? { WALCAST_HTTP_PORT: String(httpPort) } : {}), ['sink']);
    }
    writing = false;
    await writes;
    // An update that changes only a TOASTed column's neighbour, once more after the kills.
    await writer.query(`update ${schema}.items set version = version + 1, name = 'toast kept' where id = $1`, [live[0]]);
    const rows = await assertSameRows(db, items, copy, { timeoutMs: 120_000 });
    assert.ok(rows > 50, `only ${rows} rows`);
    assert.deepEqual(await reapplied(db, copy), [], 'no row version written by two transactions');
    const kept = await db.query<{ same: boolean; len: number }>(`select s.big = t.big as same, length(t.big) as len from ${items} s join ${copy} t using (id) where s.id = $1`, [live[0]]);
    assert.equal(kept.rows[0]!.same, true);
    assert.ok(kept.rows[0]!.len > 6000, 'the TOASTed value is the real one, not the placeholder');
    const note = await db.query<{ t: string }>(`select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = $1::regclass and attname = 'note'`, [copy]);
    assert.equal(note.rows[0]?.t, 'text', 'the column added at the source exists in the target');

    // The positions in the target are the partitions' ends.
    const offsets = await db.query<{ topic: string; next_offset: string }>(`select topic, next_offset::text from ${target.offsetsTable} where group_id = $1`, [target.group]);
    assert.deepEqual(offsets.rows.map((r) => r.topic), [it.topic('items')]);

    // Status and metrics of the last process: what it applied, by table and operation.
    const status = (await (await fetch(`http://127.0.0.1:${httpPort}/connectors/${target.group}/status`)).json()) as { type: string; connector: { state: string }; walcast: { sink: { changes_applied: number; lag_records: number; partitions: string[]; changes_by_table: Record<string, Record<string, number>> } } };
    assert.equal(status.type, 'sink');
    assert.equal(status.connector.state, 'RUNNING');
    assert.ok(status.walcast.sink.changes_applied > 0);
    // The partition's end may be one commit marker past the last record applied.
    assert.ok(status.walcast.sink.lag_records <= 1, `lag ${status.walcast.sink.lag_records}`);
    assert.deepEqual(status.walcast.sink.partitions, [`${it.topic('items')}/0`]);
    assert.ok((status.walcast.sink.changes_by_table[copy]?.u ?? 0) > 0, JSON.stringify(status.walcast.sink.changes_by_table));
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`walcast_sink_changes_total\\{connector="${target.group}",table="${copy}",op="u"\\} [1-9]`));
    assert.match(metrics, /walcast_sink_apply_seconds_count\{connector="[^"]+"\} [1-9]/);
    assert.equal((await sink.stop('SIGTERM')).code, 0);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nsink output:\n${sink?.output.slice(-3000)}`, { cause: error });
  } finally {
    await sink?.stop('SIGKILL');
    await writer.end();
    await walcast.stop();
  }
});

test('two sink processes in one group split the partitions; one frozen past the session timeout and one killed hand theirs over, and the target still equals the source', async () => {
  await db.query(`create table ${schema}.accounts (id bigint primary key, version int not null, balance bigint not null, note text)`);
  // An existing target table (created by the operator), audited from the start.
  await db.query(`create table ${target.schema}.accounts (id bigint primary key, version int not null, balance bigint not null, note text)`);
  await auditVersions(db, `${target.schema}.accounts`);
  const walcast = new WalcastProcess(it.env({ WALCAST_TOPIC_PARTITIONS: '3', WALCAST_TABLES: `${schema}.accounts` }));
  await walcast.waitForStreaming();
  const writer = new pg.Client({ connectionString: services.pgUrl });
  await writer.connect();
  const env = target.env({ WALCAST_SINK_TOPICS_REGEX: '', WALCAST_SINK_TOPICS: it.topic('accounts'), WALCAST_SINK_SESSION_TIMEOUT_MS: '6000', WALCAST_SINK_GROUP_ID: `${target.group}-pair` });
  let writing = true;
  let next = 0;
  const writes = (async () => {
    while (writing) {
      await writer.query('begin');
      for (let i = 0; i < 5; i++) {
        next += 1;
        await writer.query(`insert into ${schema}.accounts values ($1::bigint, 1, $1::bigint * 10, 'n')`, [next]);
      }
      await writer.query(`update ${schema}.accounts set version = version + 1, balance = balance + 1 where id = any($1::bigint[])`, [[1 + Math.floor(Math.random() * next), 1 + Math.floor(Math.random() * next)]]);
      if (next > 20) await writer.query(`delete from ${schema}.accounts where id = $1`, [Math.floor(Math.random() * next)]);
      await writer.query('commit');
    }
  })();
  const a = new WalcastProcess(env, ['sink']);
  const b = new WalcastProcess(env, ['sink']);
  // An assignment logged after `mark` lines (earlier lines do not count: they are older rebalances).
  const assigned = (p: WalcastProcess, mark: number, count: (n: number) => boolean, what: string): Promise<unknown> =>
    p.waitForLog((l) => p.lines.indexOf(l) >= mark && l.msg === 'partitions assigned' && count((l.partitions as string[]).length), 60_000, what);
  const share = (n: number): boolean => n > 0 && n < 3;
  try {
    await Promise.all([assigned(a, 0, share, 'a sharing'), assigned(b, 0, share, 'b sharing')]);
    // Frozen past the session timeout: b takes every partition; a, thawed, finds them claimed.
    let mark = b.lines.length;
    a.child.kill('SIGSTOP');
    await assigned(b, mark, (n) => n === 3, 'b owning every partition');
    const marks = [a.lines.length, b.lines.length] as const;
    a.child.kill('SIGCONT');
    await Promise.all([assigned(a, marks[0], share, 'a sharing again'), assigned(b, marks[1], share, 'b sharing again')]);
    // Killed: a takes every partition over from the offsets b committed in the target.
    mark = a.lines.length;
    await b.stop('SIGKILL');
    await assigned(a, mark, (n) => n === 3, 'a owning every partition');
    writing = false;
    await writes;
    const rows = await assertSameRows(db, `${schema}.accounts`, `${target.schema}.accounts`, { timeoutMs: 120_000 });
    assert.ok(rows > 50, `only ${rows} rows`);
    assert.deepEqual(await reapplied(db, `${target.schema}.accounts`), [], 'no row version written by two transactions');
    const owners = await db.query<{ partition: number; epoch: string }>(`select partition, epoch::text from ${target.offsetsTable} where group_id = $1 order by partition`, [`${target.group}-pair`]);
    assert.deepEqual(owners.rows.map((r) => r.partition), [0, 1, 2]);
    assert.ok(owners.rows.every((r) => Number(r.epoch) >= 3), `every partition was claimed at each rebalance: ${JSON.stringify(owners.rows)}`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\na:\n${a.output.slice(-2000)}\nb:\n${b.output.slice(-2000)}`, { cause: error });
  } finally {
    writing = false;
    await writes.catch(() => undefined);
    a.child.kill('SIGCONT');
    await a.stop('SIGKILL');
    await b.stop('SIGKILL');
    await writer.end();
    await walcast.stop();
  }
});
