/**
 * Which tables a new snapshot reads and how large each is. The size (in heap blocks) is taken now:
 * rows written after this point arrive through the stream, whole, so the snapshot never has to
 * chase a growing table.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { SnapshotProgress, TableProgress } from './progress.ts';

export async function planSnapshot(client: pg.ClientBase, tables: Array<{ schema: string; table: string }>): Promise<SnapshotProgress> {
  const planned: TableProgress[] = [];
  for (const { schema, table } of tables) {
    const row = (await client.query<{ blocks: string; relkind: string }>(
      `select (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text as blocks, c.relkind::text as relkind
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname = $2`,
      [schema, table],
    )).rows[0];
    if (!row) continue;
    // A partitioned table published through its root has no storage of its own; its partitions are
    // listed (and read) when the publication publishes them.
    if (row.relkind !== 'r') continue;
    planned.push({ schema, table, blocks: Number(row.blocks), doneBelow: 0, doneRanges: [], rows: 0 });
  }
  return { id: randomUUID(), kind: 'initial', startedAtMs: Date.now(), tables: planned };
}
