/**
 * Pre-flight checks and idempotent creation of the publication and slot. Every failure names
 * the cause and the SQL an administrator can run; nothing is left half-created.
 */
import type pg from 'pg';
import { ExitCode, WalcastError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { qualifiedName, quoteIdent } from '../../pg/sql.ts';
import { matchesTablePattern } from '../../pg/table-filter.ts';

export interface SourceSetupOptions {
  slot: string;
  publication: string;
  tables: string[];
}

export interface SourceSetupResult {
  createdSlot: boolean;
  createdPublication: boolean;
  /** Tables the publication currently covers that the include list selects. */
  tables: Array<{ schema: string; table: string }>;
}

function setupError(message: string, cause?: unknown): WalcastError {
  return new WalcastError('WALCAST_SOURCE_SETUP', message, ExitCode.sourceSetup, { cause });
}

async function userTables(client: pg.ClientBase): Promise<Array<{ schema: string; table: string; hasPk: boolean; identity: string }>> {
  const { rows } = await client.query<{ schema: string; table: string; has_pk: boolean; identity: string }>(
    `select n.nspname as schema, c.relname as table, c.relreplident as identity,
            exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary) as has_pk
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
      order by 1, 2`,
  );
  return rows.map((r) => ({ schema: r.schema, table: r.table, hasPk: r.has_pk, identity: r.identity }));
}

export interface SourcePlan {
  role: string;
  selected: Array<{ schema: string; table: string; hasPk: boolean; identity: string }>;
  candidates: Array<{ schema: string; table: string; hasPk: boolean; identity: string }>;
  /** The CREATE PUBLICATION statement to run, when the publication is missing. */
  createPublication: string | null;
  createSlot: boolean;
}

/**
 * Read-only pre-flight checks: everything that can be known before creating anything, so that a
 * setup problem stops walcast before it touches Kafka or PostgreSQL state.
 */
export async function checkSource(client: pg.ClientBase, options: SourceSetupOptions): Promise<SourcePlan> {
  const walLevel = (await client.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level;
  if (walLevel !== 'logical') {
    throw setupError(
      `PostgreSQL has wal_level=${walLevel}; logical replication needs wal_level=logical. ` +
        `Fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on managed services set the equivalent parameter, e.g. rds.logical_replication=1).`,
    );
  }
  const role = (await client.query<{ rolname: string; rolreplication: boolean; rolsuper: boolean }>(
    'select rolname, rolreplication, rolsuper from pg_roles where rolname = current_user',
  )).rows[0];
  if (!role || (!role.rolreplication && !role.rolsuper)) {
    throw setupError(
      `role ${role?.rolname ?? '(unknown)'} lacks the REPLICATION attribute. Fix: ALTER ROLE ${quoteIdent(role?.rolname ?? 'walcast')} WITH REPLICATION;`,
    );
  }

  const candidates = await userTables(client);
  const selected = options.tables.length === 0 ? candidates : candidates.filter((t) => options.tables.some((p) => matchesTablePattern(p, t.schema, t.table)));
  if (options.tables.length > 0 && selected.length === 0) {
    throw setupError(
      `WALCAST_TABLES=${options.tables.join(',')} matches no table in this database ` +
        `(user tables: ${candidates.slice(0, 10).map((t) => `${t.schema}.${t.table}`).join(', ') || 'none'}${candidates.length > 10 ? ', ...' : ''}).`,
    );
  }

  const publicationExists = ((await client.query('select 1 from pg_publication where pubname = $1', [options.publication])).rowCount ?? 0) > 0;
  let createPublication: string | null = null;
  if (!publicationExists) {
    createPublication =
      options.tables.length === 0
        ? `CREATE PUBLICATION ${quoteIdent(options.publication)} FOR ALL TABLES`
        : `CREATE PUBLICATION ${quoteIdent(options.publication)} FOR TABLE ${selected.map((t) => qualifiedName(t.schema, t.table)).join(', ')}`;
    // FOR ALL TABLES needs a superuser, FOR TABLE ownership of every table (PostgreSQL's rules).
    const permitted = role.rolsuper || (options.tables.length > 0 && (await client.query<{ ok: boolean }>(
      `select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) as ok
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))`,
      [selected.map((t) => t.schema), selected.map((t) => t.table)],
    )).rows[0]?.ok === true);
    if (!permitted) {
      throw setupError(
        `publication ${options.publication} does not exist and role ${role.rolname} may not create it ` +
          `(${options.tables.length === 0 ? 'FOR ALL TABLES needs a superuser' : 'it must own every published table'}). ` +
          `Ask an administrator to run:\n  ${createPublication};\n  GRANT SELECT ON ${selected.map((t) => qualifiedName(t.schema, t.table)).join(', ') || 'ALL TABLES IN SCHEMA public'} TO ${quoteIdent(role.rolname)};`,
      );
    }
  }
  const slot = (await client.query<{ plugin: string | null; database: string | null; slot_type: string }>(
    'select plugin, database, slot_type from pg_replication_slots where slot_name = $1',
    [options.slot],
  )).rows[0];
  const database = (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
  if (slot && (slot.slot_type !== 'logical' || slot.plugin !== 'pgoutput' || slot.database !== database)) {
    throw setupError(
      `replication slot ${options.slot} exists but is ${slot.slot_type}/${slot.plugin ?? 'physical'} on database ${slot.database ?? '(none)'}; ` +
        `walcast needs a logical pgoutput slot on ${database}. Choose another WALCAST_SLOT or drop it: SELECT pg_drop_replication_slot('${options.slot}');`,
    );
  }
  if (!slot) {
    const free = (await client.query<{ free: number }>(
      "select current_setting('max_replication_slots')::int - (select count(*) from pg_replication_slots)::int as free",
    )).rows[0]?.free ?? 0;
    if (free <= 0) {
      throw setupError(`no free replication slot for ${options.slot}: raise max_replication_slots (restart needed) or drop an unused slot (see pg_replication_slots).`);
    }
  }
  return { role: role.rolname, selected, candidates, createPublication, createSlot: !slot };
}

/** Creates what checkSource found missing; on failure removes what it created. */
export async function createSource(client: pg.ClientBase, options: SourceSetupOptions, plan: SourcePlan, log: Logger): Promise<SourceSetupResult> {
  let createdPublication = false;
  if (plan.createPublication) {
    try {
      await client.query(plan.createPublication);
      createdPublication = true;
      log.info({ publication: options.publication, tables: plan.selected.length }, 'created publication');
    } catch (error) {
      throw setupError(`could not create publication ${options.publication}: ${(error as Error).message}. An administrator can run:\n  ${plan.createPublication};`, error);
    }
  }
  let createdSlot = false;
  if (plan.createSlot) {
    try {
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [options.slot]);
      createdSlot = true;
      log.info({ slot: options.slot }, 'created replication slot');
    } catch (error) {
      if (createdPublication) await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(options.publication)}`).catch(() => undefined);
      const code = (error as { code?: string }).code;
      throw setupError(
        `could not create replication slot ${options.slot}: ${(error as Error).message}` +
          (code === '53400' ? ' (raise max_replication_slots, or drop an unused slot)' : '') +
          `. An administrator can run: SELECT pg_create_logical_replication_slot('${options.slot}', 'pgoutput');`,
        error,
      );
    }
  }

  const published = (await client.query<{ schema: string; table: string }>(
    'select schemaname as schema, tablename as table from pg_publication_tables where pubname = $1',
    [options.publication],
  )).rows.filter((t) => options.tables.length === 0 || options.tables.some((p) => matchesTablePattern(p, t.schema, t.table)));
  for (const t of plan.candidates) {
    if (!t.hasPk && t.identity === 'd' && published.some((p) => p.schema === t.schema && p.table === t.table)) {
      log.warn(
        { table: `${t.schema}.${t.table}` },
        `table has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL will reject its UPDATEs and DELETEs while it is published. Fix: ALTER TABLE ${qualifiedName(t.schema, t.table)} REPLICA IDENTITY FULL;`,
      );
    }
  }
  return { createdSlot, createdPublication, tables: published };
}
