// A throwaway PostgreSQL 15 cluster of the test's own, on a free loopback port, for settings the
// shared one must not change (wal_level=replica, a short wal_sender_timeout) and for tests that
// need a database no other test writes to (a publication of every table). Trust authentication:
// any role logs in without a password.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface ScratchPostgres {
  port: number;
  /** Superuser `postgres`, database `postgres`. */
  url: string;
  /** The same server as `role` (no password: trust authentication). */
  urlAs(role: string, database?: string): string;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startScratchPostgres(settings: Record<string, string> = {}): Promise<ScratchPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'walcast-scratch-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  // initdb and the server must run as the postgres OS user when we are root.
  const run = (cmd: string, args: string[]) =>
    asRoot ? exec('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: '/' }) : exec(cmd, args, { cwd: '/' });
  const stop = async (): Promise<void> => {
    await run(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  const options = {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    wal_level: 'logical',
    max_replication_slots: '10',
    max_wal_senders: '10',
    ...settings,
  };
  try {
    await run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--auth=trust', '--no-sync']);
    await run(join(PG_BIN, 'pg_ctl'), [
      '-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '60',
      '-o', Object.entries(options).map(([k, v]) => `-c ${k}=${v}`).join(' '),
      'start',
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  const urlAs = (role: string, database = 'postgres'): string => `postgres://${encodeURIComponent(role)}@127.0.0.1:${port}/${database}`;
  return { port, url: urlAs('postgres'), urlAs, stop };
}
