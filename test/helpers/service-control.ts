// Stops and starts one local service for fault tests. The service is stopped and started through
// the checkout that owns it (scripts/services.sh `home`), so the same broker and data come back
// even when this checkout reuses services another checkout started.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ownScript = join(import.meta.dirname, '..', '..', 'scripts', 'services.sh');
type ServiceName = 'postgres' | 'kafka' | 'registry';
const owners = new Map<ServiceName, string>();

/** Resolves (and remembers) the checkout owning a running service; call it before killing one. */
export async function ownerScript(name: ServiceName): Promise<string> {
  let home = owners.get(name);
  if (!home) {
    home = (await run('bash', [ownScript, 'home', name])).stdout.trim();
    if (!home) throw new Error(`${name} is not running: start it with npm run services:up`);
    owners.set(name, home);
  }
  return join(home, 'scripts', 'services.sh');
}

export async function stopService(name: ServiceName): Promise<void> {
  await run('bash', [await ownerScript(name), 'down', name], { maxBuffer: 1 << 20 });
}

export async function startService(name: ServiceName): Promise<void> {
  await run('bash', [await ownerScript(name), 'up', name], { maxBuffer: 1 << 20 });
}
