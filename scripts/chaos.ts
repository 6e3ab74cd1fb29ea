// `npm run chaos`: the full fault run (default 50 faults; `-- --faults N`, `-- --kinds kafka-kill,walcast-kill`), ending with a table.
import { FAULT_KINDS, runFaults, summaryTable, type FaultKind } from '../test/chaos/faults.ts';

const index = process.argv.indexOf('--faults');
const faults = index >= 0 ? Number(process.argv[index + 1]) : 50;
const started = Date.now();
const kindsIndex = process.argv.indexOf('--kinds');
const kinds = kindsIndex >= 0 ? (process.argv[kindsIndex + 1]!.split(',') as FaultKind[]) : FAULT_KINDS;
for (const kind of kinds) if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${kind}; known: ${FAULT_KINDS.join(', ')}`);
const results = await runFaults({
  faults,
  kinds,
  log: (line) => console.log(line),
  walcastLogPath: '.local/chaos-walcast.log',
});
console.log(`walcast output: .local/chaos-walcast.log\n\n${summaryTable(results)}\nDuration: ${((Date.now() - started) / 60000).toFixed(1)} min`);
const bad = results.some((r) => r.report.missing + r.report.duplicated + r.report.outOfOrder + r.report.rowMismatches + r.report.targetMismatches + r.report.reapplied > 0);
process.exit(bad ? 1 : 0);
