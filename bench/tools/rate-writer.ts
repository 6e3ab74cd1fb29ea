/**
 * The fixed-rate live load of workload (d): inserts `rate` rows per second into a table shaped like
 * workloads (a)/(b), in transactions of `txnRows` rows, for `seconds` seconds, on `connections`
 * connections (so one slow commit does not stall the schedule). Transactions start on a fixed
 * schedule; a late one is sent at once (no coordinated omission: the schedule does not slip).
 * Run as a child process by bench/run.ts:
 *
 *   node bench/tools/rate-writer.ts '<json options>'
 *
 * Prints one JSON line: {rows, transactions, seconds, achievedRate, lateTransactions}.
 */
import pg from 'pg';

interface Options {
  url: string;
  table: string;
  firstId: number;
  rate: number;
  txnRows: number;
  seconds: number;
  connections: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const total = Math.round(o.rate * o.seconds);
const transactions = Math.ceil(total / o.txnRows);
const intervalMs = (o.txnRows / o.rate) * 1000;
const sql = `insert into ${o.table} (id, account, amount, note, flag)
  select g, g % 10000, (g % 100000) / 100.0, 'order ' || g, g % 2 = 0 from generate_series($1::bigint, $2::bigint) g`;

const clients = await Promise.all(
  Array.from({ length: o.connections }, async () => {
    const c = new pg.Client({ connectionString: o.url, application_name: 'walcast-bench-rate-writer' });
    await c.connect();
    return c;
  }),
);

let next = 0;
let late = 0;
const t0 = performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
await Promise.all(
  clients.map(async (client) => {
    for (;;) {
      const k = next++;
      if (k >= transactions) return;
      const due = t0 + k * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      else if (wait < -intervalMs) late += 1;
      const from = o.firstId + k * o.txnRows;
      const to = Math.min(o.firstId + total - 1, from + o.txnRows - 1);
      await client.query({ name: 'ins', text: sql, values: [from, to] });
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
await Promise.all(clients.map((c) => c.end()));
process.stdout.write(JSON.stringify({ rows: total, transactions, seconds, achievedRate: total / seconds, lateTransactions: late }) + '\n');
