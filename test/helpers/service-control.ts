// Stops and starts one local service (scripts/services.sh) for fault tests.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', 'scripts', 'services.sh');

export async function stopService(name: 'postgres' | 'kafka' | 'registry'): Promise<void> {
  await run('bash', [script, 'down', name], { maxBuffer: 1 << 20 });
}

export async function startService(name: 'postgres' | 'kafka' | 'registry'): Promise<void> {
  await run('bash', [script, 'up', name], { maxBuffer: 1 << 20 });
}
