/**
 * Every setting walcast reads, by scope: process settings (worker-schema.ts), one CDC
 * connector's settings (connector-schema.ts) and `walcast sink`'s (sink-schema.ts). `npm run docs:config` renders both into
 * docs/configuration.md, so their doc strings are the user-facing reference.
 */
import type convict from 'convict';
import { cdcConnectorSchema } from './connector-schema.ts';
import { sinkSchema } from './sink-schema.ts';
import { workerSchema } from './worker-schema.ts';

export type ConfigScope = 'worker' | 'connector' | 'sink';

export const scopeSchemas = { worker: workerSchema, connector: cdcConnectorSchema, sink: sinkSchema } as const;

/** Every WALCAST_* variable a schema declares, with its doc, default and whether it is secret. */
export interface ConfigVariable {
  scope: ConfigScope;
  env: string;
  path: string;
  doc: string;
  default: unknown;
  sensitive: boolean;
}

interface SchemaLeaf {
  env: string;
  doc: string;
  default: unknown;
  sensitive?: boolean;
}

function isLeaf(node: object): node is SchemaLeaf {
  return 'env' in node && 'doc' in node;
}

/** The variables of one scope, or of all (process settings first), in schema order. */
export function configVariables(scope?: ConfigScope): ConfigVariable[] {
  const out: ConfigVariable[] = [];
  const walk = (node: object, path: string[], nodeScope: ConfigScope): void => {
    if (isLeaf(node)) {
      out.push({ scope: nodeScope, env: node.env, path: path.join('.'), doc: node.doc, default: node.default, sensitive: node.sensitive === true });
      return;
    }
    for (const [key, child] of Object.entries(node)) walk(child as object, [...path, key], nodeScope);
  };
  for (const each of scope ? [scope] : (['worker', 'connector', 'sink'] as const)) walk(scopeSchemas[each], [], each);
  return out;
}

export function convictSchema(scope: ConfigScope): convict.Schema<unknown> {
  return scopeSchemas[scope] as unknown as convict.Schema<unknown>;
}
