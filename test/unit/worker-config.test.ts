/** Connector configs in the worker: provider references, secret masking and encryption, validate's shape. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProperties, resolveReferences } from '../../src/worker/config-providers.ts';
import { ConfigCipher, HIDDEN, isSecretKey, keepHiddenSecrets, maskConfig } from '../../src/worker/config-secrets.ts';
import { findPlugin, unsupportedSettings, validationBody, type ConnectorPlugin } from '../../src/worker/plugins.ts';
import { scrub } from '../../src/secrets.ts';
import { debeziumPostgresSettings, debeziumSettingOf } from '../../src/config/debezium-postgres.ts';
import { debeziumJdbcSinkSettings } from '../../src/config/debezium-jdbc-sink.ts';
import { loadWorkerConfig } from '../../src/config/load.ts';
import { confluentJdbcSinkPlugin, debeziumJdbcSinkPlugin } from '../../src/worker/sink-plugin.ts';

describe('config providers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walcast-providers-'));
  const file = join(dir, 'db.properties');
  writeFileSync(file, '# comment\ndb.password = s3cr3t-from-file\nuser: alice\n');

  test('${env:VAR} and ${file:/path:key} resolve; secrets among them are scrubbed from then on', () => {
    const { resolved, problems } = resolveReferences(
      { 'database.password': `\${file:${file}:db.password}`, 'database.user': '${env:WT_USER}', 'topic.prefix': 'p-${env::WT_USER}' },
      isSecretKey,
      { WT_USER: 'bob' },
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(resolved, { 'database.password': 's3cr3t-from-file', 'database.user': 'bob', 'topic.prefix': 'p-bob' });
    assert.equal(scrub('connect failed for s3cr3t-from-file'), 'connect failed for *****');
  });

  test('a reference that does not resolve is a problem of its setting, naming what is missing', () => {
    const { problems } = resolveReferences({ a: '${env:WT_MISSING}', b: `\${file:${file}:nope}`, c: '${vault:x:y}', d: `\${file:${file}}` }, isSecretKey, {});
    assert.deepEqual(problems.map((p) => p.key), ['a', 'b', 'c', 'd']);
    assert.match(problems[0]!.message, /WT_MISSING is not set/);
    assert.match(problems[1]!.message, /has no key nope/);
    assert.match(problems[2]!.message, /unknown config provider vault/);
    assert.match(problems[3]!.message, /names no key/);
  });

  test('properties files', () => {
    assert.deepEqual([...parseProperties('a=1\n! c\n b : two words \nflag\n')], [['a', '1'], ['b', 'two words'], ['flag', '']]);
  });
});

describe('secrets in configs', () => {
  test('secret settings are hidden, references shown as written, URL passwords removed', () => {
    const masked = maskConfig({
      'database.password': 'pw1234',
      'connection.password': '${env:PG_PASSWORD}',
      'connection.url': 'jdbc:postgresql://db:5432/shop?user=u&password=pw1234',
      WALCAST_PG_URL: 'postgres://u:pw1234@db/shop',
      'sasl.jaas.config': 'org.apache.kafka...ScramLoginModule required username="u" password="pw1234";',
      'database.user': 'u',
    });
    assert.deepEqual(masked, {
      'database.password': HIDDEN,
      'connection.password': '${env:PG_PASSWORD}',
      'connection.url': `jdbc:postgresql://db:5432/shop?user=u&password=${HIDDEN}`,
      WALCAST_PG_URL: `postgres://u:${HIDDEN}@db/shop`,
      'sasl.jaas.config': HIDDEN,
      'database.user': 'u',
    });
    assert.ok(!JSON.stringify(masked).includes('pw1234'));
  });

  test('[hidden] sent back keeps the stored secret', () => {
    assert.deepEqual(keepHiddenSecrets({ 'database.password': HIDDEN, a: 'x' }, { 'database.password': 'old', a: 'y' }), { 'database.password': 'old', a: 'x' });
  });

  test('encryption round-trips, and a wrong key is refused by name', () => {
    const cipher = new ConfigCipher('correct horse battery staple');
    const stored = cipher.encrypt('pw1234');
    assert.ok(!stored.includes('pw1234'));
    assert.notEqual(cipher.encrypt('pw1234'), stored, 'a fresh IV each time');
    assert.equal(cipher.decrypt(stored), 'pw1234');
    assert.throws(() => new ConfigCipher('another key of sixteen+').decrypt(stored), /WALCAST_CONFIG_ENCRYPTION_KEY/);
  });
});

describe('plugins and validate', () => {
  const plugin: ConnectorPlugin = {
    className: 'io.example.FooSourceConnector',
    type: 'source',
    version: '1',
    keys: [{ name: 'foo.password', type: 'PASSWORD', doc: 'secret', group: 'Foo' }, { name: 'foo.mode', type: 'STRING', doc: 'mode', group: 'Foo', default: 'a' }],
    configure: () => ({ problems: [] }),
  };

  test('a class is found by its name and Connect\'s aliases', () => {
    for (const name of ['io.example.FooSourceConnector', 'FooSourceConnector', 'FooSource']) assert.equal(findPlugin([plugin], name), plugin);
    assert.equal(findPlugin([plugin], 'Foo'), undefined);
  });

  test('unknown settings are refused by name; validate has Connect\'s shape and hides secrets', () => {
    const config = { 'connector.class': 'FooSource', name: 'x', 'foo.password': 'pw1234', 'foo.extra': '1' };
    const problems = unsupportedSettings(plugin, config);
    assert.deepEqual(problems.map((p) => p.key), ['foo.extra']);
    const body = validationBody(plugin, config, [...problems, { key: '', message: 'whole config' }]);
    assert.equal(body.name, 'io.example.FooSourceConnector');
    assert.equal(body.error_count, 2);
    assert.deepEqual(body.groups, ['Common', 'Foo']);
    const row = (name: string) => body.configs.find((c) => c.definition.name === name)!;
    assert.deepEqual(Object.keys(row('foo.mode').definition), ['name', 'type', 'required', 'default_value', 'importance', 'documentation', 'group', 'width', 'display_name', 'dependents', 'order']);
    assert.deepEqual(Object.keys(row('foo.mode').value), ['name', 'value', 'recommended_values', 'errors', 'visible']);
    assert.equal(row('foo.mode').value.value, 'a');
    assert.equal(row('foo.password').value.value, HIDDEN);
    assert.equal(row('foo.password').definition.type, 'PASSWORD');
    assert.match(row('foo.extra').value.errors[0]!, /foo\.extra is not supported/);
    assert.deepEqual(row('connector.class').value.errors, ['whole config']);
  });
});

describe('Debezium PostgresConnector names', () => {
  test('map onto walcast settings; regexes become wildcards; Debezium defaults kept', () => {
    const problems: Array<{ key: string; message: string }> = [];
    const walcast = debeziumPostgresSettings(
      {
        'database.hostname': 'db', 'database.user': 'dbz user', 'database.dbname': 'shop', 'database.password': 'pw', 'topic.prefix': 'shop',
        'table.include.list': 'public\\.orders, inventory.customer.*', 'snapshot.mode': 'never',
        'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
      },
      '',
      problems,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(walcast, {
      WALCAST_PG_URL: 'postgres://dbz%20user@db:5432/shop', WALCAST_PG_PASSWORD: 'pw', WALCAST_TOPIC_PREFIX: 'shop', WALCAST_SNAPSHOT_MODE: 'never',
      WALCAST_SLOT: 'debezium', WALCAST_PUBLICATION: 'dbz_publication', WALCAST_TABLES: 'public.orders,inventory.customer*', WALCAST_FORMAT: 'json',
    });
    assert.equal(debeziumSettingOf('WALCAST_SNAPSHOT_MODE'), 'snapshot.mode');
  });

  test('what walcast cannot honour is refused by setting', () => {
    const problems: Array<{ key: string; message: string }> = [];
    debeziumPostgresSettings(
      { 'database.hostname': 'db', 'database.user': 'u', 'database.dbname': 'd', 'plugin.name': 'decoderbufs', 'table.include.list': 'public.(a|b)', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' },
      '',
      problems,
    );
    assert.deepEqual(problems.map((p) => p.key), ['topic.prefix', 'table.include.list', 'plugin.name', 'value.converter.schemas.enable']);
  });
});

describe('Debezium JDBC sink names', () => {
  const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k:9092', WALCAST_SCHEMA_REGISTRY_URL: 'http://registry:8081' });
  const context = { worker, env: {} };
  const base = {
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'connection.url': 'jdbc:postgresql://db:5432/reports?sslmode=disable',
    'connection.username': 'sink',
    'connection.password': 'pw',
    'topics.regex': 'shop\\.public\\..*',
    'primary.key.mode': 'record_key',
  };

  test("map onto the sink's settings with Debezium's defaults; ${topic} has its dots as underscores", () => {
    const problems: Array<{ key: string; message: string }> = [];
    const walcast = debeziumJdbcSinkSettings({ ...base, 'insert.mode': 'upsert', 'delete.enabled': 'true' }, worker.registry.url, problems);
    assert.deepEqual(problems, []);
    assert.deepEqual(walcast, {
      WALCAST_SINK_PG_URL: 'postgres://sink@db:5432/reports?sslmode=disable', WALCAST_SINK_PG_PASSWORD: 'pw', WALCAST_SINK_TOPICS_REGEX: 'shop\\.public\\..*',
      WALCAST_SINK_DELETE_ENABLED: 'true', WALCAST_SINK_TRUNCATE_ENABLED: 'false', WALCAST_SINK_SCHEMA_EVOLUTION: 'none', WALCAST_SINK_TABLE_NAME_FORMAT: '${topic_underscored}',
    });
    const configured = debeziumJdbcSinkPlugin.configure('orders-sink', { ...base, 'collection.name.format': 'reports.${source.table}' }, context);
    assert.deepEqual(configured.problems, []);
    assert.ok(configured.create);
  });

  test('what walcast cannot honour is refused by setting, unknown settings by name', () => {
    const config = { ...base, 'primary.key.mode': 'none', 'insert.mode': 'update', topics: 'a', 'database.time_zone': 'Europe/Paris', 'connection.pool.max_size': '10', 'batch.size': '500' };
    const configured = debeziumJdbcSinkPlugin.configure('s', config, context);
    assert.deepEqual(configured.problems.map((p) => p.key).sort(), ['database.time_zone', 'insert.mode', 'primary.key.mode', 'topics']);
    assert.equal(configured.create, undefined);
    assert.deepEqual(unsupportedSettings(debeziumJdbcSinkPlugin, config).map((p) => p.key), ['connection.pool.max_size', 'batch.size']);
  });
});

describe("Confluent's JDBC sink names", () => {
  const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k:9092', WALCAST_SCHEMA_REGISTRY_URL: 'http://registry:8081' });
  const context = { worker, env: {} };
  const base = {
    'connector.class': 'io.confluent.connect.jdbc.JdbcSinkConnector',
    'connection.url': 'jdbc:postgresql://db:5432/reports',
    'connection.user': 'sink',
    'connection.password': 'pw',
    topics: 'postgres-users',
    'insert.mode': 'upsert',
    'pk.mode': 'record_value',
    'pk.fields': 'id',
    'auto.create': 'true',
    'auto.evolve': 'true',
  };

  test('a config of its documentation runs as the sink of flat rows, keyed by pk.fields', () => {
    const configured = confluentJdbcSinkPlugin.configure('users-sink', base, context);
    assert.deepEqual(configured.problems, []);
    const [task] = configured.create!();
    assert.ok(task);
    assert.equal(configured.tasks, 1);
    assert.deepEqual(unsupportedSettings(confluentJdbcSinkPlugin, base), []);
  });

  test('what walcast cannot honour is refused by setting, unknown settings by name; its simple name is ambiguous', () => {
    const config = { ...base, 'pk.mode': 'kafka', 'insert.mode': 'update', 'auto.evolve': 'false', 'delete.enabled': 'true', 'db.timezone': 'Europe/Paris', 'batch.size': '500', 'fields.whitelist': 'a' };
    const configured = confluentJdbcSinkPlugin.configure('s', config, context);
    assert.deepEqual(configured.problems.map((p) => p.key).sort(), ['auto.evolve', 'db.timezone', 'delete.enabled', 'insert.mode', 'pk.mode']);
    assert.equal(configured.create, undefined);
    assert.deepEqual(unsupportedSettings(confluentJdbcSinkPlugin, config).map((p) => p.key), ['batch.size', 'fields.whitelist']);
    const both = [debeziumJdbcSinkPlugin, confluentJdbcSinkPlugin];
    assert.equal(findPlugin(both, 'JdbcSinkConnector'), undefined);
    assert.equal(findPlugin(both, 'io.confluent.connect.jdbc.JdbcSinkConnector'), confluentJdbcSinkPlugin);
  });
});
