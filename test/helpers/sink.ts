// The sink's side of a round trip: a target schema in the services' database, the environment of
// `walcast sink` for it, an audit of every row version the sink writes (to see a batch applied
// twice), and a row-by-row comparison of source and target tables.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadServices, waitFor } from './services.ts';
import type { Capture } from './capture.ts';

export interface SinkTarget {
  /** Schema the sink writes its tables to (created by the test, dropped by cleanup). */
  schema: string;
  group: string;
  offsetsTable: string;
  env(extra?: Record<string, string>): Record<string, string>;
  cleanup(db: pg.ClientBase): Promise<void>;
}

/** The sink's side for a captured schema and topic prefix. */
export function sinkTarget(capture: Pick<Capture, 'schema' | 'prefix'>): SinkTarget {
  const services = loadServices();
  const schema = `${capture.schema}_target`;
  const group = `${capture.prefix}-sink`;
  const offsetsTable = `${schema}.walcast_sink_offsets`;
  return {
    schema,
    group,
    offsetsTable,
    env: (extra = {}) => ({
      WALCAST_SINK_PG_URL: services.pgUrl,
      WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
      WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      WALCAST_SINK_TOPICS_REGEX: `${capture.prefix.replace(/[.]/g, '\\.')}\\.${capture.schema}\\..*`,
      WALCAST_SINK_GROUP_ID: group,
      WALCAST_SINK_TABLE_NAME_FORMAT: `${schema}.\${source.table}`,
      WALCAST_SINK_OFFSETS_TABLE: offsetsTable,
      WALCAST_HTTP_PORT: '0',
      WALCAST_STARTUP_TIMEOUT_MS: '60000',
      ...extra,
    }),
    cleanup: async (db) => {
      await db.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    },
  };
}

/**
 * Records every row version the sink writes to `table` (key `id`, monotonic `version`) with the
 * writing transaction. A batch applied twice writes some (id, version) twice in two transactions.
 */
export async function auditVersions(db: pg.ClientBase, table: string): Promise<void> {
  const audit = `${table}_audit`;
  await db.query(`create table ${audit} (id bigint not null, version int not null, xid xid8 not null default pg_current_xact_id())`);
  await db.query(`create function ${audit}_fn() returns trigger language plpgsql as $$ begin insert into ${audit} (id, version) values (new.id, new.version); return new; end $$`);
  await db.query(`create trigger audit after insert or update on ${table} for each row execute function ${audit}_fn()`);
}

/**
 * (id, version) pairs written by more than one transaction: changes applied twice. A snapshot
 * (op r) publishes a row version again, and the sink rightly writes it again: `snapshotCopies`
 * (`id|version` -> op r records of it) raises the allowance for those pairs.
 */
export async function reapplied(db: pg.ClientBase, table: string, snapshotCopies: ReadonlyMap<string, number> = new Map()): Promise<Array<{ id: string; version: number; transactions: number }>> {
  const { rows } = await db.query<{ id: string; version: number; transactions: number }>(
    `select id::text, version, count(distinct xid)::int as transactions from ${table}_audit group by id, version having count(distinct xid) > 1 order by id, version`,
  );
  return rows.filter((r) => r.transactions > 1 + (snapshotCopies.get(`${r.id}|${r.version}`) ?? 0));
}

/** Every row of a table as jsonb text (keys sorted by jsonb), ordered by `key`. */
async function rowsOf(db: pg.ClientBase, table: string, key: string, exclude: readonly string[]): Promise<string[]> {
  const minus = exclude.map((c) => ` - '${c}'`).join('');
  const { rows } = await db.query<{ r: string }>(`select (to_jsonb(t)${minus})::text as r from ${table} t order by ${key}`);
  return rows.map((r) => r.r);
}

/** Waits until the target table equals the source table row by row, then asserts it (with the differences). */
export async function assertSameRows(db: pg.ClientBase, source: string, target: string, options: { key?: string; exclude?: readonly string[]; timeoutMs?: number } = {}): Promise<number> {
  const key = options.key ?? 'id';
  const exclude = options.exclude ?? [];
  let last: { s: string[]; t: string[] } = { s: [], t: [] };
  try {
    await waitFor(`${target} to equal ${source}`, async () => {
      const s = await rowsOf(db, source, key, exclude);
      const t = await rowsOf(db, target, key, exclude).catch(() => []);
      last = { s, t };
      return s.length === t.length && s.every((row, i) => row === t[i]) ? true : undefined;
    }, options.timeoutMs ?? 90_000, 200);
  } catch (error) {
    const short = (r: string): string => (r.length > 400 ? `${r.slice(0, 400)}...` : r);
    const sourceOnly = last.s.filter((r) => !last.t.includes(r)).slice(0, 5).map(short);
    const targetOnly = last.t.filter((r) => !last.s.includes(r)).slice(0, 5).map(short);
    assert.fail(`${(error as Error).message}: ${last.s.length} source rows, ${last.t.length} target rows; only in the source: ${sourceOnly.join('\n')}; only in the target: ${targetOnly.join('\n')}`);
  }
  return last.s.length;
}
