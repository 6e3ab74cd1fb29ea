/**
 * Kafka Connect's converter settings (`key.converter`, `value.converter` and their `.`-options),
 * as walcast understands them: which encoding a connector's keys and values get. Converters
 * walcast does not produce, or options it would not honour, are refused by name.
 */
import type { ConfigProblem } from '../worker/config-providers.ts';

export type Side = 'key' | 'value';

/** The encoding a converter asks for; `schemas`: JsonConverter's schemas.enable (default true). */
export type ConverterChoice = { kind: 'avro' } | { kind: 'json'; schemas: boolean; decimalFormat: 'BASE64' | 'NUMERIC' };

export const JSON_CONVERTER = 'org.apache.kafka.connect.json.JsonConverter';
const AVRO_CONVERTERS = ['io.confluent.connect.avro.AvroConverter', 'io.apicurio.registry.utils.converter.AvroConverter'];
const REGISTRY_OPTIONS = ['schema.registry.url', 'apicurio.registry.url'];

/** Options of a converter that walcast reads (anything else under `<side>.converter.` is refused). */
export function isConverterSetting(key: string): boolean {
  return /^(key|value)\.converter\.(schemas\.enable|decimal\.format|schema\.registry\.url|apicurio\.registry\.url)$/.test(key);
}

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

/**
 * The converter of one side, or null when none is set (the connector's own default applies).
 * `registryUrl`: the worker's registry, the only one walcast writes to.
 */
export function converterOf(config: Record<string, string>, side: Side, registryUrl: string, problems: ConfigProblem[]): ConverterChoice | null {
  const setting = `${side}.converter`;
  const className = config[setting]?.trim();
  const option = (name: string): string | undefined => config[`${setting}.${name}`];
  if (className === undefined || className === '') return null;
  if (className === JSON_CONVERTER) {
    const schemas = (option('schemas.enable') ?? 'true').trim().toLowerCase();
    if (schemas !== 'true' && schemas !== 'false') problems.push({ key: `${setting}.schemas.enable`, message: `${setting}.schemas.enable must be true or false` });
    const decimalFormat = (option('decimal.format') ?? 'BASE64').trim().toUpperCase();
    if (decimalFormat !== 'BASE64' && decimalFormat !== 'NUMERIC') problems.push({ key: `${setting}.decimal.format`, message: `${setting}.decimal.format must be BASE64 or NUMERIC` });
    for (const name of REGISTRY_OPTIONS) if (option(name) !== undefined) problems.push({ key: `${setting}.${name}`, message: `${setting}.${name} is an AvroConverter option; JsonConverter uses no registry` });
    return { kind: 'json', schemas: schemas !== 'false', decimalFormat: decimalFormat === 'NUMERIC' ? 'NUMERIC' : 'BASE64' };
  }
  if (AVRO_CONVERTERS.includes(className)) {
    for (const name of ['schemas.enable', 'decimal.format']) if (option(name) !== undefined) problems.push({ key: `${setting}.${name}`, message: `${setting}.${name} is a JsonConverter option` });
    for (const name of REGISTRY_OPTIONS) {
      const url = option(name);
      if (url !== undefined && trimSlash(url) !== trimSlash(registryUrl)) {
        problems.push({ key: `${setting}.${name}`, message: `${setting}.${name}: walcast writes schemas to the worker's registry (WALCAST_SCHEMA_REGISTRY_URL${registryUrl ? '' : ', not set'}); leave this out or give that URL` });
      }
    }
    if (!registryUrl) problems.push({ key: setting, message: `${setting}=${className} needs the worker's schema registry: set WALCAST_SCHEMA_REGISTRY_URL` });
    return { kind: 'avro' };
  }
  problems.push({ key: setting, message: `${setting}=${className} is not a converter walcast produces: use ${JSON_CONVERTER} or ${AVRO_CONVERTERS.join(' or ')}` });
  return null;
}
