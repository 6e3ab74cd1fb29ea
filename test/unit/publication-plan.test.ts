/**
 * Which tables a publication walcast manages lists (issue 14, item 3), and the pre-flight
 * verdicts over catalog facts: pure functions, every rule and its fix text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceChecks, type SourceFacts } from '../../src/source/cdc/preflight.ts';
import { createPublicationSql, planPublication, publicationChanges, tableName, type PublicationState, type SourceTable } from '../../src/source/cdc/publication.ts';

function table(name: string, overrides: Partial<SourceTable> = {}): SourceTable {
  const [schema, t] = name.split('.') as [string, string];
  return { schema, table: t, kind: 'table', logged: true, hasPrimaryKey: true, identity: 'd', writable: true, unwritableLeaves: [], selectable: true, owned: true, ...overrides };
}

const keyed = table('public.orders');
const nokey = table('public.events_log', { hasPrimaryKey: false, writable: false, unwritableLeaves: [{ schema: 'public', table: 'events_log', identity: 'd' }] });
const nothing = table('public.audit', { identity: 'n', writable: false, unwritableLeaves: [{ schema: 'public', table: 'audit', identity: 'n' }] });
const full = table('public.notes', { hasPrimaryKey: false, identity: 'f' });
const partitioned = table('public.meas', { kind: 'partitioned' });
const partitionedNoKey = table('public.meas_nk', { kind: 'partitioned', hasPrimaryKey: false, writable: false });
const partitionedLeaf = table('public.meas_x', {
  kind: 'partitioned',
  writable: false,
  unwritableLeaves: [{ schema: 'public', table: 'meas_x_2024', identity: 'n' }],
});
const unlogged = table('public.scratch', { logged: false });
const all = [keyed, nokey, nothing, full, partitioned, partitionedNoKey, partitionedLeaf, unlogged];

describe('planPublication', () => {
  test('empty include list: every writable logged table; the others left out with their fix', () => {
    const plan = planPublication(all, []);
    assert.deepEqual(plan.tables.map(tableName), ['public.orders', 'public.notes', 'public.meas']);
    assert.deepEqual(plan.excluded.map((e) => tableName(e.table)), ['public.events_log', 'public.audit', 'public.meas_nk', 'public.meas_x', 'public.scratch']);
    const reason = (name: string) => plan.excluded.find((e) => tableName(e.table) === name)!;
    assert.match(reason('public.events_log').reason, /no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL rejects its UPDATEs and DELETEs/);
    assert.equal(reason('public.events_log').fix, 'ALTER TABLE "public"."events_log" REPLICA IDENTITY FULL; (or add a primary key)');
    assert.match(reason('public.audit').reason, /REPLICA IDENTITY NOTHING/);
    assert.match(reason('public.meas_nk').reason, /partitioned without a primary key/);
    assert.match(reason('public.meas_nk').fix, /^add a primary key to "public"."meas_nk"/);
    assert.match(reason('public.meas_x').reason, /its partition public\.meas_x_2024 has REPLICA IDENTITY NOTHING/);
    assert.equal(reason('public.meas_x').fix, 'ALTER TABLE "public"."meas_x_2024" REPLICA IDENTITY FULL; (or add a primary key)');
    assert.match(reason('public.scratch').reason, /unlogged/);
    assert.deepEqual(plan.namedUnwritable, []);
  });

  test('a table named without wildcards is published as it is; a wildcard never includes an unwritable table', () => {
    const plan = planPublication(all, ['public.events_log', 'audit', 'public.*']);
    assert.ok(plan.tables.some((t) => tableName(t) === 'public.events_log'));
    assert.ok(plan.tables.some((t) => tableName(t) === 'public.audit'), 'a bare table name names it too');
    assert.deepEqual(plan.namedUnwritable.map(tableName), ['public.events_log', 'public.audit']);
    assert.ok(!plan.tables.some((t) => tableName(t) === 'public.meas_nk'));
    const wildcards = planPublication(all, ['public.events_*', 'public.aud?t']);
    assert.deepEqual(wildcards.tables, []);
    assert.deepEqual(wildcards.excluded.map((e) => tableName(e.table)), ['public.events_log', 'public.audit']);
  });

  test('changes of a managed publication: add the missing, drop what is no longer wanted', () => {
    const plan = planPublication(all, []);
    const changes = publicationChanges(plan, [{ schema: 'public', table: 'orders' }, { schema: 'public', table: 'events_log' }]);
    assert.deepEqual(changes.add.map(tableName), ['public.notes', 'public.meas']);
    assert.deepEqual(changes.drop.map(tableName), ['public.events_log']);
  });

  test('CREATE PUBLICATION lists the tables and publishes through partition roots', () => {
    assert.equal(
      createPublicationSql('wal"cast', [keyed, partitioned]),
      'CREATE PUBLICATION "wal""cast" FOR TABLE "public"."orders", "public"."meas" WITH (publish_via_partition_root = true)',
    );
    assert.equal(createPublicationSql('walcast', []), 'CREATE PUBLICATION "walcast" WITH (publish_via_partition_root = true)');
  });
});

function facts(overrides: Partial<SourceFacts> = {}, tables = all, patterns: string[] = []): SourceFacts {
  return {
    walLevel: 'logical',
    database: 'shop',
    role: { name: 'walcast', replication: true, superuser: false },
    slots: { max: 10, used: 2 },
    senders: { max: 10, used: 1 },
    tables,
    plan: planPublication(tables, patterns),
    publication: null,
    slot: null,
    ...overrides,
  };
}

const options = { slot: 'walcast', publication: 'walcast', tables: [] as string[] };
const statusOf = (f: SourceFacts, o = options) => Object.fromEntries(sourceChecks(f, o).map((c) => [c.id, c.status]));

function existing(overrides: Partial<PublicationState> = {}): PublicationState {
  return { allTables: false, publishesUpdatesOrDeletes: true, viaRoot: true, managed: false, owned: true, tables: [], unwritable: [], partitionedWithoutRoot: [], ...overrides };
}

describe('sourceChecks', () => {
  test('a healthy source: every check passes but the tables left out (a warning)', () => {
    assert.deepEqual(statusOf(facts()), {
      'postgres.wal_level': 'pass',
      'postgres.replication': 'pass',
      'postgres.tables': 'pass',
      'postgres.select': 'pass',
      'postgres.publication': 'pass',
      'postgres.writes': 'warn',
      'postgres.slot': 'pass',
      'postgres.senders': 'pass',
    });
    assert.equal(statusOf(facts({}, [keyed, full]))['postgres.writes'], 'pass');
  });

  test('each failure on its own line, with its fix', () => {
    const checks = sourceChecks(facts({ walLevel: 'replica', role: { name: 'app', replication: false, superuser: false }, senders: { max: 4, used: 4 } }), options);
    const failed = checks.filter((c) => c.status === 'fail');
    assert.deepEqual(failed.map((c) => c.id), ['postgres.wal_level', 'postgres.replication', 'postgres.senders']);
    assert.match(failed[0]!.fix!, /ALTER SYSTEM SET wal_level = logical/);
    assert.equal(failed[1]!.fix, 'Fix: ALTER ROLE "app" WITH REPLICATION;');
    assert.match(failed[2]!.fix!, /max_wal_senders/);
  });

  test('a publication the role may not create: the exact SQL for an administrator', () => {
    const notOwned = all.map((t) => ({ ...t, owned: false }));
    const check = sourceChecks(facts({}, notOwned), options).find((c) => c.id === 'postgres.publication')!;
    assert.equal(check.status, 'fail');
    assert.match(check.fix!, /CREATE PUBLICATION "walcast" FOR TABLE "public"."orders", "public"."notes", "public"."meas" WITH \(publish_via_partition_root = true\);/);
  });

  test("someone else's publication: what it breaks, what it misses, partitions without their root", () => {
    const publication = existing({
      tables: [{ schema: 'public', table: 'orders' }],
      unwritable: [{ schema: 'public', table: 'events_log', identity: 'd' }],
      partitionedWithoutRoot: [{ schema: 'public', table: 'meas', member: true }],
    });
    const checks = sourceChecks(facts({ publication }), options);
    const writes = checks.find((c) => c.id === 'postgres.writes')!;
    assert.equal(writes.status, 'fail');
    assert.match(writes.summary, /publication walcast makes public\.events_log unwritable/);
    assert.match(writes.fix!, /ALTER TABLE "public"."events_log" REPLICA IDENTITY FULL;/);
    const pub = checks.find((c) => c.id === 'postgres.publication')!;
    assert.equal(pub.status, 'warn');
    // meas is captured, under its partitions' names: not "not published", and already a member.
    assert.match(pub.summary, /does not publish public\.notes, which/);
    assert.match(pub.summary, /it publishes public\.meas partition by partition/);
    assert.equal(pub.fix, 'Fix: ALTER PUBLICATION "walcast" ADD TABLE "public"."notes"; ALTER PUBLICATION "walcast" SET (publish_via_partition_root = true);');
  });

  test("someone else's publication listing only a partitioned table's partitions: the fix adds the table itself too", () => {
    const publication = existing({
      tables: [{ schema: 'public', table: 'orders' }, { schema: 'public', table: 'notes' }, { schema: 'public', table: 'meas_2024' }],
      partitionedWithoutRoot: [{ schema: 'public', table: 'meas', member: false }],
    });
    const pub = sourceChecks(facts({ publication }), options).find((c) => c.id === 'postgres.publication')!;
    assert.equal(pub.status, 'warn');
    assert.doesNotMatch(pub.summary, /does not publish/);
    assert.equal(pub.fix, 'Fix: ALTER PUBLICATION "walcast" ADD TABLE "public"."meas"; ALTER PUBLICATION "walcast" SET (publish_via_partition_root = true);');
  });

  test('a table named explicitly although unwritable fails the writes check', () => {
    const check = sourceChecks(facts({}, all, ['public.events_log']), { ...options, tables: ['public.events_log'] }).find((c) => c.id === 'postgres.writes')!;
    assert.equal(check.status, 'fail');
    assert.match(check.summary, /WALCAST_TABLES names public\.events_log unwritable/);
  });

  test('the slot: in use by another instance passes (a standby waits); of the wrong kind fails', () => {
    const inUse = { type: 'logical', plugin: 'pgoutput', database: 'shop', confirmedFlush: 0n, restartLsn: null, activePid: 42, holder: '10.0.0.7, application walcast' };
    const held = sourceChecks(facts({ slot: inUse }), options).find((c) => c.id === 'postgres.slot')!;
    assert.equal(held.status, 'pass');
    assert.match(held.summary, /in use by walsender pid 42 \(10\.0\.0\.7, application walcast\): walcast stands by/);
    const physical = sourceChecks(facts({ slot: { ...inUse, type: 'physical', plugin: null, database: null } }), options).find((c) => c.id === 'postgres.slot')!;
    assert.equal(physical.status, 'fail');
  });
});
