/**
 * Secrets never reach the log: fields named like a secret are censored at any depth (errors and
 * their causes included), and remembered secret values are scrubbed from every line, whatever the
 * field, the nesting or the level (trace included), in the raw, %-encoded and JSON-escaped forms.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, redactSecretFields } from '../../src/log.ts';
import { forgetSecretsForTests, rememberSecrets, rememberUrlSecrets, scrub } from '../../src/secrets.ts';

/** A logger at `level` writing into an array of parsed lines. */
function capture(level: string): { lines: () => Array<Record<string, unknown>>; raw: string[]; log: ReturnType<typeof createLogger> } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(chunk.toString('utf8'));
      callback();
    },
  });
  const log = createLogger(level, destination as unknown as Parameters<typeof createLogger>[1]);
  return { raw, log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

afterEach(() => forgetSecretsForTests());

describe('log redaction', () => {
  test('secret-named fields are censored at any depth, in arrays too', () => {
    const { log, lines } = capture('trace');
    log.trace({ a: { b: { c: { password: 'p1-deep', keep: 'visible' } } }, list: [{ token: 't1' }, { passphrase: 'pp' }], sasl: { mechanism: 'x', password: 'y' } }, 'nested');
    const [line] = lines();
    assert.deepEqual(line!.a, { b: { c: { password: '*****', keep: 'visible' } } });
    assert.deepEqual(line!.list, [{ token: '*****' }, { passphrase: '*****' }]);
    assert.equal(line!.sasl, '*****');
    log.trace({ ssl: true, sasl: false }, 'flags');
    assert.deepEqual([lines()[1]!.ssl, lines()[1]!.sasl], [true, false], 'whether TLS or SASL is used is no secret');
  });

  test('errors: fields of the error and of its cause named like secrets are censored', () => {
    const { log, lines } = capture('trace');
    const cause = Object.assign(new Error('inner'), { config: { password: 'cause-secret' } });
    const error = Object.assign(new Error('outer', { cause }), { authorization: 'Basic abc', details: { connectionString: 'postgres://u:pw@h/db' } });
    log.error({ err: error }, 'failed');
    const err = lines()[0]!.err as Record<string, unknown>;
    assert.equal(err.authorization, '*****');
    assert.deepEqual(err.details, { connectionString: '*****' });
    assert.doesNotMatch(JSON.stringify(lines()[0]), /cause-secret/);
  });

  test('remembered values are scrubbed from messages, stacks, bindings and unrelated fields, at every level', () => {
    const secret = 'S3cr3t/with"quote\\and%';
    rememberSecrets([secret]);
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
      const { log, raw } = capture('trace');
      const child = log.child({ note: `bound ${secret}` });
      child[level]({ field: `x${secret}y`, encoded: encodeURIComponent(secret), deep: [{ n: { m: secret } }], err: new Error(`boom ${secret}`) }, `message ${secret}`);
      const text = raw.join('');
      assert.ok(!text.includes('S3cr3t'), `${level}: ${text}`);
      assert.ok(!text.includes(encodeURIComponent(secret)), level);
      const line = JSON.parse(text) as Record<string, unknown>;
      assert.equal(line.msg, 'message *****');
      assert.equal(line.field, 'x*****y');
      assert.equal(line.note, 'bound *****');
    }
  });

  test('a URL\'s password and the Basic credentials built from it are remembered', () => {
    rememberUrlSecrets('https://reg-user:reg%2Fpass%40word@registry.example/apis');
    assert.equal(scrub('pw reg/pass@word'), 'pw *****');
    assert.equal(scrub(`header Basic ${Buffer.from('reg-user:reg/pass@word').toString('base64')}`), 'header Basic *****');
    assert.equal(scrub('user reg-user'), 'user reg-user', 'the user name is not a secret');
  });

  test('a password equal to its user name is not scrubbed by value (the name must stay readable); its Basic form is', () => {
    rememberUrlSecrets('postgres://walcast_repl:walcast_repl@db/shop');
    assert.equal(scrub('role walcast_repl may not create it'), 'role walcast_repl may not create it');
    assert.equal(scrub(Buffer.from('walcast_repl:walcast_repl').toString('base64')), '*****');
  });

  test('a secret containing another is replaced whole; very short values are not scrubbed', () => {
    rememberSecrets(['abcd', 'abcdefgh', 'ab']);
    assert.equal(scrub('x abcdefgh y abcd z ab'), 'x ***** y ***** z ab');
  });

  test('redactSecretFields leaves class instances and primitives alone and survives cycles', () => {
    const cyclic: Record<string, unknown> = { password: 'p' };
    cyclic.self = cyclic;
    const out = redactSecretFields({ when: new Date(0), buf: Buffer.from('x'), n: 1, cyclic }) as Record<string, unknown>;
    assert.ok(out.when instanceof Date);
    assert.ok(Buffer.isBuffer(out.buf));
    assert.equal((out.cyclic as Record<string, unknown>).password, '*****');
  });
});
