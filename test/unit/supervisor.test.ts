/**
 * The supervisor with connectors written for the test (the contract's own kinds, no services):
 * restart with backoff, the start deadline, permanent errors, pause and stop at any moment.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Connector, ErrorVerdict, SessionContext } from '../../src/connector.ts';
import { ExitCode } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { Supervisor } from '../../src/worker/supervisor.ts';

const log = createLogger('silent');

class Permanent extends Error {}
class InUse extends Error {}

/** A connector whose sessions run the given script, one per session. */
class ScriptedConnector implements Connector {
  readonly name = 'scripted';
  readonly type = 'source' as const;
  sessions = 0;
  cleanups = 0;
  startedAt: number[] = [];
  contexts: SessionContext[] = [];
  private readonly script: Array<(context: SessionContext) => Promise<void>>;
  constructor(script: Array<(context: SessionContext) => Promise<void>>) {
    this.script = script;
  }
  runSession(context: SessionContext): Promise<void> {
    this.startedAt.push(Date.now());
    this.contexts.push(context);
    const step = this.script[Math.min(this.sessions, this.script.length - 1)]!;
    this.sessions += 1;
    return step(context);
  }
  classify(error: unknown): ErrorVerdict {
    if (error instanceof Permanent) return { permanent: true, exitCode: ExitCode.sourceSetup, message: error.message };
    if (error instanceof InUse) return { permanent: false, waitForOwner: true, exitCode: ExitCode.unreachable, message: error.message };
    return { permanent: false, exitCode: ExitCode.unreachable, message: (error as Error).message };
  }
  async cleanup(): Promise<void> {
    this.cleanups += 1;
  }
}

const fail = (message: string) => async (): Promise<void> => {
  throw new Error(message);
};
/** Runs until the signal is aborted, like a streaming session. */
const runUntilAborted = async (context: SessionContext): Promise<void> => {
  context.running();
  if (context.signal.aborted) return;
  await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
};
/** Never answers: a service that hangs while connecting. */
const hang = (context: SessionContext): Promise<void> =>
  new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));

function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setImmediate(check);
    };
    check();
  });
}

describe('Supervisor', () => {
  test('transient faults: restarted with doubling backoff, then running; the backoff resets once running', async () => {
    const connector = new ScriptedConnector([fail('broker down'), fail('broker down'), fail('broker down'), runUntilAborted]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 10_000, initialBackoffMs: 20, log });
    const done = supervisor.run();
    await until(() => supervisor.status().state === 'running', 'running');
    const gaps = connector.startedAt.slice(1).map((t, i) => t - connector.startedAt[i]!);
    assert.equal(gaps.length, 3);
    assert.ok(gaps[0]! >= 19 && gaps[1]! >= 39 && gaps[2]! >= 79, `backoff doubles: ${gaps.join(', ')} ms`);
    assert.equal(supervisor.status().restarts, 3);
    assert.match(supervisor.status().lastError!, /broker down/);
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
    assert.equal(supervisor.status().state, 'stopped');
    assert.equal(connector.cleanups, 0, 'a connector that ran keeps what it created');
  });

  test('start deadline: a connector that never runs fails with exit code 4 and cleans up', async () => {
    const connector = new ScriptedConnector([hang]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 150, initialBackoffMs: 20, log });
    const started = Date.now();
    assert.equal(await supervisor.run(), ExitCode.unreachable);
    assert.ok(Date.now() - started < 2000, 'gave up at the deadline, not later');
    assert.equal(supervisor.status().state, 'failed');
    assert.match(supervisor.status().lastError!, /startup deadline/);
    assert.ok(connector.contexts[0]!.signal.aborted, 'the hanging session was told to stop');
    assert.equal(connector.cleanups, 1);
  });

  test('after the connector has run, the start deadline no longer applies', async () => {
    let sessions = 0;
    const connector = new ScriptedConnector([
      async (context) => {
        sessions += 1;
        context.running();
        throw new Error('connection reset');
      },
      fail('still down'),
      fail('still down'),
      runUntilAborted,
    ]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 30, initialBackoffMs: 25, log });
    const done = supervisor.run();
    await until(() => connector.sessions === 4 && supervisor.status().state === 'running', 'the fourth session');
    assert.equal(sessions, 1);
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
  });

  test('permanent error: FAILED with the connector\'s exit code, no retry', async () => {
    const connector = new ScriptedConnector([async () => {
      throw new Permanent('wal_level is replica');
    }]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 10_000, initialBackoffMs: 10, log });
    assert.equal(await supervisor.run(), ExitCode.sourceSetup);
    assert.equal(connector.sessions, 1);
    assert.equal(supervisor.status().state, 'failed');
    assert.match(supervisor.status().lastError!, /wal_level is replica/);
  });

  test('pause during start: the session starts paused, and resume reaches it', async () => {
    const seen: boolean[] = [];
    let release: () => void = () => undefined;
    const connector = new ScriptedConnector([
      async (context) => {
        await new Promise<void>((resolve) => (release = resolve));
        seen.push(context.isPaused());
        context.onPauseChange((paused) => seen.push(paused));
        await runUntilAborted(context);
      },
    ]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 10_000, log });
    const done = supervisor.run();
    await until(() => connector.sessions === 1, 'the session');
    supervisor.pause();
    assert.equal(supervisor.status().paused, true);
    release();
    await until(() => supervisor.status().state === 'running', 'running');
    supervisor.resume();
    assert.deepEqual(seen, [true, false]);
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
  });

  test('stop during start: the session is aborted, the run ends with 0 and removes what the start created', async () => {
    const connector = new ScriptedConnector([hang]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 60_000, log });
    const done = supervisor.run();
    await until(() => connector.sessions === 1, 'the session');
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
    assert.equal(connector.contexts[0]!.signal.reason, 'stop');
    assert.equal(connector.cleanups, 1);
  });

  test('stop during backoff: ends at once, without waiting the backoff out', async () => {
    const connector = new ScriptedConnector([fail('down')]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 60_000, initialBackoffMs: 60_000, log });
    const done = supervisor.run();
    await until(() => supervisor.status().state === 'retrying', 'retrying');
    const stoppedAt = Date.now();
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
    assert.ok(Date.now() - stoppedAt < 1000);
  });

  test('restart: the session ends with reason "restart" and a new one starts', async () => {
    const connector = new ScriptedConnector([runUntilAborted]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 10_000, initialBackoffMs: 5, log });
    const done = supervisor.run();
    await until(() => supervisor.status().state === 'running', 'running');
    supervisor.restart();
    await until(() => connector.sessions === 2 && supervisor.status().state === 'running', 'the second session');
    assert.equal(connector.contexts[0]!.signal.reason, 'restart');
    assert.equal(supervisor.status().restarts, 1);
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
  });

  test('another owner holds the resource: stands by past the start deadline at the fixed poll interval, then takes over', async () => {
    const inUse = async (): Promise<void> => {
      throw new InUse('slot in use');
    };
    // Ten polls of 40 ms outlast the 100 ms start deadline several times over.
    const script = [...Array.from({ length: 10 }, () => inUse), runUntilAborted];
    const connector = new ScriptedConnector(script);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 100, initialBackoffMs: 5, ownerPollMs: 40, log });
    const done = supervisor.run();
    await until(() => connector.sessions === 3, 'the third poll');
    assert.equal(supervisor.status().state, 'waiting');
    await until(() => supervisor.status().state === 'running', 'the takeover', 10_000);
    const gaps = connector.startedAt.slice(1).map((t, i) => t - connector.startedAt[i]!);
    assert.ok(gaps.every((gap) => gap >= 39 && gap < 400), `polls at the fixed interval, not a doubling backoff: ${gaps.join(', ')} ms`);
    assert.ok(connector.startedAt.at(-1)! - connector.startedAt[0]! > 300, 'waited well past the start deadline');
    assert.equal(supervisor.status().restarts, 0, 'standing by is not a restart');
    assert.equal(connector.cleanups, 0);
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
  });

  test('once the owner is gone, a start that hangs still fails at the start deadline', async () => {
    const inUse = async (): Promise<void> => {
      throw new InUse('slot in use');
    };
    const connector = new ScriptedConnector([inUse, inUse, inUse, hang]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 150, initialBackoffMs: 5, ownerPollMs: 100, log });
    const started = Date.now();
    assert.equal(await supervisor.run(), ExitCode.unreachable);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 300 + 150 && elapsed < 3000, `three polls, then the deadline counted from the takeover attempt: ${elapsed} ms`);
    assert.match(supervisor.status().lastError!, /startup deadline/);
  });

  test('stop while standing by: ends at once', async () => {
    const connector = new ScriptedConnector([async () => {
      throw new InUse('slot in use');
    }]);
    const supervisor = new Supervisor(connector, { startupTimeoutMs: 60_000, ownerPollMs: 60_000, log });
    const done = supervisor.run();
    await until(() => supervisor.status().state === 'waiting', 'waiting');
    const stoppedAt = Date.now();
    supervisor.stop();
    assert.equal(await done, ExitCode.ok);
    assert.ok(Date.now() - stoppedAt < 1000);
  });
});
