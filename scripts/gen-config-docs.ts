// Renders docs/configuration.md from the configuration schemas (src/config/*-schema.ts) (`npm run docs:config`); a unit test
// fails when the committed file is stale, so the reference always matches the code.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDocs } from '../src/config/docs.ts';

const target = join(import.meta.dirname, '..', 'docs', 'configuration.md');
writeFileSync(target, renderConfigDocs());
console.log(`wrote ${target}`);
