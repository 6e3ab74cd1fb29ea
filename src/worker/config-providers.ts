/**
 * Kafka Connect's config-provider references in connector configs: `${env:VAR}` (an environment
 * variable of the worker) and `${file:/path:key}` (a key of a properties file, as Connect's
 * FileConfigProvider reads it). Configs are stored with the references as written and resolved
 * each time a connector starts, so the secret itself never reaches the config topic or a response.
 */
import { readFileSync } from 'node:fs';
import { rememberSecrets } from '../secrets.ts';

/** A connector's config: Connect's string-to-string map. */
export type ConnectorConfigMap = Record<string, string>;

export interface ConfigProblem {
  /** The setting at fault ('' for the config as a whole). */
  key: string;
  message: string;
}

const REFERENCE = /\$\{(\w+):([^}]*)\}/g;

/** The value holds at least one provider reference. */
export function hasReference(value: string): boolean {
  REFERENCE.lastIndex = 0;
  return REFERENCE.test(value);
}

/**
 * Java properties, as far as configs use them: `key=value` or `key: value` lines, `#`/`!`
 * comments, surrounding blanks trimmed (no line continuations or escapes).
 */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const separator = line.search(/[=:]/);
    if (separator < 0) out.set(line, '');
    else out.set(line.slice(0, separator).trim(), line.slice(separator + 1).trim());
  }
  return out;
}

/** `inner` is what stands between `${provider:` and `}`: `VAR` for env, `/path:key` for file. */
function resolveOne(provider: string, inner: string, env: NodeJS.ProcessEnv): string {
  switch (provider) {
    case 'env': {
      // ${env:VAR}; Connect's EnvVarConfigProvider spells it ${env::VAR} (an empty path).
      const name = inner.startsWith(':') ? inner.slice(1) : inner;
      const value = env[name];
      if (value === undefined) throw new Error(`environment variable ${name} is not set in the worker`);
      return value;
    }
    case 'file': {
      const colon = inner.lastIndexOf(':');
      if (colon <= 0) throw new Error(`\${file:${inner}} names no key: write \${file:<path>:<key>}`);
      const path = inner.slice(0, colon);
      const key = inner.slice(colon + 1);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      const value = parseProperties(text).get(key);
      if (value === undefined) throw new Error(`${path} has no key ${key}`);
      return value;
    }
    default:
      throw new Error(`unknown config provider ${provider}: walcast provides env and file`);
  }
}

/**
 * The config with every reference replaced by its value. Values of secret settings are remembered
 * as secrets, so that logs and responses are scrubbed of them wherever they turn up; except one
 * that also stands in a setting shown openly (a password equal to its user name, as
 * rememberCredentials in secrets.ts): scrubbing it would hide the user name everywhere while
 * hiding nothing. Its own setting is still masked by name.
 */
export function resolveReferences(config: ConnectorConfigMap, isSecret: (key: string) => boolean, env: NodeJS.ProcessEnv = process.env): { resolved: ConnectorConfigMap; problems: ConfigProblem[] } {
  const resolved: ConnectorConfigMap = {};
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(config)) {
    try {
      resolved[key] = value.replace(REFERENCE, (_match, provider: string, inner: string) => resolveOne(provider, inner, env));
    } catch (error) {
      problems.push({ key, message: (error as Error).message });
    }
  }
  const open = Object.entries(resolved).filter(([key]) => !isSecret(key)).map(([, value]) => value);
  rememberSecrets(Object.entries(resolved).filter(([key, value]) => isSecret(key) && !open.some((shown) => shown.includes(value))).map(([, value]) => value));
  return { resolved, problems };
}
