/**
 * Catalog lookups the decoder needs beyond what pgoutput sends: primary-key columns and
 * the definitions of non-built-in types (enums, domains, user arrays, extension types).
 */
import type pg from 'pg';
import type { PgType } from '../decode/pg-type.ts';
import { builtinType } from '../decode/codec.ts';

interface TypeRow {
  oid: number;
  typname: string;
  nspname: string;
  typtype: PgType['kind'];
  typelem: number;
  typbasetype: number;
  typtypmod: number;
  typdelim: string;
  typcategory: string;
  labels: string[] | null;
}

export class Catalog {
  private readonly types = new Map<number, PgType>();
  readonly client: pg.ClientBase;

  constructor(client: pg.ClientBase) {
    this.client = client;
  }

  /** Synchronous view for codec construction; call `loadTypes` first. */
  lookup = (oid: number): PgType | undefined => this.types.get(oid) ?? builtinType(oid);

  /** Loads every type reachable from `oids` (array elements, domain bases) that is not built in. */
  async loadTypes(oids: Iterable<number>, refresh = false): Promise<void> {
    let pending = [...new Set(oids)].filter((oid) => refresh || this.lookup(oid) === undefined);
    while (pending.length > 0) {
      const { rows } = await this.client.query<TypeRow>(
        `select t.oid::int as oid, t.typname, n.nspname, t.typtype, t.typelem::int as typelem,
                t.typbasetype::int as typbasetype, t.typtypmod, t.typdelim, t.typcategory,
                (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels
           from pg_type t join pg_namespace n on n.oid = t.typnamespace
          where t.oid = any($1::oid[])`,
        [pending],
      );
      const next: number[] = [];
      for (const row of rows) {
        const type: PgType = { oid: row.oid, name: row.typname, namespace: row.nspname, kind: row.typtype };
        if (row.typcategory === 'A' && row.typelem !== 0) {
          type.elementOid = row.typelem;
          const element = this.lookup(row.typelem);
          type.delimiter = element?.delimiter ?? row.typdelim;
          if (!element) next.push(row.typelem);
        } else {
          type.delimiter = row.typdelim;
        }
        if (row.typtype === 'd' && row.typbasetype !== 0) {
          type.baseOid = row.typbasetype;
          type.baseTypeMod = row.typtypmod;
          if (!this.lookup(row.typbasetype)) next.push(row.typbasetype);
        }
        if (row.labels) type.enumLabels = row.labels;
        this.types.set(row.oid, type);
      }
      pending = next.filter((oid) => !this.types.has(oid));
    }
  }

  /**
   * What pgoutput does not send about a table: primary-key columns in key order (empty without a
   * primary key) and the declared dimensions of array columns.
   */
  async relationDetails(relationId: number): Promise<{ primaryKey: string[]; arrayDimensions: Map<string, number> }> {
    const { rows } = await this.client.query<{ attname: string; attndims: number; key_position: number | null }>(
      `select a.attname, a.attndims,
              (select array_position(i.indkey::int2[], a.attnum)
                 from pg_index i where i.indrelid = a.attrelid and i.indisprimary) as key_position
         from pg_attribute a
        where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped`,
      [relationId],
    );
    const primaryKey = rows
      .filter((r) => r.key_position !== null)
      .sort((a, b) => a.key_position! - b.key_position!)
      .map((r) => r.attname);
    return { primaryKey, arrayDimensions: new Map(rows.filter((r) => r.attndims > 1).map((r) => [r.attname, r.attndims])) };
  }
}

/** A table as pgoutput's Relation message describes it, read from the catalog (for snapshots). */
export interface CatalogRelation {
  relationId: number;
  schema: string;
  table: string;
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: Array<{ name: string; isKey: boolean; typeOid: number; typeMod: number }>;
  /** Events are keyed by the primary key; without one, keys are null. */
  hasPrimaryKey: boolean;
}

/**
 * The columns pgoutput would send for `relationId`, in its order (attnum; no dropped or generated
 * columns), with its key flags (the replica identity's columns), so that a snapshot builds the
 * same table schema as the stream.
 */
export async function catalogRelation(client: pg.ClientBase, relationId: number): Promise<CatalogRelation> {
  const { rows } = await client.query<{ nspname: string; relname: string; relreplident: 'd' | 'n' | 'f' | 'i'; attname: string; atttypid: number; atttypmod: number; is_key: boolean; has_pk: boolean }>(
    `select n.nspname, c.relname, c.relreplident, a.attname, a.atttypid::int as atttypid, a.atttypmod,
            exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary) as has_pk,
            case c.relreplident
              when 'f' then true
              when 'd' then exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary and a.attnum = any (i.indkey))
              when 'i' then exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisreplident and a.attnum = any (i.indkey))
              else false
            end as is_key
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid
      where c.oid = $1::oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
      order by a.attnum`,
    [relationId],
  );
  if (rows.length === 0) throw new Error(`relation ${relationId} has no columns or does not exist`);
  return {
    relationId,
    schema: rows[0]!.nspname,
    table: rows[0]!.relname,
    replicaIdentity: rows[0]!.relreplident,
    columns: rows.map((r) => ({ name: r.attname, isKey: r.is_key, typeOid: r.atttypid, typeMod: r.atttypmod })),
    hasPrimaryKey: rows[0]!.has_pk,
  };
}
