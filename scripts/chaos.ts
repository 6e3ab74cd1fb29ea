// `npm run chaos`: the full fault run (default 50 faults; `-- --faults N`), ending with a table.
import { runFaults, summaryTable } from '../test/chaos/faults.ts';

const index = process.argv.indexOf('--faults');
const faults = index >= 0 ? Number(process.argv[index + 1]) : 50;
const started = Date.now();
const results = await runFaults({ faults, log: (line) => console.log(line) });
console.log(`\n${summaryTable(results)}\nDuration: ${((Date.now() - started) / 60000).toFixed(1)} min`);
const bad = results.some((r) => r.report.missing + r.report.duplicated + r.report.outOfOrder + r.report.rowMismatches > 0);
process.exit(bad ? 1 : 0);
