/**
 * `walcast check`: the pre-flight as a command. Every check of PostgreSQL, Kafka and the schema
 * registry, one line each (PASS, WARN, FAIL or SKIP when what it needs failed), a failure with its
 * fix on the next line. Exit code 0 only when nothing failed. Reads the same WALCAST_* variables
 * as `walcast run`; creates nothing (the Kafka check opens and aborts one transaction of its own).
 */
import type { CdcConnectorConfig } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { CheckResult } from '../source/cdc/preflight.ts';
import { kafkaChecks } from './kafka.ts';
import { postgresChecks } from './postgres.ts';
import { registryChecks } from './registry.ts';

export async function runChecks(config: CdcConnectorConfig, log: Logger): Promise<CheckResult[]> {
  const [postgres, kafka, registry] = await Promise.all([postgresChecks(config), kafkaChecks(config, log), registryChecks(config)]);
  return [...postgres, ...kafka, ...registry];
}

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** The report: one line per check, the fix indented below; then a count. */
export function formatChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.id.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${LABEL[r.status]}  ${r.id.padEnd(width)}  ${r.summary}`);
    if (r.fix && r.status !== 'pass') for (const line of r.fix.split('\n')) lines.push(`      ${' '.repeat(width)}  ${line}`);
  }
  const count = (status: CheckResult['status']): number => results.filter((r) => r.status === status).length;
  lines.push('', `${count('pass')} passed, ${count('warn')} warning(s), ${count('fail')} failed, ${count('skip')} not checked`);
  return lines.join('\n');
}

export function checksPassed(results: CheckResult[]): boolean {
  return results.every((r) => r.status === 'pass' || r.status === 'warn');
}
