/**
 * The secret values this process holds (passwords, passphrases, the admin token, credentials in
 * URLs), so that whatever leaves the process can be scrubbed of them: every log line at any level
 * and depth, every status and error body of the management API. Key-based redaction (log.ts) only
 * catches fields named like a secret; a secret quoted inside an error message, a stack or a nested
 * object is caught here, by value.
 */

export const CENSOR = '*****';

/**
 * Secrets shorter than this are not scrubbed by value: replacing every occurrence of two characters
 * would garble every log line (and could split JSON escapes) while protecting nothing a guess
 * would not reveal.
 */
const MIN_SCRUBBED_LENGTH = 4;

const secrets = new Set<string>();
/** Longest first, so that a secret containing another is replaced whole. */
let ordered: string[] = [];

/** The forms a secret takes in text walcast or a library may produce: raw, %-encoded, JSON-escaped. */
function renderings(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  return [...forms].filter((form) => form.length >= MIN_SCRUBBED_LENGTH);
}

/** Remembers secret values (empty ones are ignored); for the rest of the process they are scrubbed. */
export function rememberSecrets(values: Iterable<string | null | undefined>): void {
  let added = false;
  for (const value of values) {
    if (!value) continue;
    for (const form of renderings(value)) {
      if (!secrets.has(form)) {
        secrets.add(form);
        added = true;
      }
    }
  }
  if (added) ordered = [...secrets].sort((a, b) => b.length - a.length);
}

/**
 * Remembers a password and the Basic credentials built from it. A password equal to its user name
 * is not scrubbed by value: the user name is shown in logs and messages (which role was refused,
 * which role lacks a privilege), and scrubbing it everywhere would hide that without hiding the
 * password. Fields and URLs still censor it as they do every password.
 */
export function rememberCredentials(username: string, password: string): void {
  if (!password) return;
  rememberSecrets([password === username ? null : password, basicCredentials(username, password)]);
}

/** Remembers a URL's password and the Basic credentials built from its user info. */
export function rememberUrlSecrets(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (!parsed.password) return;
  const username = safeDecode(parsed.username);
  const password = safeDecode(parsed.password);
  rememberCredentials(username, password);
  // The URL's own (%-encoded) spelling, which can differ from encodeURIComponent's.
  if (password !== username) rememberSecrets([parsed.password]);
}

/** The base64 part of a Basic Authorization header: a secret as much as the password. */
export function basicCredentials(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `text` with every remembered secret replaced by *****. */
export function scrub(text: string): string {
  if (ordered.length === 0) return text;
  let out = text;
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.replaceAll(secret, CENSOR);
  }
  return out;
}

/** Forgets every secret (tests only: a process never needs to). */
export function forgetSecretsForTests(): void {
  secrets.clear();
  ordered = [];
}
