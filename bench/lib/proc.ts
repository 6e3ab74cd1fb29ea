/**
 * Processes under test: spawn with a log file and a line watcher, and read their cost from /proc
 * (peak RSS = VmHWM, CPU = utime + stime).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { BENCH } from './util.ts';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** utime + stime, seconds. */
  cpuSeconds: number;
  /** VmHWM: peak resident set size, MiB. */
  peakRssMb: number;
  rssMb: number;
  at: number;
}

/** null when the process is gone. */
export function sampleProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    // fields after the command name (which may contain spaces) start at field 3
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuSeconds: (utime + stime) / ticksPerSecond(), peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024, at: Date.now() };
  } catch {
    return null;
  }
}

/** pid of the process listening on a local TCP port (ss), if any. */
export function portOwner(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Local ports of the established TCP connections that process `pid` holds to local port
 * `remotePort` (ss): e.g. its PostgreSQL connections, to find their backends in pg_stat_activity.
 */
export function tcpClientPorts(pid: number, remotePort: number): number[] {
  try {
    const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${remotePort} )`], { encoding: 'utf8' });
    const ports: number[] = [];
    for (const row of out.split('\n')) {
      const m = /\S+:(\d+)\s+\S+:\d+\s+users:(.*)$/.exec(row.trim());
      if (m && [...m[2]!.matchAll(/pid=(\d+)/g)].some((p) => Number(p[1]) === pid)) ports.push(Number(m[1]));
    }
    return ports;
  } catch {
    return [];
  }
}

export interface Watched {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of output, for error messages. */
  tail(): string;
  /** Resolves with the first output line matching `re` (also one seen before the call). */
  waitForLine(re: RegExp, timeoutMs: number, what: string): Promise<string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Spawns `cmd` with stdout and stderr appended to `logFile` and watched line by line.
 * `keepLines` retains every matching line in memory (the rest only go to the file).
 */
export function spawnWatched(cmd: string, args: string[], options: { env: Record<string, string>; logFile: string; cwd?: string; stdin?: 'pipe' | 'ignore' }): Watched {
  const child = spawn(cmd, args, { env: options.env, cwd: options.cwd, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const out: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  const recent: string[] = [];
  const seen: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  const onLine = (line: string): void => {
    recent.push(line);
    if (recent.length > 60) recent.shift();
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.re.test(line)) waiters.splice(i, 1)[0]!.resolve(line);
    }
    if (seen.length < 2000) seen.push(line);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      out.write(chunk);
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      out.end();
      resolve({ code, signal });
    }),
  );
  const tail = (): string => recent.slice(-25).join('\n');
  return {
    child,
    pid: child.pid,
    exited,
    tail,
    waitForLine(re, timeoutMs, what) {
      const found = seen.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last output:\n${tail()}`)), timeoutMs);
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`${cmd} exited (code ${code}, signal ${signal}) while waiting for ${what}; last output:\n${tail()}`));
        });
        waiters.push({
          re,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RusageResult {
  code: number;
  wallSeconds: number;
  cpuSeconds: number | null;
  peakRssMb: number | null;
  output: string;
}

/**
 * Runs a command to completion and reports its own CPU time and peak RSS (getrusage of the
 * child, via bench/lib/rusage.py) — for processes that exit on their own (pg_recvlogical --endpos,
 * ProducerPerformance) and so cannot be sampled in /proc at the end.
 */
let python: boolean | undefined;
function hasPython(): boolean {
  python ??= spawnSync('python3', ['-c', ''], { stdio: 'ignore' }).status === 0;
  return python;
}

export function runWithRusage(cmd: string, args: string[], options: { env: Record<string, string>; logFile: string; timeoutMs: number }): Promise<RusageResult> {
  const t0 = Date.now();
  // without python3 the figures lack CPU and RSS (null), the timing stands
  const child = hasPython()
    ? spawn('python3', [join(BENCH, 'lib', 'rusage.py'), cmd, ...args], { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(options.logFile, { flags: 'a' });
  let output = '';
  let rusage = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out.write(c);
    output += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    // the wrapper's own report is the last stderr line, prefixed RUSAGE
    for (const line of c.split('\n')) {
      if (line.startsWith('RUSAGE ')) rusage = line.slice(7);
      else if (line) {
        out.write(line + '\n');
        output += line + '\n';
      }
    }
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      out.end();
      const wallSeconds = (Date.now() - t0) / 1000;
      let parsed: { code: number; cpu: number; maxrss_kb: number; wall: number } | null = null;
      try {
        parsed = rusage ? (JSON.parse(rusage) as { code: number; cpu: number; maxrss_kb: number; wall: number }) : null;
      } catch {
        parsed = null;
      }
      resolve({
        code: parsed?.code ?? code ?? -1,
        wallSeconds: parsed?.wall ?? wallSeconds,
        cpuSeconds: parsed?.cpu ?? null,
        peakRssMb: parsed ? parsed.maxrss_kb / 1024 : null,
        output,
      });
    });
  });
}

/** "pid:starttime" of a process (changes when the process is replaced), or null. */
export function processIdentity(pid: number | null): string | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid}:${fields[19]}`; // field 22 (starttime) is the 20th after the command name
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine so far (all CPUs: user+nice+system+irq+softirq+steal). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
    return busy / ticksPerSecond();
  } catch {
    return NaN;
  }
}
