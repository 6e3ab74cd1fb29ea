// Runs test/helpers/avro_reader.py (confluent-kafka + fastavro in a cached venv): an Avro reader
// that shares no code with walcast, so the tests check walcast's bytes against the standard.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
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

export async function readTopics(
  options: { brokers: string[]; registryUrl: string; count?: number; timeoutMs?: number; jsonTopics?: string[] },
  topics: string[],
): Promise<ReadRecord[]> {
  const py = await readerPython();
  const args = [
    join(root, 'test', 'helpers', 'avro_reader.py'),
    '--brokers', options.brokers.join(','),
    '--registry', options.registryUrl,
    '--count', String(options.count ?? 0),
    '--timeout-ms', String(options.timeoutMs ?? 60_000),
    '--json-topics', (options.jsonTopics ?? []).join(','),
    ...topics,
  ];
  const { stdout } = await run(py, args, { maxBuffer: 1 << 30 });
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ReadRecord);
}
