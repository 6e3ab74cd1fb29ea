// Runs test/helpers/avro_reader.py (confluent-kafka + fastavro in a cached venv): an Avro reader
// that shares no code with walcast, so the tests check walcast's bytes against the standard.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
let python: Promise<string> | undefined;

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Record<string, unknown> | null;
  value: Record<string, unknown> | null;
  /** Only for topics read as JSON (`jsonTopics`): the record's headers, UTF-8. */
  headers?: Record<string, string>;
}

export function readerPython(): Promise<string> {
  python ??= run('bash', [join(root, 'scripts', 'reader-venv.sh')], { maxBuffer: 1 << 20 }).then((r) => r.stdout.trim());
  return python;
}

export interface ReadOptions {
  brokers: string[];
  registryUrl: string;
  count?: number;
  timeoutMs?: number;
  jsonTopics?: string[];
  /** Fail when the timeout comes before the end of the topics, instead of returning what was read. */
  requireComplete?: boolean;
}

export async function readTopics(options: ReadOptions, topics: string[]): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  await forEachRecord(options, topics, (record) => records.push(record));
  return records;
}

/**
 * The same reader, one record at a time, in topic order: for topics too large to hold as one
 * output string or one array (a million-row snapshot is over 500 MB of JSON lines).
 */
export async function forEachRecord(options: ReadOptions, topics: string[], onRecord: (record: ReadRecord) => void): Promise<void> {
  const py = await readerPython();
  const args = [
    join(root, 'test', 'helpers', 'avro_reader.py'),
    '--brokers', options.brokers.join(','),
    '--registry', options.registryUrl,
    '--count', String(options.count ?? 0),
    '--timeout-ms', String(options.timeoutMs ?? 60_000),
    '--json-topics', (options.jsonTopics ?? []).join(','),
    ...(options.requireComplete ? ['--require-complete'] : []),
    ...topics,
  ];
  const child = spawn(py, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    if (line.trim() !== '') onRecord(JSON.parse(line) as ReadRecord);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`avro_reader.py exited with ${code}: ${stderr}`);
}
