/**
 * The publication, and why it must never break the application (issue 14, item 3).
 *
 * PostgreSQL rejects every UPDATE and DELETE on a published table that has no replica identity
 * (no primary key under REPLICA IDENTITY DEFAULT, REPLICA IDENTITY NOTHING, or an identity index
 * that is gone): "cannot update table ... because it does not have a replica identity and
 * publishes updates". So a publication walcast creates lists its tables (FOR ALL TABLES cannot
 * leave one out) and leaves such tables out, unless the include list names them exactly. It is
 * marked as walcast's by its comment; walcast then keeps it in step with the include list: tables
 * created later are added, tables that lose their key are dropped (`refreshPublication`, at every
 * start and every WALCAST_PUBLICATION_REFRESH_INTERVAL_MS).
 *
 * Partitioned tables are published through their root (publish_via_partition_root): one topic
 * per partitioned table, and partitions attached later are part of it at once. A partitioned
 * table counts as writable only with a primary key (every partition, present or future, then has
 * one).
 *
 * A publication walcast did not create is used as it is: `inspectPublication` reports what it
 * would break, for the start-up warnings, the metrics and `walcast check`.
 */
import type pg from 'pg';
import { qualifiedName, quoteIdent, quoteLiteral } from '../../pg/sql.ts';
import { matchesTablePattern, selectsTable } from '../../pg/table-filter.ts';

/** The comment that marks a publication as walcast's to keep in step with the include list. */
export const MANAGED_COMMENT = 'Managed by walcast: its tables follow WALCAST_TABLES (docs/operations.md#the-publication)';

export interface TableRef {
  schema: string;
  table: string;
}

/** A table (or partition) that PostgreSQL would refuse to update or delete from once published. */
export interface Leaf extends TableRef {
  identity: string;
}

/** A user table or partitioned table (partitions are part of their root). */
export interface SourceTable extends TableRef {
  kind: 'table' | 'partitioned';
  /** false for unlogged tables, which PostgreSQL cannot publish. */
  logged: boolean;
  hasPrimaryKey: boolean;
  /** relreplident: d(efault), n(othing), f(ull), i(ndex). */
  identity: string;
  /** UPDATE and DELETE stay possible once published. */
  writable: boolean;
  /** The partitions (or the table itself) without a usable replica identity. */
  unwritableLeaves: Leaf[];
  /** The connecting role may SELECT it. */
  selectable: boolean;
  /** The connecting role owns it (a publication can list only tables its creator owns). */
  owned: boolean;
}

export function tableName(t: TableRef): string {
  return `${t.schema}.${t.table}`;
}

/** SQL: has the relation `rel` (a pg_class row alias) a replica identity PostgreSQL can use? */
const WRITABLE = (rel: string): string => `(${rel}.relreplident = 'f'
  or (${rel}.relreplident = 'd' and exists (select 1 from pg_index i where i.indrelid = ${rel}.oid and i.indisprimary and i.indisvalid and i.indimmediate))
  or (${rel}.relreplident = 'i' and exists (select 1 from pg_index i where i.indrelid = ${rel}.oid and i.indisreplident and i.indisvalid and i.indimmediate)))`;

/** Every user table and partitioned table (not partitions), with what publishing it would do. */
export async function sourceTables(client: pg.ClientBase): Promise<SourceTable[]> {
  const { rows } = await client.query<{
    schema: string;
    table: string;
    kind: string;
    logged: boolean;
    has_pk: boolean;
    identity: string;
    selectable: boolean;
    owned: boolean;
    unwritable: Leaf[] | null;
  }>(
    `select n.nspname as schema, c.relname as table, c.relkind::text as kind, c.relpersistence = 'p' as logged,
            c.relreplident::text as identity,
            exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary) as has_pk,
            has_table_privilege(c.oid, 'SELECT') as selectable,
            pg_has_role(c.relowner, 'USAGE') as owned,
            (select json_agg(json_build_object('schema', ln.nspname, 'table', l.relname, 'identity', l.relreplident::text) order by ln.nspname, l.relname)
               from (select c.oid as relid where c.relkind = 'r'
                     union all select p.relid from pg_partition_tree(c.oid) p where c.relkind = 'p' and p.isleaf) tree
               join pg_class l on l.oid = tree.relid join pg_namespace ln on ln.oid = l.relnamespace
              where not ${WRITABLE('l')}) as unwritable
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and c.relpersistence <> 't'
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
      order by 1, 2`,
  );
  return rows.map((r) => {
    const kind = r.kind === 'p' ? 'partitioned' : 'table';
    const unwritableLeaves = r.unwritable ?? [];
    return {
      schema: r.schema,
      table: r.table,
      kind,
      logged: r.logged,
      hasPrimaryKey: r.has_pk,
      identity: r.identity,
      // Without a key on the root, a partition attached later has none either.
      writable: unwritableLeaves.length === 0 && (kind === 'table' || r.has_pk),
      unwritableLeaves,
      selectable: r.selectable,
      owned: r.owned,
    };
  });
}

/** A pattern without wildcards names its table explicitly. */
export function namesExplicitly(patterns: string[], t: TableRef): boolean {
  return patterns.some((p) => !/[*?]/.test(p) && matchesTablePattern(p, t.schema, t.table));
}

export interface ExcludedTable {
  table: SourceTable;
  /** Why it cannot be published safely, in words. */
  reason: string;
  /** What makes it publishable (SQL where there is one). */
  fix: string;
}

export interface PublicationPlan {
  /** Tables the include list selects. */
  selected: SourceTable[];
  /** What a publication walcast manages lists. */
  tables: SourceTable[];
  /** Selected tables it leaves out. */
  excluded: ExcludedTable[];
  /** Named explicitly although PostgreSQL will then reject their UPDATEs and DELETEs. */
  namedUnwritable: SourceTable[];
}

/** The fix that makes `t` writable while published. */
export function replicaIdentityFix(t: SourceTable): string {
  if (t.kind === 'partitioned' && !t.hasPrimaryKey) {
    return `add a primary key to ${qualifiedName(t.schema, t.table)} (every partition then has one); or name it in WALCAST_TABLES and give every partition, including later ones, REPLICA IDENTITY FULL`;
  }
  const leaves = t.unwritableLeaves.length > 0 ? t.unwritableLeaves : [t];
  return `${leaves.map((l) => `ALTER TABLE ${qualifiedName(l.schema, l.table)} REPLICA IDENTITY FULL;`).join(' ')} (or add a primary key)`;
}

function identityProblem(t: SourceTable): string {
  if (t.kind === 'partitioned' && !t.hasPrimaryKey) return 'is partitioned without a primary key';
  const leaf = t.unwritableLeaves[0] ?? t;
  const where = t.kind === 'partitioned' ? `its partition ${tableName(leaf)} has` : 'has';
  switch (leaf.identity) {
    case 'n':
      return `${where} REPLICA IDENTITY NOTHING`;
    case 'i':
      return `${where} REPLICA IDENTITY USING INDEX on an index that is no longer usable`;
    default:
      return `${where} no primary key and REPLICA IDENTITY DEFAULT`;
  }
}

/** Why PostgreSQL would reject the table's UPDATEs and DELETEs once published. */
export function unwritableReason(t: SourceTable): string {
  return `${tableName(t)} ${identityProblem(t)}: PostgreSQL rejects its UPDATEs and DELETEs while it is published`;
}

/** What a publication walcast manages should list for this include list (empty: every table). */
export function planPublication(tables: SourceTable[], patterns: string[]): PublicationPlan {
  const selected = tables.filter((t) => selectsTable(patterns, t.schema, t.table));
  const plan: PublicationPlan = { selected, tables: [], excluded: [], namedUnwritable: [] };
  for (const t of selected) {
    if (!t.logged) {
      plan.excluded.push({ table: t, reason: `${tableName(t)} is unlogged: PostgreSQL cannot publish it`, fix: `ALTER TABLE ${qualifiedName(t.schema, t.table)} SET LOGGED;` });
    } else if (t.writable) {
      plan.tables.push(t);
    } else if (namesExplicitly(patterns, t)) {
      plan.tables.push(t);
      plan.namedUnwritable.push(t);
    } else {
      plan.excluded.push({ table: t, reason: unwritableReason(t), fix: replicaIdentityFix(t) });
    }
  }
  return plan;
}

/** CREATE PUBLICATION for a plan's tables, published through partition roots. */
export function createPublicationSql(publication: string, tables: TableRef[]): string {
  const list = tables.length > 0 ? ` FOR TABLE ${tables.map((t) => qualifiedName(t.schema, t.table)).join(', ')}` : '';
  return `CREATE PUBLICATION ${quoteIdent(publication)}${list} WITH (publish_via_partition_root = true)`;
}

export function managedCommentSql(publication: string): string {
  return `COMMENT ON PUBLICATION ${quoteIdent(publication)} IS ${quoteLiteral(MANAGED_COMMENT)}`;
}

export interface PublicationState {
  allTables: boolean;
  /** Publishes UPDATEs or DELETEs: only then does a missing replica identity block writes. */
  publishesUpdatesOrDeletes: boolean;
  viaRoot: boolean;
  /** Created by walcast (its comment): walcast keeps its tables in step with the include list. */
  managed: boolean;
  /** The connecting role owns it (may ALTER it). */
  owned: boolean;
  /** Tables it publishes (roots under publish_via_partition_root, partitions otherwise). */
  tables: TableRef[];
  /** Tables and partitions whose UPDATEs and DELETEs PostgreSQL now rejects because of it. */
  unwritable: Leaf[];
  /**
   * Partitioned tables it publishes partition by partition (a topic each). `member`: the table
   * itself is in the publication (listed, its schema, or FOR ALL TABLES), so only
   * publish_via_partition_root is missing; otherwise only some of its partitions are listed.
   */
  partitionedWithoutRoot: Array<TableRef & { member: boolean }>;
}

export async function inspectPublication(client: pg.ClientBase, publication: string): Promise<PublicationState | null> {
  const row = (await client.query<{ oid: number; puballtables: boolean; breaks: boolean; pubviaroot: boolean; owned: boolean; comment: string | null }>(
    `select p.oid, p.puballtables, p.pubupdate or p.pubdelete as breaks, p.pubviaroot,
            pg_has_role(p.pubowner, 'USAGE') as owned, obj_description(p.oid, 'pg_publication') as comment
       from pg_publication p where p.pubname = $1`,
    [publication],
  )).rows[0];
  if (!row) return null;
  const tables = (await client.query<TableRef>('select schemaname as schema, tablename as table from pg_publication_tables where pubname = $1 order by 1, 2', [publication])).rows;
  // A partition is published through itself, an ancestor, its schema or FOR ALL TABLES
  // (PostgreSQL's own rule when it checks an UPDATE); the check is on the partition's identity.
  const unwritable = row.breaks
    ? (await client.query<Leaf>(
        `select n.nspname as schema, c.relname as table, c.relreplident::text as identity
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind = 'r' and c.relpersistence = 'p'
            and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
            and not ${WRITABLE('c')}
            and ($2 or exists (
                  select 1 from (select c.oid as relid union all select relid from pg_partition_ancestors(c.oid)) a
                    join pg_class ac on ac.oid = a.relid
                   where exists (select 1 from pg_publication_rel pr where pr.prpubid = $1 and pr.prrelid = a.relid)
                      or exists (select 1 from pg_publication_namespace pn where pn.pnpubid = $1 and pn.pnnspid = ac.relnamespace)))
          order by 1, 2`,
        [row.oid, row.puballtables],
      )).rows
    : [];
  const partitionedWithoutRoot = row.pubviaroot
    ? []
    : (await client.query<TableRef & { member: boolean }>(
        // pg_publication_tables lists the partitions, never the root, whether or not the root
        // itself is in the publication: membership comes from the catalog (ADD TABLE of a member fails).
        `select distinct rn.nspname as schema, r.relname as table,
                $3::bool
                or exists (select 1 from pg_publication_rel pr where pr.prpubid = $2 and pr.prrelid = r.oid)
                or exists (select 1 from pg_publication_namespace pn where pn.pnpubid = $2 and pn.pnnspid = r.relnamespace) as member
           from pg_publication_tables pt
           join pg_namespace n on n.nspname = pt.schemaname
           join pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename and c.relispartition
           cross join lateral (select relid from pg_partition_ancestors(c.oid) offset 1) a
           join pg_class r on r.oid = a.relid and not r.relispartition
           join pg_namespace rn on rn.oid = r.relnamespace
          where pt.pubname = $1 order by 1, 2`,
        [publication, row.oid, row.puballtables],
      )).rows;
  return {
    allTables: row.puballtables,
    publishesUpdatesOrDeletes: row.breaks,
    viaRoot: row.pubviaroot,
    managed: row.comment === MANAGED_COMMENT,
    owned: row.owned,
    tables,
    unwritable,
    partitionedWithoutRoot,
  };
}

export interface PublicationChanges {
  add: SourceTable[];
  drop: TableRef[];
}

/** What a managed publication must add and drop to list exactly the plan's tables. */
export function publicationChanges(plan: PublicationPlan, current: TableRef[]): PublicationChanges {
  const listed = new Set(current.map(tableName));
  const wanted = new Set(plan.tables.map(tableName));
  return {
    add: plan.tables.filter((t) => !listed.has(tableName(t))),
    drop: current.filter((t) => !wanted.has(tableName(t))),
  };
}
