#!/usr/bin/env node
// Runs the compiled CLI when built (`npm run build`); from a source checkout on Node >= 22.18
// the TypeScript sources run directly through Node's type stripping.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
await import(existsSync(compiled) ? compiled : new URL('../src/cli.ts', import.meta.url).href);
