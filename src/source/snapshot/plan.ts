/**
 * Which tables a new snapshot reads and how large each is. The size (in heap blocks) is taken now:
 * rows written after this point arrive through the stream, whole, so the snapshot never has to
 * chase a growing table.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName } from '../../pg/sql.ts';
import type { SnapshotProgress, TableProgress } from './progress.ts';

export async function planSnapshot(client: pg.ClientBase, tables: Array<{ schema: string; table: string }>, kind: SnapshotProgress['kind'] = 'initial'): Promise<SnapshotProgress> {
  const planned: TableProgress[] = [];
  for (const { schema, table } of tables) {
    const row = (await client.query<{ blocks: string; relkind: string; file_node: number | null }>(
      `select (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text as blocks, c.relkind::text as relkind,
              pg_relation_filenode(c.oid)::int8::float8 as file_node
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname = $2`,
      [schema, table],
    )).rows[0];
    if (!row) continue;
    if (row.relkind === 'r') planned.push({ schema, table, ...(row.file_node !== null ? { fileNode: row.file_node } : {}), blocks: Number(row.blocks), doneBelow: 0, doneRanges: [], rows: 0 });
    // Published through its root: read each partition, publish under the root (as the stream does).
    if (row.relkind === 'p') planned.push(...(await partitions(client, schema, table)));
  }
  return { id: randomUUID(), kind, startedAtMs: Date.now(), tables: planned };
}

async function partitions(client: pg.ClientBase, schema: string, table: string): Promise<TableProgress[]> {
  const { rows } = await client.query<{ schema: string; table: string; blocks: string; file_node: number | null }>(
    `select n.nspname as schema, c.relname as table, (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text as blocks,
            pg_relation_filenode(c.oid)::int8::float8 as file_node
       from pg_partition_tree(to_regclass($1)) p
       join pg_class c on c.oid = p.relid join pg_namespace n on n.oid = c.relnamespace
      where p.isleaf and c.relkind = 'r'
      order by 1, 2`,
    [qualifiedName(schema, table)],
  );
  return rows.map((r) => ({ schema: r.schema, table: r.table, root: { schema, table }, ...(r.file_node !== null ? { fileNode: r.file_node } : {}), blocks: Number(r.blocks), doneBelow: 0, doneRanges: [], rows: 0 }));
}
