/**
 * Secrets in connector configs (GUIDE, invariant 6). Which settings hold one is decided by name,
 * the way Connect's PASSWORD type would: every `*password`, `*secret`, `*token`, `*credentials`,
 * `*.jaas.config`, `*passphrase`. Such a value is shown as `[hidden]` wherever a config leaves the
 * process (GET responses, validate, logs); a config-provider reference is shown as written, since
 * it names where the secret lives, not the secret. URLs in any setting lose their password too.
 *
 * In the config topic, literal secrets are encrypted (AES-256-GCM, key derived from
 * WALCAST_CONFIG_ENCRYPTION_KEY) when a key is configured.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { hasReference, type ConnectorConfigMap } from './config-providers.ts';

/** What a secret's value is replaced with; sent back unchanged in a PUT or PATCH, it keeps the stored value. */
export const HIDDEN = '[hidden]';

const SECRET_NAME = /(password|passwd|secret|token|credentials?|passphrase|jaas\.config|api\.key)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_NAME.test(key);
}

/** A literal secret (not a provider reference): what must not be stored or shown in the clear. */
export function isLiteralSecret(key: string, value: string): boolean {
  return isSecretKey(key) && value !== '' && !hasReference(value);
}

/** Passwords inside URLs: `user:password@` user info and `password=` query parameters (JDBC URLs carry them). */
function redactUrlPasswords(value: string): string {
  return value.replace(/(\/\/[^/:@\s]+:)[^@/\s]+@/g, `$1${HIDDEN}@`).replace(/([?&;]password=)[^&;]*/gi, `$1${HIDDEN}`);
}

/** The config as it may be shown: literal secrets hidden, URL passwords removed. */
export function maskConfig(config: ConnectorConfigMap): ConnectorConfigMap {
  const out: ConnectorConfigMap = {};
  for (const [key, value] of Object.entries(config)) out[key] = isLiteralSecret(key, value) ? HIDDEN : redactUrlPasswords(value);
  return out;
}

/**
 * A PUT or PATCH that sends `[hidden]` back (a config read with GET, edited, written back) keeps
 * the stored secret instead of storing the placeholder.
 */
export function keepHiddenSecrets(next: ConnectorConfigMap, stored: ConnectorConfigMap | undefined): ConnectorConfigMap {
  const out = { ...next };
  for (const [key, value] of Object.entries(out)) {
    if (value === HIDDEN && isSecretKey(key) && stored?.[key] !== undefined) out[key] = stored[key];
  }
  return out;
}

const ALGORITHM = 'aes-256-gcm';
const PREFIX = 'aes256gcm:';

export class ConfigDecryptionError extends Error {
  readonly code = 'WALCAST_CONFIG_DECRYPTION';
}

/** Encrypts and decrypts the literal secrets of configs with one key. */
export class ConfigCipher {
  private readonly key: Buffer;

  constructor(passphrase: string) {
    // A fixed salt: the same passphrase must open the records of every worker sharing the topic.
    this.key = scryptSync(passphrase, 'walcast connector configs', 32);
  }

  encrypt(value: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
  }

  decrypt(stored: string): string {
    if (!stored.startsWith(PREFIX)) throw new ConfigDecryptionError('not an encrypted value');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    const decipher = createDecipheriv(ALGORITHM, this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new ConfigDecryptionError('a stored secret does not decrypt with WALCAST_CONFIG_ENCRYPTION_KEY (was it changed?)', { cause: error });
    }
  }
}
