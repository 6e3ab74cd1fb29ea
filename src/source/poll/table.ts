/**
 * A polled table as the JDBC source connector sees it: resolved like an unqualified query would
 * (search_path), each column with its Connect field (encode/connect-json.ts) and the SQL that
 * selects its value in the form that field needs (exact text for 64-bit integers and numerics,
 * epoch milliseconds for timestamps in db.timezone).
 */
import type pg from 'pg';
import type { ConnectField } from '../../encode/connect-json.ts';
import { WalcastError, ExitCode } from '../../errors.ts';
import { qualifiedName, quoteIdent, quoteLiteral } from '../../pg/sql.ts';

export interface PolledColumn {
  field: ConnectField;
  /** The select-list expression giving the value (aliased to the column name; the table is `t`). */
  select: string;
  /** information_schema's data_type. */
  dataType: string;
}

export interface PolledTable {
  /** As named in table.whitelist. */
  configured: string;
  schema: string;
  table: string;
  /** schema.table, quoted; for a query, the query in parentheses. */
  sql: string;
  /** Polled through the `query` setting (no table: no row xmin to read below the oldest transaction). */
  query: boolean;
  topic: string;
  columns: PolledColumn[];
}

const LOGICAL = {
  decimal: 'org.apache.kafka.connect.data.Decimal',
  date: 'org.apache.kafka.connect.data.Date',
  time: 'org.apache.kafka.connect.data.Time',
  timestamp: 'org.apache.kafka.connect.data.Timestamp',
};

interface CatalogColumn {
  name: string;
  data_type: string;
  precision: number | null;
  scale: number | null;
  nullable: boolean;
}

/** The Connect field and select expression of one column (the JDBC connector's type mapping, with text for types it would drop). */
export function polledColumn(column: CatalogColumn, timeZone: string, numericMapping: 'none' | 'best_fit'): PolledColumn {
  // The polling query names the table `t` (query.ts).
  const c = `t.${quoteIdent(column.name)}`;
  const as = ` as ${quoteIdent(column.name)}`;
  const base = { field: column.name, optional: column.nullable };
  const make = (field: Omit<ConnectField, 'field' | 'optional'>, select: string): PolledColumn => ({ field: { ...base, ...field }, select: select + as, dataType: column.data_type });
  switch (column.data_type) {
    case 'smallint':
      return make({ type: 'int16', kind: 'number' }, c);
    case 'integer':
      return make({ type: 'int32', kind: 'number' }, c);
    case 'bigint':
      return make({ type: 'int64', kind: 'integer-text' }, `${c}::text`);
    case 'real':
      return make({ type: 'float32', kind: 'number' }, c);
    case 'double precision':
      return make({ type: 'float64', kind: 'number' }, c);
    case 'boolean':
      return make({ type: 'boolean', kind: 'boolean' }, c);
    case 'bytea':
      return make({ type: 'bytes', kind: 'bytes' }, c);
    case 'numeric': {
      const { precision, scale } = column;
      // Unconstrained numeric has no scale a Decimal could declare: its exact text instead.
      if (precision === null || scale === null) return make({ type: 'string', kind: 'string' }, `${c}::text`);
      if (numericMapping === 'best_fit' && scale === 0 && precision < 19) {
        const type = precision < 3 ? 'int8' : precision < 5 ? 'int16' : precision < 10 ? 'int32' : 'int64';
        return make({ type, kind: 'integer-text' }, `${c}::text`);
      }
      if (numericMapping === 'best_fit' && scale > 0) return make({ type: 'float64', kind: 'number' }, `${c}::float8`);
      return make({ type: 'bytes', kind: 'decimal', name: LOGICAL.decimal, scale, parameters: { scale: String(scale), 'connect.decimal.precision': String(precision) } }, `${c}::text`);
    }
    case 'date':
      return make({ type: 'int32', kind: 'number', name: LOGICAL.date }, `(${c} - date '1970-01-01')`);
    case 'time without time zone':
      return make({ type: 'int32', kind: 'number', name: LOGICAL.time }, `(extract(epoch from ${c}) * 1000)::int4`);
    case 'timestamp without time zone':
      // Wall-clock values mean instants in db.timezone, said explicitly rather than left to the session.
      return make({ type: 'int64', kind: 'number', name: LOGICAL.timestamp }, `floor(extract(epoch from (${c} at time zone ${quoteLiteral(timeZone)})) * 1000)::int8`);
    case 'timestamp with time zone':
      return make({ type: 'int64', kind: 'number', name: LOGICAL.timestamp }, `floor(extract(epoch from ${c}) * 1000)::int8`);
    default:
      // Text types, and what the JDBC connector would drop (uuid, json, arrays, intervals...): their text.
      return make({ type: 'string', kind: 'string' }, `${c}::text`);
  }
}

export class PolledTableError extends WalcastError {
  constructor(message: string) {
    super('WALCAST_POLL_TABLE', message, ExitCode.sourceSetup);
  }
}

/** Resolves a table.whitelist entry and reads its columns. */
export async function describeTable(client: pg.ClientBase, configured: string, topicPrefix: string, timeZone: string, numericMapping: 'none' | 'best_fit'): Promise<PolledTable> {
  const found = (await client.query<{ schema: string; table: string }>(
    'select n.nspname as schema, c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)',
    [configured],
  )).rows[0];
  if (!found) throw new PolledTableError(`table ${configured} (table.whitelist) does not exist or is not visible to the connecting role (search_path: public unless qualified)`);
  const columns = (await client.query<CatalogColumn>(
    `select column_name as name, data_type, numeric_precision as precision, numeric_scale as scale, is_nullable = 'YES' as nullable
       from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [found.schema, found.table],
  )).rows;
  return {
    configured,
    ...found,
    sql: qualifiedName(found.schema, found.table),
    query: false,
    topic: topicPrefix + found.table,
    columns: columns.map((column) => polledColumn(column, timeZone, numericMapping)),
  };
}

/** The temporary view a query's columns are described through (the catalog then types them as a table's). */
const QUERY_VIEW = 'walcast_poll_query';

/**
 * The `query` setting as a polled "table": its result columns, typed by the catalog through a
 * temporary view (dropped again), each with its Connect field. Topic: `topic.prefix` itself.
 */
export async function describeQuery(client: pg.ClientBase, query: string, topicPrefix: string, timeZone: string, numericMapping: 'none' | 'best_fit'): Promise<PolledTable> {
  let columns: CatalogColumn[];
  try {
    await client.query(`create or replace temporary view ${QUERY_VIEW} as ${query}`);
    columns = (await client.query<CatalogColumn>(
      `select column_name as name, data_type, numeric_precision as precision, numeric_scale as scale, true as nullable
         from information_schema.columns where table_schema = (select nspname from pg_namespace where oid = pg_my_temp_schema()) and table_name = $1 order by ordinal_position`,
      [QUERY_VIEW],
    )).rows;
    await client.query(`drop view ${QUERY_VIEW}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Syntax and name errors are the query's: fix the setting. Others (privileges, connection) keep their own handling.
    if (code === '42601' || code === '42P01' || code === '42703' || code === '42883') throw new PolledTableError(`query: PostgreSQL refuses it: ${(error as Error).message}`);
    throw error;
  }
  return { configured: query, schema: '', table: '', sql: `(${query})`, query: true, topic: topicPrefix, columns: columns.map((column) => polledColumn(column, timeZone, numericMapping)) };
}
