/** loadConfig(env) and closestVariable: always with an explicit env object, never process.env. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConfig as loadScopes, loadCdcConnectorConfig, loadWorkerConfig, loadSinkConfig, closestVariable, ConfigError } from '../../src/config/load.ts';
import type { CdcConnectorConfig, WorkerConfig } from '../../src/config/load.ts';
import { configVariables } from '../../src/config/schema.ts';

/** What `walcast run` sees: both scopes in one object, so a variable's schema path finds its value. */
type WalcastConfig = WorkerConfig & CdcConnectorConfig;
function loadConfig(env: Record<string, string>): WalcastConfig {
  const { worker, connector } = loadScopes(env);
  return { ...worker, ...connector, kafka: { ...worker.kafka, ...connector.kafka } };
}

const BASE: Record<string, string> = {
  WALCAST_PG_URL: 'postgres://walcast:secret@db.example:5432/shop',
  WALCAST_KAFKA_BROKERS: 'kafka-1:9092',
  WALCAST_SCHEMA_REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7',
};

const KNOWN = configVariables().map((v) => v.env);

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'WALCAST_CONFIG');
    assert.equal(e.name, 'ConfigError');
    return e;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** Value at a dotted path of the loaded config. */
function at(config: WalcastConfig, path: string): unknown {
  let node: unknown = config;
  for (const key of path.split('.')) node = (node as Record<string, unknown>)[key];
  return node;
}

/** Levenshtein distance, written independently of src/config/load.ts. */
function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

describe('loadConfig: defaults and derived values', () => {
  test('documented defaults apply when only the required variables are set', () => {
    const c = loadConfig({ ...BASE });
    assert.equal(c.pg.slot, 'walcast');
    assert.equal(c.pg.publication, 'walcast');
    assert.deepStrictEqual(c.pg.tables, []);
    assert.equal(c.pg.statusIntervalMs, 10000);
    assert.equal(c.kafka.clientId, 'walcast');
    assert.equal(c.kafka.offsetsTopic, 'walcast-offsets');
    assert.equal(c.kafka.transactionTimeoutMs, 600000);
    assert.equal(c.events.format, 'avro');
    assert.equal(c.events.tombstones, true);
    assert.equal(c.events.toastPlaceholder, '__debezium_unavailable_value');
    assert.equal(c.batch.maxEvents, 20000);
    assert.equal(c.http.port, 8083);
    assert.equal(c.log.level, 'info');
    assert.equal(c.startupTimeoutMs, 60000);
    assert.equal(c.kafka.compression, 'none');
    assert.equal(c.errors.tolerance, 'none');
  });

  test('the dead-letter topic defaults to <topic prefix>-dlq; compression and tolerance take their values', () => {
    assert.equal(loadConfig({ ...BASE }).errors.deadLetterQueueTopicName, 'shop-dlq');
    assert.equal(loadConfig({ ...BASE, WALCAST_TOPIC_PREFIX: 'inv' }).errors.deadLetterQueueTopicName, 'inv-dlq');
    const c = loadConfig({ ...BASE, WALCAST_ERRORS_TOLERANCE: 'all', WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME: 'dlq.shop', WALCAST_KAFKA_COMPRESSION: 'zstd' });
    assert.equal(c.errors.tolerance, 'all');
    assert.equal(c.errors.deadLetterQueueTopicName, 'dlq.shop');
    assert.equal(c.kafka.compression, 'zstd');
    for (const [name, value] of [['WALCAST_ERRORS_TOLERANCE', 'some'], ['WALCAST_KAFKA_COMPRESSION', 'brotli'], ['WALCAST_ERRORS_DEADLETTERQUEUE_TOPIC_NAME', 'dead letters']]) {
      const error = configError({ ...BASE, [name!]: value! });
      assert.ok(error.problems.some((p) => p.startsWith(`${name}:`)), `${name}=${value}: ${error.problems.join('; ')}`);
    }
  });

  test('every non-derived setting equals its schema default', () => {
    const derived = new Set(['pg.url', 'pg.tables', 'kafka.brokers', 'kafka.transactionalId', 'registry.url', 'events.topicPrefix', 'errors.deadLetterQueueTopicName', 'worker.statusStorageTopic', 'worker.groupId']);
    // Security settings are resolved into the objects the clients take (tested in config-security.test.ts).
    const resolved = /^(kafka\.(security|sasl|ssl)|registry\.(username|password|ssl)|http\.(adminToken|ssl)|pg\.(password|ssl))/;
    const runScopes = [...configVariables('worker'), ...configVariables('connector')];
    for (const v of runScopes) if (resolved.test(v.path)) derived.add(v.path);
    const c = loadConfig({ ...BASE });
    const checked = runScopes.filter((v) => !derived.has(v.path));
    assert.ok(checked.length >= 15);
    for (const v of checked) assert.deepStrictEqual(at(c, v.path), v.default, v.env);
    // Workers sharing a config topic are one group, and publish their states beside it.
    assert.equal(c.worker.groupId, 'walcast-configs');
    assert.equal(c.worker.statusStorageTopic, 'walcast-configs-status');
  });

  test('values are read from the env object and coerced to their types', () => {
    const c = loadConfig({
      ...BASE, WALCAST_SLOT: 'slot_2', WALCAST_BATCH_MAX_EVENTS: '500', WALCAST_TOMBSTONES: 'false',
      WALCAST_HTTP_PORT: '0', WALCAST_FORMAT: 'json', WALCAST_LOG_LEVEL: 'debug', WALCAST_TOPIC_REPLICATION_FACTOR: '3',
    });
    assert.equal(c.pg.slot, 'slot_2');
    assert.equal(c.batch.maxEvents, 500);
    assert.equal(c.events.tombstones, false);
    assert.equal(c.http.port, 0);
    assert.equal(c.events.format, 'json');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.kafka.topicReplicationFactor, 3);
  });

  test('WALCAST_TABLES is split on commas and trimmed; empty entries are dropped', () => {
    assert.deepStrictEqual(loadConfig({ ...BASE, WALCAST_TABLES: ' public.orders , ,sales.* ,audit_?' }).pg.tables, ['public.orders', 'sales.*', 'audit_?']);
    assert.deepStrictEqual(loadConfig({ ...BASE, WALCAST_TABLES: '' }).pg.tables, []);
    assert.deepStrictEqual(loadConfig({ ...BASE, WALCAST_TABLES: 'orders' }).pg.tables, ['orders']);
  });

  test('property: WALCAST_TABLES round-trips any list of patterns without commas or edge whitespace', () => {
    const pattern = fc.stringMatching(/^[A-Za-z0-9_.*?]{1,12}$/);
    fc.assert(fc.property(fc.array(pattern, { maxLength: 8 }), fc.array(fc.constantFrom(' ', '  ', '\t'), { maxLength: 8 }), (patterns, pads) => {
      const raw = patterns.map((p, i) => `${pads[i] ?? ''}${p}${pads[i] ?? ''}`).join(',');
      assert.deepStrictEqual(loadConfig({ ...BASE, WALCAST_TABLES: raw }).pg.tables, patterns);
    }), { numRuns: 200 });
  });

  test('WALCAST_KAFKA_BROKERS is split on commas and trimmed', () => {
    assert.deepStrictEqual(loadConfig({ ...BASE, WALCAST_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9093 ,10.0.0.3:19092' }).kafka.brokers, ['kafka-1:9092', 'kafka-2:9093', '10.0.0.3:19092']);
  });

  test('the topic prefix defaults to the database name from the URL, URL-decoded', () => {
    assert.equal(loadConfig({ ...BASE }).events.topicPrefix, 'shop');
    assert.match(configError({ ...BASE, WALCAST_PG_URL: 'postgresql://u@h/caf%C3%A9' }).message, /WALCAST_TOPIC_PREFIX/);
    assert.equal(loadConfig({ ...BASE, WALCAST_PG_URL: 'postgres://u:p@h:5432/my_db?sslmode=require' }).events.topicPrefix, 'my_db');
    assert.equal(loadConfig({ ...BASE, WALCAST_PG_URL: 'postgres://u@h/sales%2Deu' }).events.topicPrefix, 'sales-eu');
    assert.equal(loadConfig({ ...BASE, WALCAST_TOPIC_PREFIX: 'cdc' }).events.topicPrefix, 'cdc');
  });

  test('the transactional id defaults to walcast-<prefix>-<slot>', () => {
    assert.equal(loadConfig({ ...BASE }).kafka.transactionalId, 'walcast-shop-walcast');
    assert.equal(loadConfig({ ...BASE, WALCAST_TOPIC_PREFIX: 'cdc', WALCAST_SLOT: 's1' }).kafka.transactionalId, 'walcast-cdc-s1');
    assert.equal(loadConfig({ ...BASE, WALCAST_PG_URL: 'postgres://u@h/sales%2Deu' }).kafka.transactionalId, 'walcast-sales-eu-walcast');
    assert.equal(loadConfig({ ...BASE, WALCAST_KAFKA_TRANSACTIONAL_ID: 'mine' }).kafka.transactionalId, 'mine');
  });

  test('property: prefix and transactional id follow any database name and slot (or the name is refused)', () => {
    const dbName = fc.string({ unit: fc.constantFrom('a', 'B', '_', '-', '1', 'é', ' ', '/', '%', '?', '#', '😀'), minLength: 1, maxLength: 12 });
    const slot = fc.stringMatching(/^[a-z0-9_]{1,20}$/);
    fc.assert(fc.property(dbName, slot, (db, s) => {
      const env = { ...BASE, WALCAST_PG_URL: `postgres://u:p@h:5432/${encodeURIComponent(db)}`, WALCAST_SLOT: s };
      if (!/^[A-Za-z0-9._-]+$/.test(db)) {
        assert.match(configError(env).message, /WALCAST_TOPIC_PREFIX/);
        return;
      }
      const c = loadConfig(env);
      assert.equal(c.events.topicPrefix, db);
      assert.equal(c.kafka.transactionalId, `walcast-${db}-${s}`);
    }), { numRuns: 300 });
  });

  test('variables outside the WALCAST_ prefix are ignored', () => {
    const c = loadConfig({ ...BASE, PATH: '/usr/bin', walcast_slot: 'x', WALCASTSLOT: 'y', KAFKA_BROKERS: 'nonsense' });
    assert.equal(c.pg.slot, 'walcast');
  });

  test('json format needs no schema registry', () => {
    const env: Record<string, string> = { ...BASE, WALCAST_FORMAT: 'json' };
    delete env.WALCAST_SCHEMA_REGISTRY_URL;
    assert.equal(loadConfig(env).events.format, 'json');
  });
});

describe('loadConfig: problems', () => {
  test('an unknown WALCAST_ variable is refused with a did-you-mean', () => {
    const e = configError({ ...BASE, WALCAST_SLTO: 'x' });
    assert.match(e.message, /WALCAST_SLTO/);
    assert.match(e.message, /did you mean WALCAST_SLOT/);
    assert.deepStrictEqual(e.problems, ['WALCAST_SLTO is not a walcast setting (did you mean WALCAST_SLOT?)']);
  });

  test('an unknown variable far from every known one gets no suggestion', () => {
    const e = configError({ ...BASE, WALCAST_COMPLETELY_UNRELATED_THING: '1' });
    assert.equal(e.problems.length, 1);
    assert.match(e.problems[0]!, /^WALCAST_COMPLETELY_UNRELATED_THING is not a walcast setting$/);
  });

  const malformed: [string, Record<string, string>][] = [
    ['WALCAST_PG_URL', { WALCAST_PG_URL: 'not a url' }],
    ['WALCAST_PG_URL', { WALCAST_PG_URL: 'mysql://u:p@h:3306/shop' }],
    ['WALCAST_PG_URL', { WALCAST_PG_URL: 'postgres://u:p@h:5432/' }],
    ['WALCAST_PG_URL', { WALCAST_PG_URL: '' }],
    ['WALCAST_KAFKA_BROKERS', { WALCAST_KAFKA_BROKERS: 'kafka-1' }],
    ['WALCAST_KAFKA_BROKERS', { WALCAST_KAFKA_BROKERS: 'kafka-1:9092,kafka-2' }],
    ['WALCAST_KAFKA_BROKERS', { WALCAST_KAFKA_BROKERS: 'kafka-1:9092,' }],
    ['WALCAST_SLOT', { WALCAST_SLOT: 'MySlot' }],
    ['WALCAST_SLOT', { WALCAST_SLOT: 'my-slot' }],
    ['WALCAST_SLOT', { WALCAST_SLOT: 'a'.repeat(64) }],
    ['WALCAST_BATCH_MAX_EVENTS', { WALCAST_BATCH_MAX_EVENTS: '-1' }],
    ['WALCAST_BATCH_MAX_EVENTS', { WALCAST_BATCH_MAX_EVENTS: '0' }],
    ['WALCAST_BATCH_MAX_EVENTS', { WALCAST_BATCH_MAX_EVENTS: '1.5' }],
    ['WALCAST_BATCH_MAX_EVENTS', { WALCAST_BATCH_MAX_EVENTS: 'many' }],
    ['WALCAST_FORMAT', { WALCAST_FORMAT: 'xml' }],
    ['WALCAST_LOG_LEVEL', { WALCAST_LOG_LEVEL: 'verbose' }],
    ['WALCAST_HTTP_PORT', { WALCAST_HTTP_PORT: '70000' }],
    ['WALCAST_SCHEMA_REGISTRY_URL', { WALCAST_SCHEMA_REGISTRY_URL: 'ftp://registry/' }],
    ['WALCAST_PUBLICATION', { WALCAST_PUBLICATION: ' ' }],
  ];
  for (const [variable, overrides] of malformed) {
    test(`${variable}=${JSON.stringify(Object.values(overrides)[0])} is refused naming ${variable}`, () => {
      const e = configError({ ...BASE, ...overrides });
      assert.equal(e.problems.length, 1, e.message);
      assert.ok(e.problems[0]!.startsWith(variable), e.problems[0]);
      assert.ok(e.message.includes(variable));
    });
  }

  test('avro format without a registry URL is refused', () => {
    const env: Record<string, string> = { ...BASE };
    delete env.WALCAST_SCHEMA_REGISTRY_URL;
    const e = configError(env);
    assert.equal(e.problems.length, 1);
    assert.match(e.problems[0]!, /WALCAST_SCHEMA_REGISTRY_URL/);
    assert.match(e.problems[0]!, /WALCAST_FORMAT=avro/);
    const explicit = configError({ ...env, WALCAST_FORMAT: 'avro' });
    assert.match(explicit.message, /WALCAST_SCHEMA_REGISTRY_URL/);
  });

  test('missing required variables are all reported', () => {
    const e = configError({});
    const text = e.problems.join('\n');
    assert.match(text, /WALCAST_PG_URL/);
    assert.match(text, /WALCAST_KAFKA_BROKERS/);
    assert.match(text, /WALCAST_SCHEMA_REGISTRY_URL/);
  });

  test('all problems are reported at once', () => {
    const e = configError({
      ...BASE, WALCAST_SLTO: 'x', WALCAST_PG_URL: 'postgres://u@h/', WALCAST_KAFKA_BROKERS: 'k', WALCAST_SLOT: 'Bad',
      WALCAST_BATCH_MAX_EVENTS: '-1', WALCAST_FORMAT: 'xml', WALCAST_HTTP_PORT: '-5',
    });
    assert.equal(e.problems.length, 7, e.message);
    for (const v of ['WALCAST_SLTO', 'WALCAST_PG_URL', 'WALCAST_KAFKA_BROKERS', 'WALCAST_SLOT', 'WALCAST_BATCH_MAX_EVENTS', 'WALCAST_FORMAT', 'WALCAST_HTTP_PORT']) {
      assert.equal(e.problems.filter((p) => p.startsWith(v + ' ') || p.startsWith(v + ':')).length, 1, v);
    }
    for (const p of e.problems) assert.ok(e.message.includes(p));
    assert.match(e.message, /docs\/configuration\.md/);
  });

  test('property: any combination of malformed values yields one problem per variable', () => {
    const distinct = malformed.filter(([v], i) => malformed.findIndex(([w]) => w === v) === i);
    fc.assert(fc.property(fc.subarray(distinct, { minLength: 1 }), (cases) => {
      const env = { ...BASE };
      for (const [, overrides] of cases) Object.assign(env, overrides);
      const e = configError(env);
      assert.equal(e.problems.length, cases.length, e.message);
      for (const [variable] of cases) assert.ok(e.problems.some((p) => p.startsWith(variable)), variable);
    }), { numRuns: 200 });
  });
});

describe('loadConfig: secrets never appear in errors', () => {
  /** A password that cannot occur by chance in the error text; may hold URL-special characters. */
  const password = fc.string({ unit: fc.oneof(fc.constantFrom('@', ':', '/', '%', '?', '#', ' ', '"', '\'', '\\', 'é', '😀'), fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))), minLength: 0, maxLength: 16 })
    .map((s) => `Pw7${s}Zq9`);
  const pgUrlShape = fc.constantFrom(
    (e: string) => `postgres://walcast:${e}@db:5432/`,
    (e: string) => `postgres://walcast:${e}@db:5432`,
    (e: string) => `mysql://walcast:${e}@db:3306/shop`,
    (e: string) => `postgres://walcast:${e}@db:notaport/shop`,
    (e: string) => `postgres://walcast:${e}@[::1/shop`,
    (e: string) => `walcast:${e}@db:5432/shop`,
    (e: string) => `postgres://walcast:${e}@db:5432/shop`,
    (e: string) => ` postgres://walcast:${e}@db:5432/shop?sslmode=require `,
  );
  const otherErrors: Record<string, string>[] = [
    { WALCAST_KAFKA_BROKERS: 'kafka' }, { WALCAST_SLOT: 'Bad' }, { WALCAST_FORMAT: 'xml' }, { WALCAST_SLTO: 'x' },
    { WALCAST_BATCH_MAX_EVENTS: '-1' }, { WALCAST_SCHEMA_REGISTRY_URL: 'ftp://r/' },
  ];

  function assertNoSecret(env: Record<string, string>, secret: string): void {
    const e = configError(env);
    const texts = [e.message, String(e), e.problems.join('\n'), e.stack ?? ''];
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), secret.toLowerCase()])) {
      for (const t of texts) assert.ok(!t.includes(form), `secret ${JSON.stringify(form)} leaked into: ${t}`);
    }
  }

  test('example: an invalid WALCAST_PG_URL is reported without its password', () => {
    const e = configError({ ...BASE, WALCAST_PG_URL: 'postgres://walcast:hunter2secret@db:5432/' });
    assert.match(e.message, /WALCAST_PG_URL/);
    assert.ok(!e.message.includes('hunter2secret'));
  });

  test('property: the WALCAST_PG_URL password never appears, whatever else is wrong', () => {
    fc.assert(fc.property(password, pgUrlShape, fc.boolean(), fc.subarray(otherErrors, { minLength: 1 }), (pw, shape, encode, others) => {
      const env: Record<string, string> = { ...BASE, WALCAST_PG_URL: shape(encode ? encodeURIComponent(pw) : pw) };
      for (const o of others) Object.assign(env, o);
      assertNoSecret(env, pw);
    }), { numRuns: 300 });
  });

  test('property: a registry URL password never appears', () => {
    const registryShape = fc.constantFrom(
      (e: string) => `ftp://user:${e}@registry:8080/`,
      (e: string) => `http://user:${e}@registry:notaport/`,
      (e: string) => `registry:${e}`,
    );
    fc.assert(fc.property(password, registryShape, (pw, shape) => {
      assertNoSecret({ ...BASE, WALCAST_SCHEMA_REGISTRY_URL: shape(encodeURIComponent(pw)) }, pw);
    }), { numRuns: 200 });
  });

  test('property: a secret in a misspelt variable is not echoed', () => {
    fc.assert(fc.property(password, fc.constantFrom('WALCAST_PG_ULR', 'WALCAST_PGURL', 'WALCAST_SCHEMA_REGISTRY_ULR'), (pw, name) => {
      assertNoSecret({ ...BASE, [name]: `postgres://walcast:${encodeURIComponent(pw)}@db:5432/shop` }, pw);
    }), { numRuns: 100 });
  });
});

describe('closestVariable', () => {
  test('examples', () => {
    assert.equal(closestVariable('WALCAST_SLTO', KNOWN), 'WALCAST_SLOT');
    assert.equal(closestVariable('WALCAST_SLOT', KNOWN), 'WALCAST_SLOT');
    assert.equal(closestVariable('WALCAST_KAFKA_BROKER', KNOWN), 'WALCAST_KAFKA_BROKERS');
    assert.equal(closestVariable('WALCAST_PG_ULR', KNOWN), 'WALCAST_PG_URL');
    assert.equal(closestVariable('WALCAST_COMPLETELY_UNRELATED_THING', KNOWN), undefined);
    assert.equal(closestVariable('WALCAST_SLOT', []), undefined);
    // long names tolerate length/4 edits
    assert.equal(closestVariable('WALCAST_KAFKA_TRANSACTIONAL_IDENTIFIER', KNOWN), 'WALCAST_KAFKA_TRANSACTIONAL_ID');
    const long = 'A'.repeat(30) + 'B'.repeat(8); // 38 characters: up to 9 edits
    assert.equal(closestVariable(long, ['A'.repeat(30)]), 'A'.repeat(30)); // 8 edits
    assert.equal(closestVariable(long, ['A'.repeat(29)]), 'A'.repeat(29)); // 9 edits
    assert.equal(closestVariable(long, ['A'.repeat(28)]), undefined); // 10 edits
  });

  test('property: a single-character typo of a known variable suggests a variable at distance <= 1', () => {
    const edit = fc.record({ variable: fc.constantFrom(...KNOWN), at: fc.nat(), ch: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789'), kind: fc.constantFrom('delete', 'insert', 'replace', 'swap') });
    fc.assert(fc.property(edit, ({ variable, at: pos, ch, kind }) => {
      const i = pos % variable.length;
      const typo = kind === 'delete' ? variable.slice(0, i) + variable.slice(i + 1)
        : kind === 'insert' ? variable.slice(0, i) + ch + variable.slice(i)
          : kind === 'replace' ? variable.slice(0, i) + ch + variable.slice(i + 1)
            : variable.slice(0, i) + (variable[i + 1] ?? '') + variable[i] + variable.slice(i + 2);
      const suggestion = closestVariable(typo, KNOWN);
      assert.ok(suggestion !== undefined, typo);
      assert.ok(KNOWN.includes(suggestion));
      assert.ok(levenshtein(typo, suggestion) <= Math.min(levenshtein(typo, variable), 2), `${typo} -> ${suggestion}`);
    }), { numRuns: 500 });
  });

  test('property: returns a nearest candidate within max(3, length/4) edits, else undefined', () => {
    const word = fc.string({ unit: fc.constantFrom('A', 'B', 'C', '_'), maxLength: 40 });
    // candidates: random words and copies of the name with a few characters dropped
    const input = word.chain((name) => fc.tuple(
      fc.constant(name),
      fc.array(fc.oneof(word, fc.nat({ max: 12 }).map((k) => name.slice(k))), { maxLength: 6 }),
    ));
    fc.assert(fc.property(input, ([name, known]) => {
      const result = closestVariable(name, known);
      const best = Math.min(...known.map((k) => levenshtein(name, k)));
      if (known.length > 0 && best <= Math.max(3, Math.floor(name.length / 4))) {
        assert.ok(result !== undefined && known.includes(result));
        assert.equal(levenshtein(name, result), best);
      } else {
        assert.equal(result, undefined);
      }
    }), { numRuns: 500 });
  });
});

// Each of these was once accepted silently or crashed with the wrong error class.
describe('loadConfig: malformed values found by review', () => {
  test('a malformed %-escape in the database name is a ConfigError, not a URIError', () => {
    const e = configError({ ...BASE, WALCAST_PG_URL: 'postgres://u:p@h:5432/db%zz' });
    assert.match(e.message, /WALCAST_PG_URL/);
  });

  test('WALCAST_TOMBSTONES takes true/false (and 1/0, yes/no, on/off), nothing else', () => {
    for (const value of ['0', 'no', 'off', 'false', 'FALSE']) assert.equal(loadConfig({ ...BASE, WALCAST_TOMBSTONES: value }).events.tombstones, false);
    for (const value of ['1', 'yes', 'on', 'true']) assert.equal(loadConfig({ ...BASE, WALCAST_TOMBSTONES: value }).events.tombstones, true);
    for (const value of ['maybe', '2', '']) {
      const e = configError({ ...BASE, WALCAST_TOMBSTONES: value });
      assert.match(e.message, /WALCAST_TOMBSTONES/);
    }
  });

  test('a database name that is not a valid topic prefix needs WALCAST_TOPIC_PREFIX', () => {
    const e = configError({ ...BASE, WALCAST_PG_URL: 'postgres://u:p@h:5432/my%20db' });
    assert.match(e.message, /WALCAST_TOPIC_PREFIX/);
    assert.equal(loadConfig({ ...BASE, WALCAST_PG_URL: 'postgres://u:p@h:5432/my%20db', WALCAST_TOPIC_PREFIX: 'mydb' }).events.topicPrefix, 'mydb');
  });

  test('WALCAST_TOPIC_REPLICATION_FACTOR must be -1 or a positive integer', () => {
    for (const value of ['three', '0', '-5', '1.5']) {
      const e = configError({ ...BASE, WALCAST_TOPIC_REPLICATION_FACTOR: value });
      assert.match(e.message, /WALCAST_TOPIC_REPLICATION_FACTOR/);
    }
    assert.equal(loadConfig({ ...BASE, WALCAST_TOPIC_REPLICATION_FACTOR: '3' }).kafka.topicReplicationFactor, 3);
  });
});

describe('configuration by scope', () => {
  test('every variable belongs to exactly one scope; process settings are the HTTP, log, Kafka, registry and timeouts', () => {
    const worker = configVariables('worker').map((v) => v.env);
    const connector = configVariables('connector').map((v) => v.env);
    const sink = configVariables('sink').map((v) => v.env);
    assert.deepStrictEqual([...worker, ...connector, ...sink], configVariables().map((v) => v.env));
    assert.equal(worker.filter((n) => connector.includes(n) || sink.includes(n)).length, 0);
    assert.equal(connector.filter((n) => sink.includes(n)).length, 0);
    for (const n of sink) assert.match(n, /^WALCAST_SINK_/);
    for (const n of ['WALCAST_HTTP_PORT', 'WALCAST_LOG_LEVEL', 'WALCAST_KAFKA_BROKERS', 'WALCAST_SCHEMA_REGISTRY_URL', 'WALCAST_STARTUP_TIMEOUT_MS']) assert.ok(worker.includes(n), n);
    for (const n of ['WALCAST_PG_URL', 'WALCAST_SLOT', 'WALCAST_TABLES', 'WALCAST_TOPIC_PREFIX', 'WALCAST_OFFSETS_TOPIC', 'WALCAST_BATCH_MAX_EVENTS']) assert.ok(connector.includes(n), n);
  });

  test('a connector loads from a JSON map and runs with the process\'s Kafka and registry', () => {
    const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k1:9092,k2:9092', WALCAST_SCHEMA_REGISTRY_URL: 'http://r:8081', WALCAST_HTTP_PORT: '9000' });
    assert.equal(worker.http.port, 9000);
    const map = JSON.parse('{"WALCAST_PG_URL":"postgres://u@db/inventory","WALCAST_SLOT":"inv","WALCAST_TABLES":"public.items, public.stock"}') as Record<string, string>;
    const connector = loadCdcConnectorConfig(map, worker);
    assert.equal(connector.name, 'inventory');
    assert.deepStrictEqual(connector.pg.tables, ['public.items', 'public.stock']);
    assert.deepStrictEqual(connector.kafka.brokers, ['k1:9092', 'k2:9092']);
    assert.equal(connector.kafka.transactionalId, 'walcast-inventory-inv');
    assert.equal(connector.registry.url, 'http://r:8081');
  });

  test('two connectors of one process load independently', () => {
    const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k1:9092', WALCAST_SCHEMA_REGISTRY_URL: 'http://r:8081' });
    const a = loadCdcConnectorConfig({ WALCAST_PG_URL: 'postgres://u@db/a', WALCAST_SLOT: 'a' }, worker);
    const b = loadCdcConnectorConfig({ WALCAST_PG_URL: 'postgres://u@db/b', WALCAST_SLOT: 'b', WALCAST_FORMAT: 'json' }, worker);
    assert.deepStrictEqual([a.name, a.pg.slot, a.events.format], ['a', 'a', 'avro']);
    assert.deepStrictEqual([b.name, b.pg.slot, b.events.format], ['b', 'b', 'json']);
  });

  test('each scope reports only its own problems, by variable name, secrets not echoed', () => {
    const worker = loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'k1:9092' });
    assert.throws(() => loadWorkerConfig({ WALCAST_KAFKA_BROKERS: 'nope', WALCAST_PG_URL: 'garbage' }), (e: ConfigError) => {
      assert.deepStrictEqual(e.problems.map((p) => p.split(':')[0]), ['WALCAST_KAFKA_BROKERS']);
      return true;
    });
    assert.throws(() => loadCdcConnectorConfig({ WALCAST_PG_URL: 'mysql://root:hunter2@db/x' }, worker), (e: ConfigError) => {
      assert.ok(e.problems.some((p) => p.startsWith('WALCAST_PG_URL')), e.message);
      assert.ok(e.problems.some((p) => p.startsWith('WALCAST_SCHEMA_REGISTRY_URL must be set when WALCAST_FORMAT=avro')), e.message);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
  });
});

describe('loadSinkConfig', () => {
  const SINK = { WALCAST_SINK_PG_URL: 'postgres://u:secret@target:5432/reports', WALCAST_KAFKA_BROKERS: 'k:9092', WALCAST_SINK_TOPICS: 'shop.public.orders, shop.public.items' };

  test('defaults: group walcast-sink, table from source schema and table, offsets table in public; the process settings beside it', () => {
    const { worker, sink } = loadSinkConfig(SINK);
    assert.deepStrictEqual(sink.topics, ['shop.public.orders', 'shop.public.items']);
    assert.equal(sink.topicsRegex, null);
    assert.equal(sink.groupId, 'walcast-sink');
    assert.equal(sink.name, 'walcast-sink');
    assert.equal(sink.tableNameFormat, '${source.schema}.${source.table}');
    assert.equal(sink.offsetsTable, 'public.walcast_sink_offsets');
    assert.equal(sink.deleteEnabled, true);
    assert.equal(sink.truncateEnabled, false);
    assert.equal(sink.toastPlaceholder, '__debezium_unavailable_value');
    assert.deepStrictEqual(sink.kafka.brokers, worker.kafka.brokers);
  });

  test('a pattern is matched against the whole topic name', () => {
    const { sink } = loadSinkConfig({ ...SINK, WALCAST_SINK_TOPICS: '', WALCAST_SINK_TOPICS_REGEX: 'shop\\.public\\..*' });
    assert.ok(sink.topicsRegex!.test('shop.public.orders'));
    assert.ok(!sink.topicsRegex!.test('xshop.public.orders'));
  });

  test('topics and a pattern, or neither, or a broken pattern, are refused by name; the target password is not echoed', () => {
    for (const extra of [{ WALCAST_SINK_TOPICS_REGEX: 'a.*' }, { WALCAST_SINK_TOPICS: '' }]) {
      assert.throws(() => loadSinkConfig({ ...SINK, ...extra }), (e: Error) => e instanceof ConfigError && /WALCAST_SINK_TOPICS/.test(e.message) && !e.message.includes('secret'));
    }
    assert.throws(() => loadSinkConfig({ ...SINK, WALCAST_SINK_TOPICS: '', WALCAST_SINK_TOPICS_REGEX: '(' }), /WALCAST_SINK_TOPICS_REGEX: not a regular expression/);
    assert.throws(() => loadSinkConfig({ ...SINK, WALCAST_SINK_PG_URL: 'mysql://x' }), /WALCAST_SINK_PG_URL/);
    assert.throws(() => loadSinkConfig({ ...SINK, WALCAST_SINK_PG_SSL_MODE: 'verify-full', WALCAST_SINK_PG_URL: 'postgres://u@h/db?sslmode=require' }), /WALCAST_SINK_PG_SSL_MODE=verify-full and sslmode=require in WALCAST_SINK_PG_URL disagree/);
  });
});
