/**
 * `walcast snapshot`: asks the running walcast of this configuration (same WALCAST_* variables)
 * for an incremental snapshot through its management API, as a script would with curl.
 *   walcast snapshot public.orders public.customers [--filter "public.orders=created_at > now() - interval '7 days'"]
 *   walcast snapshot --stop | --pause | --resume
 */
import { ConfigError, loadConfig } from './config/load.ts';
import { ExitCode, type ExitCodeValue } from './errors.ts';

export const SNAPSHOT_USAGE = `walcast snapshot <schema.table>... [--filter "<schema.table>=<SQL condition>"]...
       walcast snapshot --stop | --pause | --resume`;

export async function snapshotCommand(args: string[], write: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<ExitCodeValue> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      write(`walcast snapshot: ${error.message}`);
      return ExitCode.config;
    }
    throw error;
  }
  const { worker, connector } = config;
  if (worker.http.port === 0) {
    write('walcast snapshot: the management API is disabled (WALCAST_HTTP_PORT=0): it is how this command reaches the running walcast');
    return ExitCode.config;
  }
  const host = worker.http.host === '0.0.0.0' || worker.http.host === '::' ? '127.0.0.1' : worker.http.host;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${worker.http.port}/connectors/${encodeURIComponent(connector.name)}/snapshots`;
  const tables: string[] = [];
  const conditions: Array<{ 'data-collection': string; filter: string }> = [];
  let action: 'execute' | 'stop' | 'pause' | 'resume' = 'execute';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--stop' || arg === '--pause' || arg === '--resume') action = arg.slice(2) as typeof action;
    else if (arg === '--filter') {
      const spec = args[++i] ?? '';
      const eq = spec.indexOf('=');
      if (eq <= 0) {
        write(`walcast snapshot: --filter takes "<schema.table>=<SQL condition>", got ${JSON.stringify(spec)}\n${SNAPSHOT_USAGE}`);
        return ExitCode.config;
      }
      conditions.push({ 'data-collection': spec.slice(0, eq), filter: spec.slice(eq + 1) });
    } else tables.push(arg);
  }
  if (action === 'execute' && tables.length === 0) {
    write(SNAPSHOT_USAGE);
    return ExitCode.config;
  }
  const request =
    action === 'execute' ? { method: 'POST', url: base, body: JSON.stringify({ 'data-collections': tables, type: 'incremental', 'additional-conditions': conditions }) }
    : action === 'stop' ? { method: 'DELETE', url: base }
    : { method: 'PUT', url: `${base}/${action}` };
  let response: Response;
  try {
    response = await fetch(request.url, { method: request.method, headers: { 'content-type': 'application/json' }, ...(request.body ? { body: request.body } : {}) });
  } catch (error) {
    write(`walcast snapshot: no walcast answers at ${base} (${(error as Error).message}${(error as { cause?: Error }).cause ? `: ${(error as { cause: Error }).cause.message}` : ''}): is it running with this configuration?`);
    return ExitCode.unreachable;
  }
  const text = await response.text();
  if (response.ok) {
    write(action === 'execute' ? `snapshot started: ${text}` : `snapshot ${action}: done`);
    return ExitCode.ok;
  }
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not JSON: print it as it is
  }
  write(`walcast snapshot: ${response.status} ${message}`);
  return ExitCode.failure;
}
