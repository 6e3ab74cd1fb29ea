/**
 * Secrets from files: `<VAR>_FILE` names a file whose content is the value of the secret `<VAR>`,
 * the convention of container images and Kubernetes, where secrets are mounted as files and stay
 * out of the environment (and so out of `ps e`, crash dumps and orchestrator UIs).
 */
import { readFileSync } from 'node:fs';
import type { ConfigVariable } from './schema.ts';

export const FILE_SUFFIX = '_FILE';

/**
 * `source` with each secret's `<VAR>_FILE` replaced by `<VAR>` holding the file's content (trailing
 * line breaks dropped: `echo secret > file` must work). Problems name the variable and the path,
 * never the content.
 */
export function readSecretFiles(source: Record<string, string | undefined>, variables: readonly ConfigVariable[], problems: string[]): Record<string, string | undefined> {
  const out = { ...source };
  for (const variable of variables) {
    if (!variable.sensitive) continue;
    const fileVariable = variable.env + FILE_SUFFIX;
    const path = source[fileVariable];
    if (path === undefined) continue;
    delete out[fileVariable];
    if (source[variable.env] !== undefined) {
      problems.push(`${variable.env} and ${fileVariable} are both set: set only one`);
      continue;
    }
    if (path.trim() === '') {
      problems.push(`${fileVariable} is empty: set it to the path of a file holding ${variable.env}`);
      continue;
    }
    try {
      out[variable.env] = readFileSync(path, 'utf8').replace(/[\r\n]+$/, '');
    } catch (error) {
      problems.push(`${fileVariable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  return out;
}
