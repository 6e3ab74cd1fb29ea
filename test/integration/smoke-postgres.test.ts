// Smoke test of the local PostgreSQL (scripts/services.sh): logical decoding with pgoutput works
// end to end through pg-logical-replication, and walcast_repl is a least-privilege replication role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ClientConfig } from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Pgoutput } from 'pg-logical-replication';
import { loadServices, uniqueSuffix, waitFor } from '../helpers/services.ts';

const services = loadServices();

test('walcast_repl has REPLICATION, is not superuser, and can create a logical slot', async () => {
  const suffix = uniqueSuffix();
  const client = new pg.Client({ connectionString: services.pgReplUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string; rolsuper: boolean; rolreplication: boolean }>(
      'SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user',
    );
    assert.deepEqual(rows, [{ rolname: 'walcast_repl', rolsuper: false, rolreplication: true }]);
    const slot = `smoke_repl_${suffix}`;
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    try {
      const found = await client.query('SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      assert.deepEqual(found.rows, [{ plugin: 'pgoutput', slot_type: 'logical' }]);
    } finally {
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    }
    // Not a superuser: superuser-only operations are refused.
    await assert.rejects(client.query('ALTER SYSTEM SET work_mem = 1024'), /permission denied|must be superuser/);
  } finally {
    await client.end();
  }
});

test('an INSERT arrives through a pgoutput slot (pg-logical-replication, proto 1)', async () => {
  const suffix = uniqueSuffix();
  const table = `smoke_pg_${suffix}`;
  const publication = `smoke_pub_${suffix}`;
  const slot = `smoke_slot_${suffix}`;
  const admin = new pg.Client({ connectionString: services.pgUrl });
  await admin.connect();
  // A replication connection as the least-privilege role, as walcast itself will use.
  const replConfig: ClientConfig & { replication: 'database' } = { connectionString: services.pgReplUrl, replication: 'database' };
  const repl = new pg.Client(replConfig);
  let service: LogicalReplicationService | undefined;
  try {
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text NOT NULL, amount numeric(12,2))`);
    await admin.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
    // Default privileges from services.sh: walcast_repl can read tables walcast_admin creates.
    const priv = await admin.query<{ ok: boolean }>("SELECT has_table_privilege('walcast_repl', $1, 'SELECT') AS ok", [table]);
    assert.equal(priv.rows[0]?.ok, true);

    await repl.connect();
    const created = await repl.query<{ slot_name: string; output_plugin: string }>(
      `CREATE_REPLICATION_SLOT "${slot}" LOGICAL pgoutput (SNAPSHOT 'nothing')`,
    );
    assert.equal(created.rows[0]?.slot_name, slot);
    assert.equal(created.rows[0]?.output_plugin, 'pgoutput');
    await repl.end();

    const messages: Pgoutput.Message[] = [];
    const errors: unknown[] = [];
    service = new LogicalReplicationService(
      { connectionString: services.pgReplUrl },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    service.on('data', (_lsn: string, message: Pgoutput.Message) => {
      messages.push(message);
    });
    service.on('error', (err: Error) => errors.push(err));
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
    // subscribe() resolves only when the stream ends: do not await it here.
    const streaming = service.subscribe(plugin, slot).catch((err: unknown) => errors.push(err));

    await admin.query(`INSERT INTO ${table} (id, note, amount) VALUES ($1, $2, $3)`, [42, 'hello walcast', '1234.50']);

    const insert = await waitFor('the INSERT through the slot', () => {
      if (errors.length > 0) throw new Error(`replication failed: ${String(errors[0])}`);
      return messages.find((m): m is Pgoutput.MessageInsert => m.tag === 'insert' && m.relation.name === table);
    });
    assert.equal(insert.relation.schema, 'public');
    assert.deepEqual(insert.relation.keyColumns, ['id']);
    assert.equal(insert.new.id, 42);
    assert.equal(insert.new.note, 'hello walcast');
    assert.equal(String(insert.new.amount), '1234.50');
    const at = messages.indexOf(insert);
    await waitFor('the COMMIT message', () => (messages.length > at + 1 ? true : undefined));
    assert.deepEqual(messages.slice(at - 2, at + 2).map((m) => m.tag), ['begin', 'relation', 'insert', 'commit']);

    await service.stop();
    await streaming;
    assert.deepEqual(errors, []);
  } finally {
    await service?.destroy();
    // The walsender exits asynchronously after the stream closes: wait until the slot is inactive.
    await waitFor('the slot to become inactive', async () => {
      const r = await admin.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return r.rows[0]?.active === true ? undefined : true;
    }, 15_000);
    await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    await admin.query(`DROP PUBLICATION IF EXISTS ${publication}`);
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
    await repl.end().catch(() => undefined);
  }
});
