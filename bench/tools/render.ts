/**
 * Re-renders the Markdown table and the SVG chart from a results JSON (e.g. after changing the
 * report's layout), without running anything:
 *
 *   node bench/tools/render.ts bench/results/<date>.json [out.md] [out.svg]
 *
 * Defaults: bench/results/latest.md and latest.svg.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdown, svg, type BenchResults } from '../lib/report.ts';
import { BENCH } from '../lib/util.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/tools/render.ts <results.json> [out.md] [out.svg]\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
const md = process.argv[3] ?? join(BENCH, 'results', 'latest.md');
const chart = process.argv[4] ?? join(BENCH, 'results', 'latest.svg');
writeFileSync(md, markdown(results));
writeFileSync(chart, svg(results));
process.stdout.write(`wrote ${md} and ${chart}\n`);
