/**
 * `walcast snapshot`: asks the running walcast of this configuration (same WALCAST_* variables)
 * for an incremental snapshot through its management API, as a script would with curl.
 *   walcast snapshot public.orders public.customers [--filter "public.orders=created_at > now() - interval '7 days'"]
 *   walcast snapshot --stop | --pause | --resume
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError, loadConfig } from './config/load.ts';
import { ExitCode, type ExitCodeValue } from './errors.ts';
import { scrub } from './secrets.ts';

/**
 * One call to the management API as this configuration serves it: HTTPS when it has a
 * certificate (trusted as the API's own, so a self-signed one works), the admin token when one is set.
 */
function callApi(url: string, method: string, body: string | undefined, options: { token: string | null; certificate: string | null }): Promise<{ status: number; text: string }> {
  const send = options.certificate ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        headers: {
          'content-type': 'application/json',
          ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        // The API's own certificate is the trust anchor (pinned): no CA needed, and the host this
        // command dials (127.0.0.1 for a 0.0.0.0 listener) need not be a name the certificate holds.
        ...(options.certificate ? { ca: options.certificate, allowPartialTrustChain: true, checkServerIdentity: () => undefined } : {}),
        signal: AbortSignal.timeout(30_000),
      },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const SNAPSHOT_USAGE = `walcast snapshot <schema.table>... [--filter "<schema.table>=<SQL condition>"]...
       walcast snapshot --stop | --pause | --resume`;

export async function snapshotCommand(args: string[], print: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<ExitCodeValue> {
  const write = (line: string): void => print(scrub(line));
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
  const scheme = worker.http.tls ? 'https' : 'http';
  const base = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${worker.http.port}/connectors/${encodeURIComponent(connector.name)}/snapshots`;
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
  let response: { status: number; text: string };
  try {
    response = await callApi(request.url, request.method, request.body, { token: worker.http.adminToken, certificate: worker.http.tls?.cert ?? null });
  } catch (error) {
    write(`walcast snapshot: no walcast answers at ${base} (${(error as Error).message}): is it running with this configuration?`);
    return ExitCode.unreachable;
  }
  const { text } = response;
  if (response.status >= 200 && response.status < 300) {
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
