// Bounded memory: a large transaction through a throttled broker (a Kafka client quota makes it
// slow) pauses the replication stream instead of buffering without limit, and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { capturedSchema } from '../helpers/capture.ts';
import { loadServices, waitFor } from '../helpers/services.ts';
import { readTopics } from '../helpers/avro-reader.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const run = promisify(execFile);
const services = loadServices();
const it = capturedSchema('bp', {
  setup: async (db) => {
    await db.query(`create table ${schema}.t (id int primary key, payload text)`);
    // 2 MB/s for this client only: the broker becomes the bottleneck.
    await clientQuota('producer_byte_rate=2097152', '--add-config');
  },
  teardown: async () => {
    await clientQuota('producer_byte_rate', '--delete-config').catch(() => undefined);
  },
});
const { schema, slot, prefix } = it;
const clientId = `walcast-${prefix}`;
const ROWS = 60_000;
const MAX_BUFFERED = 2_000;
const { db } = it;

async function clientQuota(config: string, action: '--add-config' | '--delete-config'): Promise<void> {
  const java = services.java21Home ? `${services.java21Home}/bin/java` : 'java';
  await run(java, [
    ...(services.kafkaToolsLog4j ? [`-Dlog4j2.configurationFile=${services.kafkaToolsLog4j}`] : []),
    '-cp', `${services.kafkaLibs}/*`, 'kafka.admin.ConfigCommand',
    '--bootstrap-server', services.kafkaBrokers[0]!, '--alter', action, config, '--entity-type', 'clients', '--entity-name', clientId,
  ]);
}

test('a large transaction through a slow broker pauses the stream and arrives whole', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const walcast = new WalcastProcess(it.env({
    WALCAST_KAFKA_CLIENT_ID: clientId,
    WALCAST_HTTP_PORT: String(port),
    WALCAST_HTTP_HOST: '127.0.0.1',
    WALCAST_MAX_BUFFERED_MESSAGES: String(MAX_BUFFERED),
  }));
  try {
    await walcast.waitForStreaming();
    await db.query(`insert into ${schema}.t select g, repeat('x', 100) || g from generate_series(1, ${ROWS}) g`);
    const endLsn = await it.currentLsn(db);

    let sawPaused = false;
    let maxBuffered = 0;
    await waitFor('the whole transaction to be acknowledged', async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const gauge = (name: string): number => Number(new RegExp(`^${name}\\{connector="${prefix}"\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 'NaN');
      if (gauge('walcast_replication_paused') === 1) sawPaused = true;
      maxBuffered = Math.max(maxBuffered, gauge('walcast_buffered_messages'));
      const r = await db.query('select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2', [endLsn, slot]);
      return r.rows[0]?.ok ? true : undefined;
    }, 180_000, 100);
    const peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${walcast.child.pid}/status`, 'utf8'))?.[1]);

    t.diagnostic(`peak RSS ${Math.round(peakRssKb / 1024)} MB, at most ${maxBuffered} messages buffered`);
    assert.ok(sawPaused, 'backpressure paused the replication stream');
    // One socket read can overshoot the mark by a chunk of messages, never by an unbounded amount.
    assert.ok(maxBuffered <= MAX_BUFFERED * 2, `buffered ${maxBuffered} messages (limit ${MAX_BUFFERED})`);
    assert.ok(peakRssKb < 450 * 1024, `peak RSS ${Math.round(peakRssKb / 1024)} MB`);

    const records = await readTopics(
      { brokers: services.kafkaBrokers, registryUrl: services.schemaRegistryUrl, count: ROWS, timeoutMs: 120_000 },
      [`${prefix}.${schema}.t`],
    );
    assert.equal(records.length, ROWS);
    assert.equal(new Set(records.map((r) => r.key!.id)).size, ROWS);
  } finally {
    const stopped = await walcast.stop('SIGTERM');
    assert.equal(stopped.code, 0, walcast.output.slice(-2000));
  }
});
