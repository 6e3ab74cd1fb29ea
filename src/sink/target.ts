/**
 * Target tables: what the catalog says they hold, created from the records' schema when missing
 * and given the columns that new fields need (WALCAST_SINK_SCHEMA_EVOLUTION=basic). A field whose
 * values the existing column cannot hold stops the sink with the table, the change and the fix.
 * DDL runs in its own transaction under an advisory lock on the table's name, so sink processes
 * that meet a new table at once do not race.
 */
import type pg from 'pg';
import { WalcastError, ExitCode } from '../errors.ts';
import { quoteIdent } from '../pg/sql.ts';
import type { FieldLayout } from './columns.ts';

export interface TargetName {
  /** null: the table is found through the role's search_path (current_schema()). */
  schema: string | null;
  table: string;
}

export interface TargetTable {
  schema: string;
  table: string;
  /** "schema"."table" */
  quoted: string;
  /** Column name -> format_type(). */
  columns: Map<string, string>;
}

export class SinkSchemaError extends WalcastError {
  constructor(message: string) {
    super('WALCAST_SINK_SCHEMA', message, ExitCode.incompatibleSchema);
    this.name = 'SinkSchemaError';
  }
}

/** Type without modifiers and array brackets: `character varying(20)[]` -> `character varying`. */
function baseOf(type: string): string {
  return type.replace(/\[\]$/, '').replace(/\(.*\)$/, '').trim();
}

function modifiers(type: string): number[] | null {
  const match = /\(([\d,\s]+)\)/.exec(type);
  return match ? match[1]!.split(',').map((n) => Number(n.trim())) : null;
}

const WIDER_NUMBERS: Record<string, readonly string[]> = {
  smallint: ['smallint'],
  integer: ['smallint', 'integer'],
  bigint: ['smallint', 'integer', 'bigint'],
  real: ['smallint', 'real'],
  'double precision': ['smallint', 'integer', 'real', 'double precision'],
  numeric: ['smallint', 'integer', 'bigint', 'numeric'],
};
const INTERCHANGEABLE: readonly (readonly string[])[] = [
  ['timestamp with time zone', 'timestamp without time zone'],
  ['json', 'jsonb'],
  ['time with time zone', 'time without time zone'],
];

/** Can a column of `column` type take every value of a field whose own column type would be `field`? */
export function holds(column: string, field: string): boolean {
  if (column === field) return true;
  const array = column.endsWith('[]');
  if (array !== field.endsWith('[]')) return column === 'text' || column === 'character varying' || column === 'jsonb';
  const c = baseOf(column);
  const f = baseOf(field);
  // Unbounded text takes any value's text.
  if (c === 'text' || (c === 'character varying' && modifiers(column) === null)) return true;
  if (c === f) {
    const cm = modifiers(column);
    const fm = modifiers(field);
    if (cm === null) return true;
    if (fm === null) return false;
    if (c === 'numeric') return cm[1]! >= (fm[1] ?? 0) && cm[0]! - cm[1]! >= fm[0]! - (fm[1] ?? 0);
    return cm[0]! >= fm[0]!;
  }
  if (WIDER_NUMBERS[c]?.includes(f)) return c !== 'numeric' || modifiers(column) === null;
  return INTERCHANGEABLE.some((group) => group.includes(c) && group.includes(f));
}

export interface TargetTablesOptions {
  evolution: 'basic' | 'none';
}

export class TargetTables {
  private readonly options: TargetTablesOptions;
  private readonly known = new Map<string, TargetTable>();
  /** Field layouts already checked against a table (layouts are cached per schema, so this is per schema version). */
  private readonly checked = new WeakMap<readonly FieldLayout[], Set<string>>();

  constructor(options: TargetTablesOptions) {
    this.options = options;
  }

  private cacheKey(name: TargetName): string {
    return `${name.schema ?? ''}\u0000${name.table}`;
  }

  /** Forgets what was read (after a failed transaction, the catalog may differ from the cache). */
  forget(): void {
    this.known.clear();
  }

  /**
   * The table, ready for rows of these fields: created, given missing columns, checked. `where`
   * names the records' topic for messages.
   */
  async prepare(client: pg.ClientBase, name: TargetName, keyFields: readonly FieldLayout[], fields: readonly FieldLayout[], layouts: readonly (readonly FieldLayout[])[], where: string): Promise<TargetTable> {
    const cacheKey = this.cacheKey(name);
    let table = this.known.get(cacheKey) ?? null;
    const fresh = (): boolean => table !== null && [...keyFields, ...fields].every((f) => table!.columns.has(f.name)) && layouts.every((l) => this.checked.get(l)?.has(cacheKey));
    if (fresh()) return table!;
    table = await this.read(client, name);
    if (table === null) {
      if (this.options.evolution === 'none') {
        throw new SinkSchemaError(`target table ${this.display(name)} for ${where} does not exist: create it, or set WALCAST_SINK_SCHEMA_EVOLUTION=basic to let the sink create it`);
      }
      table = await this.create(client, name, keyFields, fields);
    }
    const missing = [...keyFields, ...fields].filter((f) => !table!.columns.has(f.name));
    if (missing.length > 0) {
      if (this.options.evolution === 'none') {
        throw new SinkSchemaError(
          `target table ${table.quoted} has no column ${missing.map((f) => f.name).join(', ')} that ${where} carries: ${missing.map((f) => `ALTER TABLE ${table!.quoted} ADD COLUMN ${quoteIdent(f.name)} ${f.pgType}`).join('; ')}, or set WALCAST_SINK_SCHEMA_EVOLUTION=basic`,
        );
      }
      table = await this.addColumns(client, table, missing);
    }
    for (const layout of layouts) {
      for (const field of layout) {
        const column = table.columns.get(field.name);
        if (column === undefined || field.pgType === column || field.inferred) continue;
        if (!holds(column, field.pgType)) {
          throw new SinkSchemaError(
            `target table ${table.quoted} column ${quoteIdent(field.name)} is ${column}, but ${where} now carries ${field.name} as ${field.pgType}, which it cannot hold: ` +
              `change the column (ALTER TABLE ${table.quoted} ALTER COLUMN ${quoteIdent(field.name)} TYPE ${field.pgType} USING ${quoteIdent(field.name)}::${field.pgType}) or send the topic to another table (WALCAST_SINK_TABLE_NAME_FORMAT), then restart the sink`,
          );
        }
      }
      let set = this.checked.get(layout);
      if (!set) this.checked.set(layout, (set = new Set()));
      set.add(cacheKey);
    }
    this.known.set(cacheKey, table);
    return table;
  }

  /** The table as the catalog has it, or null; never created. */
  async existing(client: pg.ClientBase, name: TargetName): Promise<TargetTable | null> {
    return this.known.get(this.cacheKey(name)) ?? (await this.read(client, name));
  }

  private display(name: TargetName): string {
    return name.schema === null ? quoteIdent(name.table) : `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
  }

  private async read(client: pg.ClientBase, name: TargetName): Promise<TargetTable | null> {
    const { rows } = await client.query<{ schema: string; column: string | null; type: string | null }>(
      `select n.nspname as schema, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where n.nspname = coalesce($1, current_schema()) and c.relname = $2 and c.relkind in ('r', 'p')
       order by a.attnum`,
      [name.schema, name.table],
    );
    if (rows.length === 0) return null;
    const schema = rows[0]!.schema;
    const columns = new Map<string, string>();
    for (const row of rows) if (row.column !== null) columns.set(row.column, row.type!);
    return { schema, table: name.table, quoted: `${quoteIdent(schema)}.${quoteIdent(name.table)}`, columns };
  }

  private async locked<T>(client: pg.ClientBase, name: TargetName, work: () => Promise<T>): Promise<T> {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`walcast-sink:${this.display(name)}`]);
      const result = await work();
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  }

  private async create(client: pg.ClientBase, name: TargetName, keyFields: readonly FieldLayout[], fields: readonly FieldLayout[]): Promise<TargetTable> {
    const keyNames = new Set(keyFields.map((f) => f.name));
    const definitions = [
      ...keyFields.map((f) => `${quoteIdent(f.name)} ${f.pgType} not null`),
      ...fields.filter((f) => !keyNames.has(f.name)).map((f) => `${quoteIdent(f.name)} ${f.pgType}`),
      `primary key (${keyFields.map((f) => quoteIdent(f.name)).join(', ')})`,
    ];
    await this.locked(client, name, async () => {
      if (name.schema !== null) await client.query(`create schema if not exists ${quoteIdent(name.schema)}`);
      await client.query(`create table if not exists ${this.display(name)} (${definitions.join(', ')})`);
    });
    const table = await this.read(client, name);
    if (!table) throw new SinkSchemaError(`target table ${this.display(name)} was created but is not visible: is its schema in the role's search_path?`);
    return table;
  }

  private async addColumns(client: pg.ClientBase, table: TargetTable, missing: readonly FieldLayout[]): Promise<TargetTable> {
    const name = { schema: table.schema, table: table.table };
    await this.locked(client, name, async () => {
      for (const field of missing) await client.query(`alter table ${table.quoted} add column if not exists ${quoteIdent(field.name)} ${field.pgType}`);
    });
    return (await this.read(client, name))!;
  }
}
