/**
 * Applies one partition's batch in one PostgreSQL transaction: the offsets row first (fenced
 * compare-and-set, offsets.ts), then per target table the folded rows (fold.ts) COPYed into a
 * temporary staging table and applied with one set-based statement per kind:
 *
 *   DELETE FROM t USING stage WHERE op = 'd' AND keys match
 *   INSERT INTO t SELECT ... FROM stage WHERE op = 'u' ON CONFLICT (key) DO UPDATE SET ...
 *   rows with unchanged TOAST values: UPDATE t SET col = CASE WHEN kept THEN t.col ELSE s.col END,
 *   then INSERT ... ON CONFLICT DO NOTHING for those not in the table (their kept columns null)
 *
 * Each key appears once per segment after folding, so the statements' order does not matter.
 * Staging tables are temporary, ON COMMIT DELETE ROWS, and created once per connection and shape.
 */
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { quoteIdent } from '../pg/sql.ts';
import { KEEP, type FieldLayout } from './columns.ts';
import type { ChangeOp, SinkChange } from './decode.ts';
import { fold, type FoldOptions, type RowsSegment } from './fold.ts';
import type { SinkOffsets } from './offsets.ts';
import type { TargetName, TargetTable, TargetTables } from './target.ts';

export interface BatchPosition {
  topic: string;
  partition: number;
  epoch: string;
  /** The offsets row's next_offset this batch starts from (null: none recorded yet). */
  expected: bigint | null;
  /** next_offset once the batch is applied. */
  next: bigint;
}

export interface TableCounts {
  /** schema.table of the target. */
  table: string;
  counts: Record<ChangeOp, number>;
}

export interface BatchResult {
  tables: TableCounts[];
  /** Rows written (after folding): the COPY's size. */
  rows: number;
}

export interface ApplierOptions {
  /** WALCAST_SINK_TABLE_NAME_FORMAT */
  tableNameFormat: string;
  fold: FoldOptions;
  tables: TargetTables;
  offsets: SinkOffsets;
}

/** Where `${...}` of the table name format come from. */
function substitute(part: string, change: SinkChange): string {
  return part.replace(/\$\{(source\.schema|source\.table|source\.db|topic|topic_underscored)\}/g, (_, name: string) =>
    name === 'topic'
      ? change.topic
      : name === 'topic_underscored'
        ? change.topic.replaceAll('.', '_')
        : name === 'source.db'
          ? change.source.db
          : name === 'source.schema'
            ? change.source.schema
            : change.source.table,
  );
}

/** COPY text format: backslash, newline, carriage return and tab escaped; NULL is \N. */
function copyField(text: string | null): string {
  if (text === null) return '\\N';
  return /[\\\n\r\t]/.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t')) : text;
}

interface PlannedTable {
  table: TargetTable | null;
  name: TargetName;
  steps: Array<PreparedSegment | 'truncate'>;
  counts: Record<ChangeOp, number>;
}

interface PreparedSegment {
  segment: RowsSegment;
  table: TargetTable;
  stage: string;
  keyNames: string[];
  columnNames: string[];
}

export class BatchApplier {
  private readonly options: ApplierOptions;
  private readonly formatParts: string[];
  /** Staging table by target table and column list, on the current connection. */
  private readonly stages = new Map<string, string>();
  /** Staging tables created on this connection: names are never reused, even after a savepoint dropped one. */
  private stagesCreated = 0;
  /** Target table names by topic and source table. */
  private readonly names = new Map<string, TargetName>();
  private lastName: { topic: string; db: string; schema: string; table: string; name: TargetName } | null = null;
  /** Staging tables filled in the current transaction: a second segment of the same shape must not see the first's rows. */
  private readonly filled = new Set<string>();

  constructor(options: ApplierOptions) {
    this.options = options;
    // Dots inside ${...} belong to the placeholder, not to the schema.table split.
    this.formatParts = options.tableNameFormat.match(/(?:\$\{[^}]*\}|[^.])+/g) ?? [options.tableNameFormat];
  }

  /** A new connection has no staging tables. */
  reset(): void {
    this.stages.clear();
    this.stagesCreated = 0;
    this.options.tables.forget();
  }

  targetName(change: SinkChange): TargetName {
    // Per change on the hot path: most batches hold one table, so the last answer first (strings
    // compared, no key built), then the substitution once per topic and source table.
    const last = this.lastName;
    if (last && last.topic === change.topic && last.db === change.source.db && last.schema === change.source.schema && last.table === change.source.table) return last.name;
    const id = `${change.topic}\u0000${change.source.db}\u0000${change.source.schema}\u0000${change.source.table}`;
    let name = this.names.get(id);
    if (!name) {
      const parts = this.formatParts.map((p) => substitute(p, change));
      name = parts.length === 1 ? { schema: null, table: parts[0]! } : { schema: parts.slice(0, -1).join('.'), table: parts[parts.length - 1]! };
      this.names.set(id, name);
    }
    this.lastName = { topic: change.topic, db: change.source.db, schema: change.source.schema, table: change.source.table, name };
    return name;
  }

  /**
   * Applies `changes` (one partition, offset order); 'fenced' when another process owns the
   * partition. `beforeCommit` runs last inside the transaction (the batch's dead letters).
   */
  async apply(client: pg.ClientBase, changes: readonly SinkChange[], position: BatchPosition, beforeCommit?: (client: pg.ClientBase) => Promise<void>): Promise<BatchResult | 'fenced'> {
    // Tables and staging are prepared before the transaction: DDL commits on its own.
    const work = await this.plan(client, changes);
    let rows = 0;
    this.filled.clear();
    // Not waiting for the WAL flush is safe here: rows and offsets are one transaction, so a
    // target crash that loses it loses both, and the sink applies those records again from Kafka
    // (Kafka's group offsets are only a hint; the sink seeks back to the offsets table). A batch
    // with dead letters commits synchronously (dead-letters.ts): they leave for Kafka after it.
    await client.query('begin; set local synchronous_commit = off');
    try {
      const owned = await this.options.offsets.advance(client, position.topic, position.partition, position.epoch, position.expected, position.next);
      if (!owned) {
        await client.query('rollback');
        return 'fenced';
      }
      rows = await this.run(client, work);
      await beforeCommit?.(client);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      this.options.tables.forget();
      throw error;
    }
    return { rows, tables: this.counted(work) };
  }

  /**
   * The rare path after a batch failed on its data: applies it again in halves under savepoints,
   * down to the single changes the target refuses (`refused` tells a data error from any other).
   * Applying consecutive parts one after the other equals applying the batch, as folding does.
   * `beforeCommit` gets the refused changes: it throws to roll everything back (tolerance none)
   * or records them (dead letters) to commit with the rest.
   */
  async applyIsolating(
    client: pg.ClientBase,
    changes: readonly SinkChange[],
    position: BatchPosition,
    refused: (error: unknown) => boolean,
    beforeCommit: (client: pg.ClientBase, failures: ReadonlyArray<{ change: SinkChange; error: Error }>) => Promise<void>,
  ): Promise<BatchResult | 'fenced'> {
    const failures: Array<{ change: SinkChange; error: Error }> = [];
    const tables: TableCounts[] = [];
    let rows = 0;
    let savepoints = 0;
    const attempt = async (part: readonly SinkChange[]): Promise<void> => {
      if (part.length === 0) return;
      const savepoint = `walcast_part_${++savepoints}`;
      const stagesBefore = new Set(this.stages.keys());
      await client.query(`savepoint ${savepoint}`);
      try {
        const work = await this.plan(client, part);
        const written = await this.run(client, work);
        await client.query(`release savepoint ${savepoint}`);
        rows += written;
        tables.push(...this.counted(work));
      } catch (error) {
        if (!refused(error)) throw error;
        await client.query(`rollback to savepoint ${savepoint}`);
        // Staging tables and columns created inside the savepoint are gone with it.
        for (const id of this.stages.keys()) if (!stagesBefore.has(id)) this.stages.delete(id);
        this.options.tables.forget();
        if (part.length === 1) {
          failures.push({ change: part[0]!, error: error as Error });
          return;
        }
        const half = Math.ceil(part.length / 2);
        await attempt(part.slice(0, half));
        await attempt(part.slice(half));
      }
    };
    this.filled.clear();
    await client.query('begin');
    try {
      const owned = await this.options.offsets.advance(client, position.topic, position.partition, position.epoch, position.expected, position.next);
      if (!owned) {
        await client.query('rollback');
        return 'fenced';
      }
      await attempt(changes);
      await beforeCommit(client, failures);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      this.options.tables.forget();
      throw error;
    }
    return { rows, tables };
  }

  private counted(work: PlannedTable[]): TableCounts[] {
    return work.map(({ table, name, counts }) => ({ table: table ? `${table.schema}.${table.table}` : `${name.schema ?? ''}.${name.table}`, counts }));
  }

  /** Groups by target table (keeping each table's order), folds, and prepares tables and staging. */
  private async plan(client: pg.ClientBase, changes: readonly SinkChange[]): Promise<PlannedTable[]> {
    const byTable = new Map<string, { name: TargetName; changes: SinkChange[] }>();
    for (const change of changes) {
      const name = this.targetName(change);
      const id = `${name.schema ?? ''}\u0000${name.table}`;
      let group = byTable.get(id);
      if (!group) byTable.set(id, (group = { name, changes: [] }));
      group.changes.push(change);
    }
    const work: PlannedTable[] = [];
    for (const { name, changes: tableChanges } of byTable.values()) {
      const folded = fold(tableChanges, this.options.fold);
      const where = `topic ${tableChanges[0]!.topic}`;
      const layouts = [...new Set(tableChanges.filter((c) => c.row !== null).map((c) => c.fields))];
      let table: TargetTable | null = null;
      const steps: Array<PreparedSegment | 'truncate'> = [];
      for (const segment of folded.segments) {
        if (segment.kind === 'truncate') {
          steps.push('truncate');
          continue;
        }
        table = await this.options.tables.prepare(client, name, segment.keyFields, segment.columns, layouts, where);
        steps.push(await this.stageFor(client, table, segment));
      }
      // Only truncates: a table that does not exist has nothing to truncate.
      if (table === null && steps.length > 0) table = await this.options.tables.existing(client, name);
      work.push({ table, name, steps, counts: folded.counts });
    }
    return work;
  }

  private async run(client: pg.ClientBase, work: PlannedTable[]): Promise<number> {
    let rows = 0;
    for (const { table, steps } of work) {
      for (const step of steps) {
        if (step === 'truncate') {
          if (table) await client.query(`truncate ${table.quoted}`);
          continue;
        }
        rows += await this.applySegment(client, step);
      }
    }
    return rows;
  }

  private async stageFor(client: pg.ClientBase, table: TargetTable, segment: RowsSegment): Promise<PreparedSegment> {
    const keyNames = segment.keyFields.map((f) => f.name);
    const columnNames = segment.columns.map((f) => f.name);
    const definitions = [...keyNames, ...columnNames].map((n) => `${quoteIdent(n)} ${table.columns.get(n)!}`);
    const id = `${table.quoted}(${definitions.join(',')})`;
    let stage = this.stages.get(id);
    if (!stage) {
      stage = `walcast_stage_${++this.stagesCreated}`;
      await client.query(`create temporary table if not exists ${stage} (${definitions.join(', ')}, "__op" "char" not null, "__keep" int[]) on commit delete rows`);
      this.stages.set(id, stage);
    }
    return { segment, table, stage, keyNames, columnNames };
  }

  /** COPY the segment's entries into its staging table, then the set-based statements. Returns the rows staged. */
  private async applySegment(client: pg.ClientBase, prepared: PreparedSegment): Promise<number> {
    const { segment, table, stage, keyNames, columnNames } = prepared;
    const keyTypes = keyNames.map((n) => table.columns.get(n)!);
    const columnTypes = columnNames.map((n) => table.columns.get(n)!);
    const columnIndex = new Map(columnNames.map((n, i) => [n, i]));
    /** Per field layout, where each of its fields goes among the staged columns (-1: a key field). */
    const placement = new Map<readonly FieldLayout[], number[]>();
    let deletes = 0;
    let plain = 0;
    let keeps = 0;
    const lines: string[] = [];
    for (const entry of segment.entries) {
      const cells: string[] = new Array<string>(keyNames.length + columnNames.length + 2);
      for (let k = 0; k < keyNames.length; k++) {
        const v = entry.key[k];
        cells[k] = copyField(v === null || v === undefined ? null : segment.keyFields[k]!.text(v, keyTypes[k]!));
      }
      const base = keyNames.length;
      if (entry.kind === 'delete') {
        for (let c = 0; c < columnNames.length; c++) cells[base + c] = '\\N';
        cells[base + columnNames.length] = 'd';
        cells[base + columnNames.length + 1] = '\\N';
        deletes += 1;
      } else {
        let slots = placement.get(entry.fields);
        if (!slots) placement.set(entry.fields, (slots = entry.fields.map((f) => columnIndex.get(f.name) ?? -1)));
        // A column this entry's schema lacks keeps the target's value, like unchanged TOAST.
        const kept: number[] = [];
        const filled = new Array<boolean>(columnNames.length).fill(false);
        for (let i = 0; i < entry.fields.length; i++) {
          const c = slots[i]!;
          if (c < 0) continue;
          const v = entry.values[i];
          filled[c] = true;
          if (v === KEEP) {
            kept.push(c + 1);
            cells[base + c] = '\\N';
          } else {
            cells[base + c] = copyField(v === null || v === undefined ? null : entry.fields[i]!.text(v, columnTypes[c]!));
          }
        }
        for (let c = 0; c < columnNames.length; c++) {
          if (!filled[c]) {
            kept.push(c + 1);
            cells[base + c] = '\\N';
          }
        }
        cells[base + columnNames.length] = 'u';
        cells[base + columnNames.length + 1] = kept.length > 0 ? `{${kept.join(',')}}` : '\\N';
        if (kept.length > 0) keeps += 1;
        else plain += 1;
      }
      lines.push(cells.join('\t'));
    }
    const quotedKeys = keyNames.map(quoteIdent);
    const quotedColumns = columnNames.map(quoteIdent);
    const all = [...quotedKeys, ...quotedColumns];
    // ON COMMIT DELETE ROWS empties it only at commit: a batch split by a truncate, or applied in parts, fills it again before.
    if (this.filled.has(stage)) await client.query(`truncate ${stage}`);
    this.filled.add(stage);
    await this.copy(client, `copy ${stage} (${[...all, '"__op"', '"__keep"'].join(', ')}) from stdin`, lines);
    const keyMatch = quotedKeys.map((k) => `t.${k} = s.${k}`).join(' and ');
    const t = table.quoted;
    if (deletes > 0) await client.query(`delete from ${t} as t using ${stage} s where s."__op" = 'd' and ${keyMatch}`);
    if (plain > 0) {
      const update = quotedColumns.length > 0 ? `do update set ${quotedColumns.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'do nothing';
      await client.query(`insert into ${t} (${all.join(', ')}) select ${all.join(', ')} from ${stage} where "__op" = 'u' and "__keep" is null on conflict (${quotedKeys.join(', ')}) ${update}`);
    }
    if (keeps > 0) {
      if (quotedColumns.length > 0) {
        const sets = quotedColumns.map((c, i) => `${c} = case when ${i + 1} = any(s."__keep") then t.${c} else s.${c} end`).join(', ');
        await client.query(`update ${t} as t set ${sets} from ${stage} s where s."__op" = 'u' and s."__keep" is not null and ${keyMatch}`);
      }
      await client.query(`insert into ${t} (${all.join(', ')}) select ${all.join(', ')} from ${stage} where "__op" = 'u' and "__keep" is not null on conflict (${quotedKeys.join(', ')}) do nothing`);
    }
    return segment.entries.length;
  }

  private async copy(client: pg.ClientBase, sql: string, lines: string[]): Promise<void> {
    const stream = client.query(copyStreams.from(sql));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    // Chunks of a few hundred KiB: one write per row would cost a callback each.
    const CHUNK_LINES = 2000;
    for (let i = 0; i < lines.length; i += CHUNK_LINES) {
      const chunk = lines.slice(i, i + CHUNK_LINES).join('\n') + '\n';
      if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
    }
    stream.end();
    await done;
  }
}
