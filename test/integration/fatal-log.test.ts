// An error that escapes every await (a library's stray promise) ends walcast with one structured
// fatal line and exit code 1, not a raw stack trace on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedSchema } from '../helpers/capture.ts';
import { WalcastProcess } from '../helpers/walcast-process.ts';

const it = capturedSchema('fatal', {
  setup: async (db) => {
    await db.query(`create table ${it.schema}.t (id int primary key)`);
  },
});

test('an unhandled rejection while streaming: one fatal JSON line naming it, exit code 1', async () => {
  // Preloaded into walcast's process: rejects a promise nobody awaits once walcast streams.
  const stray = "globalThis.setTimeout(() => { Promise.reject(new Error('stray library promise')); }, 2000);";
  const walcast = new WalcastProcess(it.env({ NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(stray)}` }));
  await walcast.waitForStreaming();
  const exited = await walcast.exited;
  assert.equal(exited.code, 1, walcast.output.slice(-2000));
  const fatal = walcast.lines.find((l) => l.level === 60);
  assert.ok(fatal, `no fatal line in:\n${walcast.output.slice(-2000)}`);
  assert.match(fatal.msg, /^internal error \(unhandled rejection\): stray library promise; exiting/);
  assert.doesNotMatch(walcast.output, /triggerUncaughtException/);
});
