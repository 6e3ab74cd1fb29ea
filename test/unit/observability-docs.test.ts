/**
 * docs/grafana-dashboard.json and docs/prometheus-alerts.yml name only metrics walcast exports
 * (issue 14, item 4): every walcast_* name in them must appear in GET /metrics of a connector
 * whose every statistic is set, so a renamed metric breaks this test rather than a dashboard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyStats, type ManagedConnector } from '../../src/connector.ts';
import { createMetrics } from '../../src/http/metrics.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');
const dashboardText = readFileSync(join(docs, 'grafana-dashboard.json'), 'utf8');
const alertsText = readFileSync(join(docs, 'prometheus-alerts.yml'), 'utf8');

async function exportedNames(): Promise<Set<string>> {
  const stats = { ...emptyStats(), retainedWalBytes: 1, millisBehindSource: 1, lastEventAt: Date.now() };
  stats.kafkaCommitLatency.observe(0.002);
  stats.tableEvents.forTable('public', 'orders').count('c');
  stats.tableEvents.commit();
  const connector: ManagedConnector = {
    name: 'shop',
    type: 'source',
    status: () => ({ state: 'running', paused: false, lastError: null, restarts: 0, stats }),
    pause: () => undefined,
    resume: () => undefined,
    restart: () => undefined,
  };
  const text = await createMetrics(() => [connector]).render();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const name = /^(?:# TYPE )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
    if (name && name !== 'HELP') names.add(name);
  }
  return names;
}

const referenced = (text: string): string[] => [...new Set(text.match(/\bwalcast_[a-z0-9_]+\b/g) ?? [])];

test('the Grafana dashboard and the alert rules reference only metrics walcast exports', async () => {
  const exported = await exportedNames();
  for (const [file, text] of [['grafana-dashboard.json', dashboardText], ['prometheus-alerts.yml', alertsText]] as const) {
    const names = referenced(text);
    assert.ok(names.length >= 8, `${file} references walcast's metrics (${names.length})`);
    const unknown = names.filter((n) => !exported.has(n));
    assert.deepEqual(unknown, [], `${file} names metrics walcast does not export`);
  }
  // The new metrics of issue 14 are all on the dashboard.
  for (const name of ['walcast_slot_retained_wal_bytes', 'walcast_milliseconds_behind_source', 'walcast_seconds_since_last_event', 'walcast_kafka_commit_seconds_bucket', 'walcast_table_events_total']) {
    assert.ok(dashboardText.includes(name), `the dashboard shows ${name}`);
  }
});

test('the dashboard is Grafana JSON: every panel queries walcast, selected by the connector variable', () => {
  const dashboard = JSON.parse(dashboardText) as {
    templating: { list: Array<{ name: string }> };
    panels: Array<{ title: string; targets: Array<{ expr: string; refId: string }> }>;
  };
  assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['datasource', 'connector']);
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, panel.title);
    for (const target of panel.targets) {
      assert.match(target.expr, /walcast_/, `${panel.title}: ${target.expr}`);
      if (!/walcast_(process|nodejs)_/.test(target.expr)) assert.match(target.expr, /connector=~"\$connector"/, `${panel.title} filters by connector`);
    }
  }
});

test('every alert rule has a name, an expression over walcast metrics, a severity and a summary', () => {
  const rules = alertsText.split(/\n(?= +- alert: )/).slice(1);
  assert.ok(rules.length >= 6);
  for (const rule of rules) {
    const name = /- alert: (\w+)/.exec(rule)?.[1];
    assert.ok(name, rule);
    assert.match(rule, /\n\s+expr: .*walcast_/, `${name}: expr`);
    assert.match(rule, /\n\s+severity: (critical|warning|info)\n/, `${name}: severity`);
    assert.match(rule, /\n\s+summary: "/, `${name}: summary`);
  }
});
