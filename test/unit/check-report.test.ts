/**
 * `walcast check`'s report (a line per check, the fix below a failure, the count, the exit
 * verdict) and the sql/ templates' placeholders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksPassed, formatChecks } from '../../src/check/run.ts';
import { fillTemplate } from '../../src/check/setup-sql.ts';
import type { CheckResult } from '../../src/source/cdc/preflight.ts';

const results: CheckResult[] = [
  { id: 'postgres.wal_level', status: 'pass', summary: 'wal_level=logical' },
  { id: 'postgres.writes', status: 'warn', summary: 'left out: public.log.', fix: 'Fix: ALTER TABLE "public"."log" REPLICA IDENTITY FULL;' },
  { id: 'kafka.connect', status: 'fail', summary: 'could not reach Kafka at k:9092.', fix: 'Fix: WALCAST_KAFKA_BROKERS.\nSecond line.' },
  { id: 'kafka.transactions', status: 'skip', summary: 'not checked: Kafka not reachable' },
];

test('one line per check, its fix indented below it, then the count', () => {
  assert.equal(
    formatChecks(results),
    [
      'PASS  postgres.wal_level  wal_level=logical',
      'WARN  postgres.writes     left out: public.log.',
      '                          Fix: ALTER TABLE "public"."log" REPLICA IDENTITY FULL;',
      'FAIL  kafka.connect       could not reach Kafka at k:9092.',
      '                          Fix: WALCAST_KAFKA_BROKERS.',
      '                          Second line.',
      'SKIP  kafka.transactions  not checked: Kafka not reachable',
      '',
      '1 passed, 1 warning(s), 1 failed, 1 not checked',
    ].join('\n'),
  );
});

test('passes with warnings, not with a failure or a check left undone', () => {
  assert.equal(checksPassed(results.slice(0, 2)), true);
  assert.equal(checksPassed(results), false);
  assert.equal(checksPassed([results[0]!, results[3]!]), false);
});

test('sql/ templates: every placeholder filled, a missing value is an error', () => {
  assert.equal(fillTemplate('CREATE ROLE {{role}};\n{{grants}}', { role: '"w"', grants: 'GRANT x;' }), 'CREATE ROLE "w";\nGRANT x;');
  assert.throws(() => fillTemplate('{{role}} {{nope}}', { role: 'r' }), /no value for \{\{nope\}\}/);
});
