// The short fault run: one fault of each kind under steady mixed writes (and one schema change;
// snapshot-kill: an incremental snapshot interrupted by kill -9),
// each followed by the consistency checker. `npm run chaos` runs the long version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS, runFaults, summaryTable } from '../chaos/faults.ts';

test('one fault of each kind: nothing missing, duplicated or out of order', async (t) => {
  const results = await runFaults({ faults: FAULT_KINDS.length, registryOutageMs: 5_000, log: (line) => t.diagnostic(line) });
  t.diagnostic(summaryTable(results));
  assert.deepEqual(results.map((r) => r.fault), [...FAULT_KINDS]);
  // The poison row was dead-lettered (once: duplicates would count above), and stays accounted for.
  assert.ok(results.at(-1)!.report.deadLettered >= 1, 'the poison row is in the dead-letter topic');
  assert.ok(results.find((r) => r.fault === 'snapshot-kill')!.report.snapshotReads > 0, 'the incremental snapshot published its rows');
  for (const { fault, report } of results) {
    assert.ok(report.eventsChecked > 0, `${fault}: events were checked`);
    assert.deepEqual(
      { missing: report.missing, duplicated: report.duplicated, outOfOrder: report.outOfOrder, rowMismatches: report.rowMismatches },
      { missing: 0, duplicated: 0, outOfOrder: 0, rowMismatches: 0 },
      `${fault}: ${report.problems.join('; ')}`,
    );
  }
});
