/**
 * The sink's consumed positions, kept in the target database: one row per (group, topic,
 * partition) with the next offset to apply and an owner epoch. The row is updated in the same
 * transaction as the rows it covers, so rows and offsets commit together (exactly once).
 *
 * Fencing: a process that is handed a partition claims it (epoch + 1) before applying anything,
 * and every apply updates the row only where the epoch is still its own and the offset is the one
 * it started from. A process that lost the partition in a rebalance it has not noticed yet (a
 * zombie) then updates no row and rolls its batch back; the row lock taken by that update also
 * orders two processes that race on one partition.
 */
import type pg from 'pg';
import { quoteIdent } from '../pg/sql.ts';

export interface Claim {
  epoch: string;
  /** The next offset to apply; null: nothing applied yet (start where the consumer group does). */
  next: bigint | null;
}

/** `schema.table` or `table` as configured, each part quoted. */
export function quotedTableName(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

export class SinkOffsets {
  private readonly table: string;
  private readonly groupId: string;

  constructor(table: string, groupId: string) {
    this.table = quotedTableName(table);
    this.groupId = groupId;
  }

  /** Creates the table when missing; under an advisory lock, as sink processes starting together would race on it. */
  async ensureTable(client: pg.ClientBase): Promise<void> {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`walcast-sink:${this.table}`]);
      await this.create(client);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  }

  private async create(client: pg.ClientBase): Promise<void> {
    await client.query(
      `create table if not exists ${this.table} (
        group_id text not null,
        topic text not null,
        partition int not null,
        next_offset bigint,
        epoch bigint not null,
        owner text not null,
        updated_at timestamptz not null default now(),
        primary key (group_id, topic, partition))`,
    );
  }

  /** Takes the partition over (outside a transaction): every earlier owner's apply fails from now on. */
  async claim(client: pg.ClientBase, topic: string, partition: number, owner: string): Promise<Claim> {
    const { rows } = await client.query<{ next_offset: string | null; epoch: string }>(
      `insert into ${this.table} as o (group_id, topic, partition, next_offset, epoch, owner) values ($1, $2, $3, null, 1, $4)
       on conflict (group_id, topic, partition) do update set epoch = o.epoch + 1, owner = excluded.owner, updated_at = now()
       returning next_offset::text, epoch::text`,
      [this.groupId, topic, partition, owner],
    );
    const row = rows[0]!;
    return { epoch: row.epoch, next: row.next_offset === null ? null : BigInt(row.next_offset) };
  }

  /**
   * Inside the apply transaction, first: moves the offset from `expected` to `next` when the epoch
   * is still `epoch`. false: another process owns the partition now (or applied past `expected`).
   */
  async advance(client: pg.ClientBase, topic: string, partition: number, epoch: string, expected: bigint | null, next: bigint): Promise<boolean> {
    const result = await client.query(
      `update ${this.table} set next_offset = $5, updated_at = now()
       where group_id = $1 and topic = $2 and partition = $3 and epoch = $4 and next_offset is not distinct from $6`,
      [this.groupId, topic, partition, epoch, next.toString(), expected === null ? null : expected.toString()],
    );
    return result.rowCount === 1;
  }

  /** The group's applied positions (rows with an offset), by topic and partition. */
  async list(client: pg.ClientBase): Promise<Array<{ topic: string; partition: number; next: bigint }>> {
    const { rows } = await client.query<{ topic: string; partition: number; next_offset: string }>(
      `select topic, partition, next_offset::text from ${this.table} where group_id = $1 and next_offset is not null order by topic, partition`,
      [this.groupId],
    );
    return rows.map((r) => ({ topic: r.topic, partition: r.partition, next: BigInt(r.next_offset) }));
  }

  /**
   * Sets a partition's next offset from outside the sink (null: nothing applied, start where the
   * consumer group does), bumping the epoch as a claim does: a sink process still holding the
   * partition (a zombie) then applies nothing more, so it cannot overwrite the change.
   */
  async set(client: pg.ClientBase, topic: string, partition: number, next: bigint | null, owner: string): Promise<void> {
    await client.query(
      `insert into ${this.table} as o (group_id, topic, partition, next_offset, epoch, owner) values ($1, $2, $3, $4, 1, $5)
       on conflict (group_id, topic, partition) do update set next_offset = excluded.next_offset, epoch = o.epoch + 1, owner = excluded.owner, updated_at = now()`,
      [this.groupId, topic, partition, next === null ? null : next.toString(), owner],
    );
  }

  /** Forgets every position of the group, fencing its owners as set() does. */
  async clear(client: pg.ClientBase, owner: string): Promise<void> {
    await client.query(`update ${this.table} set next_offset = null, epoch = epoch + 1, owner = $2, updated_at = now() where group_id = $1`, [this.groupId, owner]);
  }
}
