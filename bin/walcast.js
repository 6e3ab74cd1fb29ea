#!/usr/bin/env -S node --max-semi-space-size=8
// 8 MB semi-spaces keep peak RSS near 220 MB under full load instead of ~350 MB at the same
// throughput (measured); NODE_OPTIONS does the same where the shebang is not used.
// Runs the compiled CLI when built (`npm run build`); from a source checkout the TypeScript
// sources run directly through Node's type stripping (Node >= 22.18).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 18)) {
    process.stderr.write(
      `walcast: Node ${process.version} cannot run the TypeScript sources; use Node >= 22.18 ` +
        '(`npm ci` installs Node 24 as node_modules/.bin/node; `npm start` uses it) or run `npm run build` first.\n',
    );
    process.exit(2);
  }
  await import(new URL('../src/cli.ts', import.meta.url).href);
}
