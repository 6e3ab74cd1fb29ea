/**
 * `walcast setup --print`: the SQL an administrator runs once so that walcast needs no privilege
 * beyond REPLICATION and SELECT: a least-privilege role, replica identities for the selected
 * tables that lack one, and the publication. The statements' text lives in sql/ (role.sql,
 * replica-identity.sql, publication.sql); this fills in the names, from the catalog and the
 * include list. Prints only: it changes nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qualifiedName, quoteIdent } from '../pg/sql.ts';
import { createPublicationSql, planPublication, tableName, type SourceTable } from '../source/cdc/publication.ts';

const SQL_DIR = join(import.meta.dirname, '..', '..', 'sql');

export interface SetupSqlInput {
  database: string;
  /** The role walcast will connect as. */
  role: string;
  publication: string;
  /** WALCAST_TABLES patterns (empty: every table). */
  patterns: string[];
  tables: SourceTable[];
}

/** Fills `{{name}}` placeholders; a placeholder without a value is a bug in the template or here. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`internal: no value for {{${name}}} in an sql/ template`);
    return value;
  });
}

function template(name: string): string {
  return readFileSync(join(SQL_DIR, name), 'utf8').trimEnd();
}

export function renderSetupSql(input: SetupSqlInput): string {
  const plan = planPublication(input.tables, input.patterns);
  const role = quoteIdent(input.role);
  const logged = plan.selected.filter((t) => t.logged);
  const schemas = [...new Set(logged.map((t) => t.schema))];
  const grants = [
    ...schemas.map((s) => `GRANT USAGE ON SCHEMA ${quoteIdent(s)} TO ${role};`),
    ...(logged.length > 0 ? [`GRANT SELECT ON ${logged.map((t) => qualifiedName(t.schema, t.table)).join(', ')} TO ${role};`] : ['-- No table matches the include list yet.']),
  ];

  const statements: string[] = [];
  for (const { table } of plan.excluded) {
    if (!table.logged) {
      statements.push(`-- ${tableName(table)} is unlogged: PostgreSQL cannot publish it (ALTER TABLE ${qualifiedName(table.schema, table.table)} SET LOGGED; to capture it).`);
      continue;
    }
    const leaves: Array<Pick<SourceTable, 'schema' | 'table'>> = table.unwritableLeaves.length > 0 ? table.unwritableLeaves : table.kind === 'table' ? [table] : [];
    for (const leaf of leaves) statements.push(`ALTER TABLE ${qualifiedName(leaf.schema, leaf.table)} REPLICA IDENTITY FULL;`);
    if (table.kind === 'partitioned' && !table.hasPrimaryKey) {
      statements.push(`-- ${tableName(table)} is partitioned without a primary key: every partition attached later needs REPLICA IDENTITY FULL too (or give ${qualifiedName(table.schema, table.table)} a primary key).`);
    }
  }
  if (statements.length === 0) statements.push('-- None needed: every selected table has a primary key or a replica identity.');

  const header = [
    `-- walcast setup for database ${quoteIdent(input.database)}: role ${role}, publication ${quoteIdent(input.publication)},`,
    `-- tables ${input.patterns.length > 0 ? `WALCAST_TABLES=${input.patterns.join(',')}` : 'all (WALCAST_TABLES empty)'}: ${logged.length} table(s).`,
    '-- Printed by `walcast setup --print` from sql/role.sql, sql/replica-identity.sql and sql/publication.sql.',
    "-- Run as a superuser or the tables' owner: psql -v ON_ERROR_STOP=1 -v walcast_password='...' -d <database> -f setup.sql",
    '-- Then `walcast check` as the new role.',
  ];
  return [
    ...header,
    '',
    fillTemplate(template('role.sql'), { role, grants: grants.join('\n') }),
    '',
    fillTemplate(template('replica-identity.sql'), { statements: statements.join('\n') }),
    '',
    fillTemplate(template('publication.sql'), { publication: quoteIdent(input.publication), create: createPublicationSql(input.publication, logged) }),
    '',
  ].join('\n');
}
