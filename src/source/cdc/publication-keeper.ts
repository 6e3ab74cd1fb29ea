/**
 * Keeps walcast's publication in step with the include list while the connector runs, and
 * reports what any publication does to the application's writes (publication.ts says why).
 *
 * At every start and then every WALCAST_PUBLICATION_REFRESH_INTERVAL_MS, on a publication walcast
 * created: tables created since that the include list selects and that are writable are added;
 * tables that stopped being selected or lost their replica identity are dropped. PostgreSQL
 * publishes a table's changes from the ALTER PUBLICATION on: rows written to a new table before
 * it joined are not streamed (a warning says so when the table already held rows). A publication
 * walcast did not create is only inspected.
 */
import type pg from 'pg';
import type { ConnectorStats } from '../../connector.ts';
import type { Logger } from '../../log.ts';
import { qualifiedName, quoteIdent } from '../../pg/sql.ts';
import {
  inspectPublication,
  planPublication,
  publicationChanges,
  replicaIdentityFix,
  sourceTables,
  tableName,
  unwritableReason,
  type PublicationChanges,
  type PublicationPlan,
  type PublicationState,
} from './publication.ts';
import type { SourceOptions } from './preflight.ts';

/** An ALTER PUBLICATION waits at most this long for a table lock (autovacuum, long DDL). */
const LOCK_TIMEOUT = '5s';

export class PublicationKeeper {
  private readonly client: pg.ClientBase;
  private readonly options: SourceOptions;
  private readonly log: Logger;
  private readonly stats: ConnectorStats;
  /** Warnings already given this session, so a refresh repeats none. */
  private readonly warned = new Set<string>();
  private running: Promise<boolean> | null = null;

  constructor(client: pg.ClientBase, options: SourceOptions, log: Logger, stats: ConnectorStats) {
    this.client = client;
    this.options = options;
    this.log = log.child({ component: 'publication', publication: options.publication });
    this.stats = stats;
  }

  /** One refresh, true when it changed the publication; a refresh still running is awaited instead of overlapped. */
  sync(): Promise<boolean> {
    this.running ??= this.refresh().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async refresh(): Promise<boolean> {
    const plan = planPublication(await sourceTables(this.client), this.options.tables);
    let publication = await inspectPublication(this.client, this.options.publication);
    if (!publication) return false;
    let changed = false;
    if (publication.managed) {
      const changes = publicationChanges(plan, publication.tables);
      if (changes.add.length > 0 || changes.drop.length > 0) {
        changed = await this.apply(changes);
        if (changed) publication = (await inspectPublication(this.client, this.options.publication)) ?? publication;
      }
    }
    this.report(plan, publication);
    return changed;
  }

  /** true when the publication changed. */
  private async apply(changes: PublicationChanges): Promise<boolean> {
    const name = quoteIdent(this.options.publication);
    const statements = [
      ...(changes.add.length > 0 ? [`ALTER PUBLICATION ${name} ADD TABLE ${changes.add.map((t) => qualifiedName(t.schema, t.table)).join(', ')}`] : []),
      ...(changes.drop.length > 0 ? [`ALTER PUBLICATION ${name} DROP TABLE ${changes.drop.map((t) => qualifiedName(t.schema, t.table)).join(', ')}`] : []),
    ];
    try {
      // One implicit transaction; SET LOCAL keeps the lock timeout to it.
      await this.client.query([`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, ...statements].join('; '));
    } catch (error) {
      const key = `apply:${statements.join(';')}`;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.log.warn(
          { err: error },
          `could not update the publication (${(error as Error).message}); tried again every refresh. An administrator can run: ${statements.join('; ')};`,
        );
      }
      return false;
    }
    for (const table of changes.add) {
      const held = await this.client.query(`select exists (select 1 from ${qualifiedName(table.schema, table.table)}) as held`).then(
        (r) => (r.rows[0] as { held: boolean }).held,
        () => null,
      );
      const fields = { table: tableName(table) };
      if (held) {
        this.log.warn(
          fields,
          `table added to the publication: its changes are captured from now on; the rows it already held are not in Kafka. To publish them: walcast snapshot ${tableName(table)} (an incremental snapshot, docs/snapshots.md)`,
        );
      } else {
        this.log.info(fields, 'table added to the publication: its changes are captured from now on');
      }
    }
    for (const table of changes.drop) {
      this.log.warn({ table: tableName(table) }, 'table dropped from the publication: it is no longer selected by WALCAST_TABLES, or lost its replica identity (see the warning before); its changes are no longer captured');
    }
    return true;
  }

  private report(plan: PublicationPlan, publication: PublicationState): void {
    const warnOnce = (key: string, fields: Record<string, unknown>, message: string): void => {
      if (this.warned.has(key)) return;
      this.warned.add(key);
      this.log.warn(fields, message);
    };
    if (publication.managed) {
      this.stats.excludedTables = plan.excluded.map((e) => tableName(e.table));
      for (const { table, reason, fix } of plan.excluded) {
        warnOnce(`excluded:${tableName(table)}:${reason}`, { table: tableName(table) }, `table left out of the publication: ${reason}. Fix: ${fix}; or name it exactly in WALCAST_TABLES to publish it as it is`);
      }
      for (const table of plan.namedUnwritable) {
        warnOnce(`named:${tableName(table)}`, { table: tableName(table) }, `table published because WALCAST_TABLES names it: ${unwritableReason(table)}. Fix: ${replicaIdentityFix(table)}`);
      }
    } else {
      // Not walcast's to change: tables it leaves out are the administrator's choice (what it
      // misses, and partitions published one by one, are the start-up check's warnings).
      this.stats.excludedTables = [];
      for (const leaf of publication.unwritable) {
        warnOnce(
          `unwritable:${tableName(leaf)}`,
          { table: tableName(leaf) },
          `publication ${this.options.publication} (not created by walcast) makes ${tableName(leaf)} unwritable: PostgreSQL rejects its UPDATEs and DELETEs while it is published without a replica identity. Fix: ALTER TABLE ${qualifiedName(leaf.schema, leaf.table)} REPLICA IDENTITY FULL; (or add a primary key)`,
        );
      }
    }
    this.stats.unwritableTables = publication.unwritable.map(tableName);
  }
}
