#!/usr/bin/env -S node --max-semi-space-size=16 --max-old-space-size=1024
// 16 MB semi-spaces (8 until 2026-12-02): records on their way to Kafka then die young instead of
// being promoted, which halved the scavenges and cut the mark-compacts of bench (a) for ~10-20 MB
// of RSS. A 1 GiB old-space limit makes V8 grow its heap
// by a smaller factor than without a limit (its growth factor scales with the limit below 2 GiB):
// peak RSS 144-152 MB instead of 203-218 MB at full speed, for ~10% more CPU (bench (a)/(b),
// 2026-11-25). walcast's memory is bounded by backpressure, far below the limit. NODE_OPTIONS does
// the same where the shebang is not used.
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
