/** The JVM parts of the benchmark (Connect, Debezium's connectors, Apicurio's converter), fetched by bench/lib/fetch.sh. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BENCH, log } from './util.ts';

export interface Jars {
  connectLibs: string | null;
  pluginPath: string | null;
  /** Connect and the Debezium PostgreSQL connector resolved. */
  debeziumAvailable: boolean;
  /** Connect and Debezium's JDBC sink connector resolved. */
  debeziumJdbcAvailable: boolean;
  apicurioConverter: boolean;
  converterError: string | null;
}

export const NO_JARS: Jars = { connectLibs: null, pluginPath: null, debeziumAvailable: false, debeziumJdbcAvailable: false, apicurioConverter: false, converterError: null };

export function fetchJars(): Jars {
  log('fetching Kafka Connect 4.3.1 + Debezium 3.7.0.Final + Debezium JDBC sink + Apicurio converter jars (bench/lib/fetch.sh)');
  const r = spawnSync('bash', [join(BENCH, 'lib', 'fetch.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const kv: Record<string, string> = {};
  for (const line of (r.stdout ?? '').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  return {
    connectLibs: kv['CONNECT_OK'] === '1' ? kv['CONNECT_LIBS'] ?? null : null,
    pluginPath: kv['PLUGIN_PATH'] ?? null,
    debeziumAvailable: kv['CONNECT_OK'] === '1' && kv['DEBEZIUM_OK'] === '1',
    debeziumJdbcAvailable: kv['CONNECT_OK'] === '1' && kv['DEBEZIUM_JDBC_OK'] === '1',
    apicurioConverter: kv['APICURIO_CONVERTER_OK'] === '1',
    converterError: kv['APICURIO_CONVERTER_ERROR'] ?? null,
  };
}
