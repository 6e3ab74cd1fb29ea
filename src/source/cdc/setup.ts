/**
 * Source setup at start: the pre-flight checks (preflight.ts), then idempotent creation of the
 * publication and slot. Every failure names the cause and the SQL an administrator can run;
 * nothing is left half-created.
 */
import type pg from 'pg';
import { ExitCode, WalcastError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { FATAL_AT_START, gatherSourceFacts, sourceChecks, type CheckResult, type SourceFacts, type SourceOptions } from './preflight.ts';
import { quoteIdent } from '../../pg/sql.ts';
import { selectsTable } from '../../pg/table-filter.ts';
import { createPublicationSql, managedCommentSql, type TableRef } from './publication.ts';
import { SlotInUseError } from './slot.ts';

const DUPLICATE_OBJECT = '42710';

export type SourceSetupOptions = SourceOptions;

export interface SourceSetupResult {
  createdSlot: boolean;
  createdPublication: boolean;
  /** Tables the publication covers that the include list selects (roots under publish_via_partition_root). */
  tables: TableRef[];
}

/** Tables the publication covers that the include list selects. */
export async function publishedTables(client: pg.ClientBase, options: SourceSetupOptions): Promise<TableRef[]> {
  const { rows } = await client.query<TableRef>('select schemaname as schema, tablename as table from pg_publication_tables where pubname = $1 order by 1, 2', [options.publication]);
  return rows.filter((t) => selectsTable(options.tables, t.schema, t.table));
}

export interface SourcePlan {
  facts: SourceFacts;
  /** Every check's result; the fatal ones passed. */
  checks: CheckResult[];
  createSlot: boolean;
}

function setupError(message: string, cause?: unknown): WalcastError {
  return new WalcastError('WALCAST_SOURCE_SETUP', message, ExitCode.sourceSetup, { cause });
}

/** The message of a failed check: what was found, then the fix. */
export function checkMessage(result: CheckResult): string {
  return result.fix ? `${result.summary} ${result.fix}` : result.summary;
}

/**
 * Read-only pre-flight checks: everything that can be known before creating anything, so that a
 * setup problem stops walcast before it touches Kafka or PostgreSQL state.
 */
export async function checkSource(client: pg.ClientBase, options: SourceSetupOptions): Promise<SourcePlan> {
  const facts = await gatherSourceFacts(client, options);
  const checks = sourceChecks(facts, options);
  const fatal = checks.find((c) => c.status === 'fail' && FATAL_AT_START.has(c.id));
  if (fatal) throw setupError(checkMessage(fatal));
  return { facts, checks, createSlot: facts.slot === null };
}

/** Logs what the checks found that does not stop walcast (the publication keeper reports writes). */
export function logCheckWarnings(plan: SourcePlan, log: Logger): void {
  for (const check of plan.checks) {
    if (check.id === 'postgres.writes' || check.status === 'pass' || FATAL_AT_START.has(check.id) && check.status === 'fail') continue;
    log.warn({ check: check.id }, checkMessage(check));
  }
}

/** Creates what checkSource found missing; on failure removes what it created. */
export async function createSource(client: pg.ClientBase, options: SourceSetupOptions, plan: SourcePlan, log: Logger): Promise<Omit<SourceSetupResult, 'tables'>> {
  let createdPublication = false;
  const { facts } = plan;
  if (!facts.publication) {
    const sql = createPublicationSql(options.publication, facts.plan.tables);
    try {
      // One implicit transaction: the publication exists marked as walcast's, or not at all.
      await client.query(`${sql}; ${managedCommentSql(options.publication)}`);
      createdPublication = true;
      log.info({ publication: options.publication, tables: facts.plan.tables.length }, 'created publication (tables listed, published through partition roots)');
    } catch (error) {
      // Another instance with this configuration is starting too: it owns the setup, this one stands by.
      if ((error as { code?: string }).code === DUPLICATE_OBJECT) throw new SlotInUseError(options.slot, null, { cause: error });
      throw setupError(`could not create publication ${options.publication}: ${(error as Error).message}. An administrator can run:\n  ${sql};`, error);
    }
  }
  let createdSlot = false;
  if (plan.createSlot) {
    try {
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [options.slot]);
      createdSlot = true;
      log.info({ slot: options.slot }, 'created replication slot');
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Another instance with this configuration created it a moment ago: it is that one's now.
      if (code === DUPLICATE_OBJECT) throw new SlotInUseError(options.slot, null, { cause: error });
      if (createdPublication) await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(options.publication)}`).catch(() => undefined);
      throw setupError(
        `could not create replication slot ${options.slot}: ${(error as Error).message}` +
          (code === '53400' ? ' (raise max_replication_slots, or drop an unused slot)' : '') +
          `. An administrator can run: SELECT pg_create_logical_replication_slot('${options.slot}', 'pgoutput');`,
        error,
      );
    }
  }
  return { createdSlot, createdPublication };
}
