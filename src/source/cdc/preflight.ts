/**
 * The source's pre-flight checks, as data: what PostgreSQL must offer walcast (wal_level,
 * REPLICATION, a slot and a WAL sender, SELECT, a publication that matches the include list and
 * breaks no application write). `walcast check` prints every result; a starting connector stops
 * at the first one that fails with the cause and the fix (setup.ts), and logs the warnings.
 *
 * gatherSourceFacts() reads the catalog (read-only); sourceChecks() judges, without I/O.
 */
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../../pg/sql.ts';
import {
  createPublicationSql,
  inspectPublication,
  planPublication,
  publicationChanges,
  replicaIdentityFix,
  sourceTables,
  tableName,
  type PublicationPlan,
  type PublicationState,
  type SourceTable,
} from './publication.ts';
import { slotState, type SlotState } from './slot.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One line of `walcast check`. */
export interface CheckResult {
  /** Stable name, e.g. postgres.wal_level (docs/operations.md lists them). */
  id: string;
  status: CheckStatus;
  /** What was found, in one sentence. */
  summary: string;
  /** What to do about it, led by "Fix:" or "Ask an administrator to run:". */
  fix?: string;
}

export interface SourceOptions {
  slot: string;
  publication: string;
  tables: string[];
}

export interface SourceFacts {
  walLevel: string;
  database: string;
  role: { name: string; replication: boolean; superuser: boolean };
  slots: { max: number; used: number };
  senders: { max: number; used: number };
  tables: SourceTable[];
  plan: PublicationPlan;
  publication: PublicationState | null;
  slot: SlotState | null;
}

export async function gatherSourceFacts(client: pg.ClientBase, options: SourceOptions): Promise<SourceFacts> {
  const row = (await client.query<{
    wal_level: string;
    db: string;
    rolname: string;
    rolreplication: boolean;
    rolsuper: boolean;
    max_slots: number;
    used_slots: number;
    max_senders: number;
    used_senders: number;
  }>(
    `select current_setting('wal_level') as wal_level, current_database() as db,
            r.rolname, r.rolreplication, r.rolsuper,
            current_setting('max_replication_slots')::int as max_slots,
            (select count(*)::int from pg_replication_slots) as used_slots,
            current_setting('max_wal_senders')::int as max_senders,
            (select count(*)::int from pg_stat_replication) as used_senders
       from pg_roles r where r.rolname = current_user`,
  )).rows[0]!;
  const tables = await sourceTables(client);
  return {
    walLevel: row.wal_level,
    database: row.db,
    role: { name: row.rolname, replication: row.rolreplication, superuser: row.rolsuper },
    slots: { max: row.max_slots, used: row.used_slots },
    senders: { max: row.max_senders, used: row.used_senders },
    tables,
    plan: planPublication(tables, options.tables),
    publication: await inspectPublication(client, options.publication),
    slot: await slotState(client, options.slot),
  };
}

/** Checks whose failure stops a connector at start; the others are warnings there. */
export const FATAL_AT_START: ReadonlySet<string> = new Set(['postgres.wal_level', 'postgres.replication', 'postgres.tables', 'postgres.publication', 'postgres.slot']);

const list = (names: string[], max = 10): string => names.slice(0, max).join(', ') + (names.length > max ? `, ... (${names.length} in all)` : '');

export function sourceChecks(facts: SourceFacts, options: SourceOptions): CheckResult[] {
  const results: CheckResult[] = [];
  const { role, plan } = facts;

  results.push(
    facts.walLevel === 'logical'
      ? { id: 'postgres.wal_level', status: 'pass', summary: 'wal_level=logical' }
      : {
          id: 'postgres.wal_level',
          status: 'fail',
          summary: `PostgreSQL has wal_level=${facts.walLevel}; logical replication needs wal_level=logical.`,
          fix: 'Fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on managed services set the equivalent parameter, e.g. rds.logical_replication=1).',
        },
  );

  results.push(
    role.replication || role.superuser
      ? { id: 'postgres.replication', status: 'pass', summary: `role ${role.name} has ${role.superuser ? 'SUPERUSER' : 'REPLICATION'}` }
      : { id: 'postgres.replication', status: 'fail', summary: `role ${role.name} lacks the REPLICATION attribute.`, fix: `Fix: ALTER ROLE ${quoteIdent(role.name)} WITH REPLICATION;` },
  );

  if (options.tables.length > 0 && plan.selected.length === 0) {
    results.push({
      id: 'postgres.tables',
      status: 'fail',
      summary:
        `WALCAST_TABLES=${options.tables.join(',')} matches no table in this database ` +
        `(user tables: ${facts.tables.slice(0, 10).map(tableName).join(', ') || 'none'}${facts.tables.length > 10 ? ', ...' : ''}).`,
    });
  } else {
    results.push({ id: 'postgres.tables', status: 'pass', summary: `${options.tables.length === 0 ? 'WALCAST_TABLES is empty: every table' : `WALCAST_TABLES=${options.tables.join(',')}`} selects ${plan.selected.length} table(s)` });
  }

  const unreadable = plan.selected.filter((t) => !t.selectable);
  results.push(
    unreadable.length === 0
      ? { id: 'postgres.select', status: 'pass', summary: `role ${role.name} may SELECT every selected table` }
      : {
          id: 'postgres.select',
          status: 'fail',
          summary: `role ${role.name} may not SELECT ${list(unreadable.map(tableName))}.`,
          fix: `Fix: GRANT SELECT ON ${unreadable.map((t) => qualifiedName(t.schema, t.table)).join(', ')} TO ${quoteIdent(role.name)};`,
        },
  );

  results.push(publicationCheck(facts, options));
  results.push(writesCheck(facts, options));
  results.push(slotCheck(facts, options));
  results.push(sendersCheck(facts));
  return results;
}

function publicationCheck(facts: SourceFacts, options: SourceOptions): CheckResult {
  const { role, plan, publication } = facts;
  const id = 'postgres.publication';
  if (!publication) {
    const sql = createPublicationSql(options.publication, plan.tables);
    // A publication can list only tables its creator owns (PostgreSQL's rule).
    if (role.superuser || plan.tables.every((t) => t.owned)) {
      return { id, status: 'pass', summary: `publication ${options.publication} does not exist; walcast will create it for ${plan.tables.length} table(s), through partition roots` };
    }
    return {
      id,
      status: 'fail',
      summary: `publication ${options.publication} does not exist and role ${role.name} may not create it (it must own every published table).`,
      fix:
        `Ask an administrator to run:\n  ${sql};\n  GRANT SELECT ON ${plan.selected.map((t) => qualifiedName(t.schema, t.table)).join(', ') || 'ALL TABLES IN SCHEMA public'} TO ${quoteIdent(role.name)};`,
    };
  }
  if (publication.managed) {
    const changes = publicationChanges(plan, publication.tables);
    const pending = [
      changes.add.length > 0 ? `adds ${list(changes.add.map(tableName))}` : '',
      changes.drop.length > 0 ? `drops ${list(changes.drop.map(tableName))}` : '',
    ].filter(Boolean);
    return {
      id,
      status: 'pass',
      summary: `publication ${options.publication} is walcast's (${publication.tables.length} table(s))${pending.length > 0 ? `; at start walcast ${pending.join(' and ')}` : ''}`,
    };
  }
  // Someone else's publication: used as it is; say what it does not match.
  const perPartition = publication.partitionedWithoutRoot;
  // A partitioned table published partition by partition is captured (under its partitions' names).
  const captured = new Set([...publication.tables, ...perPartition].map(tableName));
  // Tables that could join it without blocking writes (the others need a replica identity first).
  const missing = publication.allTables ? [] : plan.tables.filter((t) => !captured.has(tableName(t)));
  // publish_via_partition_root applies to a partitioned table only if the table itself is a member.
  const toAdd = [...missing, ...perPartition.filter((t) => !t.member)];
  const problems: string[] = [];
  const fixes: string[] = [];
  if (missing.length > 0) {
    problems.push(`it does not publish ${list(missing.map(tableName))}, which WALCAST_TABLES selects (their changes are not captured)`);
  }
  if (perPartition.length > 0) {
    problems.push(`it publishes ${list(perPartition.map(tableName))} partition by partition (a topic per partition)`);
  }
  if (toAdd.length > 0) {
    fixes.push(`ALTER PUBLICATION ${quoteIdent(options.publication)} ADD TABLE ${toAdd.map((t) => qualifiedName(t.schema, t.table)).join(', ')};`);
  }
  if (perPartition.length > 0) {
    fixes.push(`ALTER PUBLICATION ${quoteIdent(options.publication)} SET (publish_via_partition_root = true);`);
  }
  if (problems.length === 0) {
    return { id, status: 'pass', summary: `publication ${options.publication} exists (not created by walcast, used as it is) and publishes every selected table` };
  }
  return {
    id,
    status: 'warn',
    summary: `publication ${options.publication} (not created by walcast, used as it is): ${problems.join('; ')}.`,
    fix: `Fix: ${fixes.join(' ')}`,
  };
}

function writesCheck(facts: SourceFacts, options: SourceOptions): CheckResult {
  const { plan, publication } = facts;
  const id = 'postgres.writes';
  // Tables whose UPDATEs and DELETEs PostgreSQL rejects (or will, once walcast publishes them).
  const broken = publication && !publication.managed
    ? publication.unwritable.map((l) => ({ name: tableName(l), fix: `ALTER TABLE ${qualifiedName(l.schema, l.table)} REPLICA IDENTITY FULL;` }))
    : plan.namedUnwritable.map((t) => ({ name: tableName(t), fix: replicaIdentityFix(t) }));
  if (broken.length > 0) {
    const where = publication && !publication.managed ? `publication ${options.publication} makes` : 'WALCAST_TABLES names';
    return {
      id,
      status: 'fail',
      summary: `${where} ${list(broken.map((b) => b.name))} unwritable: PostgreSQL rejects their UPDATEs and DELETEs while they are published without a replica identity.`,
      fix: `Fix: ${broken.map((b) => b.fix).join(' ')}${publication && !publication.managed ? '' : ' (or list them in WALCAST_TABLES only through a wildcard, which leaves them out)'}`,
    };
  }
  const excluded = publication && !publication.managed ? [] : plan.excluded;
  if (excluded.length > 0) {
    return {
      id,
      status: 'warn',
      summary: `left out of the publication, so not captured: ${excluded.map((e) => e.reason).join('; ')}.`,
      fix: `Fix, to capture them: ${excluded.map((e) => e.fix).join(' ')}`,
    };
  }
  return { id, status: 'pass', summary: 'the publication leaves every application UPDATE and DELETE possible' };
}

function slotCheck(facts: SourceFacts, options: SourceOptions): CheckResult {
  const { slot } = facts;
  const id = 'postgres.slot';
  if (slot && (slot.type !== 'logical' || slot.plugin !== 'pgoutput' || slot.database !== facts.database)) {
    return {
      id,
      status: 'fail',
      summary:
        `replication slot ${options.slot} exists but is ${slot.type}/${slot.plugin ?? 'physical'} on database ${slot.database ?? '(none)'}; ` +
        `walcast needs a logical pgoutput slot on ${facts.database}. Choose another WALCAST_SLOT or drop it: SELECT pg_drop_replication_slot('${options.slot}');`,
    };
  }
  if (slot) {
    const holder = slot.activePid ? `; in use by walsender pid ${slot.activePid} (${slot.holder ?? 'unknown client'}): walcast stands by until it is released` : '';
    return { id, status: 'pass', summary: `replication slot ${options.slot} exists (pgoutput, ${facts.database})${holder}` };
  }
  const free = facts.slots.max - facts.slots.used;
  if (free <= 0) {
    return { id, status: 'fail', summary: `no free replication slot for ${options.slot}: raise max_replication_slots (restart needed) or drop an unused slot (see pg_replication_slots).` };
  }
  return { id, status: 'pass', summary: `replication slot ${options.slot} does not exist; walcast will create it (${free} of ${facts.slots.max} slots free)` };
}

function sendersCheck(facts: SourceFacts): CheckResult {
  const free = facts.senders.max - facts.senders.used;
  if (free <= 0) {
    return {
      id: 'postgres.senders',
      status: 'fail',
      summary: `no free WAL sender: max_wal_senders=${facts.senders.max} and ${facts.senders.used} are in use.`,
      fix: 'Fix: raise max_wal_senders (restart needed) or stop an unused replication client (see pg_stat_replication).',
    };
  }
  return { id: 'postgres.senders', status: 'pass', summary: `${free} of ${facts.senders.max} WAL senders free` };
}
