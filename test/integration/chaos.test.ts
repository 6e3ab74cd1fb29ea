// The short fault run: one fault of each kind under steady mixed writes (and one schema change;
// snapshot-kill: an incremental snapshot interrupted by kill -9),
// each followed by the consistency checker. `npm run chaos` runs the long version. It is also the
// sink's round trip under faults: the sink's target must equal the source after every fault, with
// no row version applied twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS, runFaults, summaryTable } from '../chaos/faults.ts';

test('one fault of each kind: nothing missing, duplicated or out of order, in Kafka and in the sink\'s target', async (t) => {
  const results = await runFaults({ faults: FAULT_KINDS.length, registryOutageMs: 5_000, log: (line) => t.diagnostic(line) });
  t.diagnostic(summaryTable(results));
  assert.deepEqual(results.map((r) => r.fault), [...FAULT_KINDS]);
  // The poison row was dead-lettered (once: duplicates would count above), and stays accounted for.
  assert.ok(results.at(-1)!.report.deadLettered >= 1, 'the poison row is in the dead-letter topic');
  assert.ok(results.find((r) => r.fault === 'snapshot-kill')!.report.snapshotReads > 0, 'the incremental snapshot published its rows');
  for (const { fault, report } of results) {
    assert.ok(report.eventsChecked > 0, `${fault}: events were checked`);
    assert.ok(report.targetRows > 0, `${fault}: the target was compared`);
    assert.deepEqual(
      { missing: report.missing, duplicated: report.duplicated, outOfOrder: report.outOfOrder, rowMismatches: report.rowMismatches, targetMismatches: report.targetMismatches, reapplied: report.reapplied },
      { missing: 0, duplicated: 0, outOfOrder: 0, rowMismatches: 0, targetMismatches: 0, reapplied: 0 },
      `${fault}: ${report.problems.join('; ')}`,
    );
  }
});
