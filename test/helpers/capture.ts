// One captured test schema: unique names for schema, slot, publication, topic prefix and offsets
// topic, the walcast environment that captures it, and the slot checks the tests await.
import { after, before } from 'node:test';
import pg from 'pg';
import { loadServices, uniqueSuffix, waitFor } from './services.ts';

export interface Capture {
  schema: string;
  slot: string;
  prefix: string;
  topic(table: string): string;
  /** walcast's environment for this capture; `extra` overrides or adds variables. */
  env(extra?: Record<string, string>): Record<string, string>;
  currentLsn(db: pg.ClientBase): Promise<string>;
  /** Resolves once the slot has confirmed `lsn` (walcast acknowledges only what Kafka committed). */
  waitForAck(db: pg.ClientBase, lsn: string, timeoutMs?: number): Promise<void>;
  confirmedLsn(db: pg.ClientBase): Promise<string>;
  /** Drops the slot, publication and schema (for after()). */
  cleanup(db: pg.ClientBase): Promise<void>;
}

export function capture(kind: string): Capture {
  const services = loadServices();
  const id = uniqueSuffix();
  const schema = `it_${kind}_${id}`;
  const slot = schema;
  const prefix = `it${kind}${id.replace(/_/g, '')}`;
  return {
    schema,
    slot,
    prefix,
    topic: (table) => `${prefix}.${schema}.${table}`,
    env: (extra = {}) => ({
      WALCAST_PG_URL: services.pgUrl,
      WALCAST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
      WALCAST_SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      WALCAST_SLOT: slot,
      WALCAST_PUBLICATION: slot,
      WALCAST_TABLES: `${schema}.*`,
      WALCAST_TOPIC_PREFIX: prefix,
      WALCAST_HTTP_PORT: '0',
      WALCAST_OFFSETS_TOPIC: `${prefix}-offsets`,
      // These tests are about the stream; snapshot tests set WALCAST_SNAPSHOT_MODE themselves.
      WALCAST_SNAPSHOT_MODE: 'no_data',
      ...extra,
    }),
    currentLsn: async (db) => (await db.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l,
    waitForAck: async (db, lsn, timeoutMs = 60_000) => {
      await waitFor(`slot ${slot} to confirm ${lsn}`, async () => {
        const r = await db.query<{ ok: boolean }>('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [lsn, slot]);
        return r.rows[0]?.ok ? true : undefined;
      }, timeoutMs, 100);
    },
    confirmedLsn: async (db) =>
      (await db.query<{ l: string }>('select confirmed_flush_lsn::text as l from pg_replication_slots where slot_name = $1', [slot])).rows[0]!.l,
    cleanup: async (db) => {
      await db.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active', [slot]).catch(() => undefined);
      await db.query(`drop publication if exists "${slot}"`).catch(() => undefined);
      await db.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    },
  };
}

export interface CapturedSchema extends Capture {
  /** A superuser connection, open between the file's before() and after() hooks. */
  db: pg.Client;
}

/**
 * A capture with its test-file lifecycle: before() connects `db`, creates the schema, then runs
 * `setup`; after() runs `teardown`, drops what the capture created and closes `db`.
 */
export function capturedSchema(
  kind: string,
  hooks: { setup?: (db: pg.Client) => Promise<void>; teardown?: (db: pg.Client) => Promise<void> } = {},
): CapturedSchema {
  const it = capture(kind);
  const db = new pg.Client({ connectionString: loadServices().pgUrl });
  before(async () => {
    await db.connect();
    await db.query(`create schema ${it.schema}`);
    await hooks.setup?.(db);
  });
  after(async () => {
    await hooks.teardown?.(db);
    await it.cleanup(db);
    await db.end();
  });
  return { ...it, db };
}
