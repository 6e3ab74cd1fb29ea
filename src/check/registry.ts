/**
 * `walcast check`, schema registry (Avro only): it answers and accepts walcast's credentials,
 * and its compatibility level lets walcast's schema changes through. Every value field walcast
 * writes is optional with a null default, so adding and dropping columns passes any level;
 * BACKWARD (the default) also refuses a column's type change, which stops walcast with exit code
 * 5 instead of breaking consumers. NONE accepts anything.
 */
import type { CdcConnectorConfig } from '../config/load.ts';
import { SchemaRegistryClient } from '../encode/registry.ts';
import { WalcastError } from '../errors.ts';
import type { CheckResult } from '../source/cdc/preflight.ts';

const PROTECTIVE_LEVELS = new Set(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']);

export async function registryChecks(config: CdcConnectorConfig): Promise<CheckResult[]> {
  if (config.events.format !== 'avro') {
    return [
      { id: 'registry.connect', status: 'pass', summary: 'not used (WALCAST_FORMAT=json)' },
      { id: 'registry.compatibility', status: 'pass', summary: 'not used (WALCAST_FORMAT=json)' },
    ];
  }
  const client = new SchemaRegistryClient(config.registry);
  let level: string | null;
  try {
    await client.check();
    level = await client.compatibility();
  } catch (error) {
    // Refused credentials, a URL that is not the Confluent API, TLS: the message names the setting.
    const named = error instanceof WalcastError;
    // fetch() says only "fetch failed"; the reason (refused, DNS, TLS) is its cause's cause.
    let reason = (error as Error).message;
    for (let cause = (error as { cause?: unknown }).cause; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
      if (!reason.includes(cause.message)) reason += `: ${cause.message}`;
    }
    return [
      named
        ? { id: 'registry.connect', status: 'fail', summary: `${reason}.` }
        : {
            id: 'registry.connect',
            status: 'fail',
            summary: `could not reach the schema registry at ${client.origin} (${reason}).`,
            fix: "Fix: WALCAST_SCHEMA_REGISTRY_URL (Apicurio's Confluent API is at /apis/ccompat/v7), and that the registry runs there.",
          },
      { id: 'registry.compatibility', status: 'skip', summary: 'not checked: schema registry not reachable' },
    ];
  } finally {
    client.close();
  }
  const connected: CheckResult = { id: 'registry.connect', status: 'pass', summary: `schema registry at ${client.origin} answers and accepts walcast's credentials` };
  if (level === null) {
    return [connected, { id: 'registry.compatibility', status: 'warn', summary: 'the registry does not let walcast read its compatibility level (403 to GET /config).', fix: 'Fix: let the account read the global configuration, or check the level by hand (BACKWARD is the default walcast expects).' }];
  }
  if (PROTECTIVE_LEVELS.has(level)) {
    return [connected, { id: 'registry.compatibility', status: 'pass', summary: `compatibility level ${level}: walcast's column additions and removals pass, incompatible changes are refused` }];
  }
  return [
    connected,
    {
      id: 'registry.compatibility',
      status: 'warn',
      summary: `compatibility level ${level}: the registry accepts any schema change, so consumers are not protected from a column's type change.`,
      fix: `Fix: curl -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"BACKWARD"}' ${client.origin}/<api path>/config`,
    },
  ];
}
