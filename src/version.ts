import { readFileSync } from 'node:fs';

/** walcast's version, from package.json (one source of truth for logs, source.version and /). */
export const WALCAST_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
