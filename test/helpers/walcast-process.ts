// Runs the real walcast CLI as a child process (the way operators run it) and watches its
// structured log lines, so tests can await conditions instead of sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

// The sources under test, not bin/walcast.js: the bin prefers dist/, which may be a stale build.
const bin = join(import.meta.dirname, '..', '..', 'src', 'cli.ts');

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export class WalcastProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  /** Everything written to stdout and stderr, for secret scans and failure messages. */
  output = '';
  private readonly waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: Record<string, string>, args: string[] = ['run']) {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WALCAST_'))) as Record<string, string>;
    this.child = spawn(process.execPath, [bin, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        this.lines.push(line);
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          if (this.waiters[i]!.predicate(line)) this.waiters.splice(i, 1)[0]!.resolve(line);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs = 60_000, what = 'log line'): Promise<LogLine> {
    const found = this.lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output so far:\n${this.output.slice(-4000)}`)), timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error(`walcast exited while waiting for ${what}; output:\n${this.output.slice(-4000)}`));
      };
      this.child.once('exit', onExit);
      this.waiters.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolve(l);
        },
      });
    });
  }

  waitForStreaming(timeoutMs = 90_000): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'streaming', timeoutMs, '"streaming"');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return { ...result, ms: Date.now() - t0 };
  }
}
