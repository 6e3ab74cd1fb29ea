// Reads the broker's own log segments with Kafka's DumpLogSegments tool, so a duplicate found by the
// consistency checker can be explained: same producer epoch and sequence (a broker-side dedup
// failure), two transactions both committed, or an aborted batch that a reader showed anyway.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ownerScript } from './service-control.ts';
import { loadServices } from './services.ts';

const run = promisify(execFile);

export interface LogBatch {
  baseOffset: number;
  lastOffset: number;
  producerId: string;
  producerEpoch: string;
  baseSequence: string;
  isTransactional: boolean;
  /** COMMIT or ABORT for control batches, null for data. */
  marker: string | null;
  line: string;
}

/** Every batch of one partition, in log order. The broker must be the local one. */
export async function dumpPartition(topic: string, partition: number): Promise<LogBatch[]> {
  const home = join(await ownerScript('kafka'), '..', '..');
  const dir = join(home, '.local', 'kafka', 'data', `${topic}-${partition}`);
  const segments = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => join(dir, f));
  const services = loadServices();
  if (!services.kafkaLibs) throw new Error('KAFKA_LIBS is not set: the Kafka tools are needed to read log segments');
  const java = services.java21Home ? join(services.java21Home, 'bin', 'java') : 'java';
  const { stdout } = await run(
    java,
    [
      ...(services.kafkaToolsLog4j ? [`-Dlog4j2.configurationFile=${services.kafkaToolsLog4j}`] : []),
      '-cp', `${services.kafkaLibs}/*`,
      'org.apache.kafka.tools.DumpLogSegments', '--print-data-log', '--files', segments.join(','),
    ],
    { maxBuffer: 1 << 28 },
  );
  const batches: LogBatch[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('baseOffset:')) {
      const field = (name: string): string => new RegExp(`\\b${name}: (\\S+)`).exec(line)?.[1] ?? '';
      batches.push({
        baseOffset: Number(field('baseOffset')),
        lastOffset: Number(field('lastOffset')),
        producerId: field('producerId'),
        producerEpoch: field('producerEpoch'),
        baseSequence: field('baseSequence'),
        isTransactional: field('isTransactional') === 'true',
        marker: field('isControl') === 'true' ? 'pending' : null,
        line,
      });
    } else if (line.includes('endTxnMarker:') && batches.length > 0) {
      batches[batches.length - 1]!.marker = /endTxnMarker: (\w+)/.exec(line)?.[1] ?? 'unknown';
    }
  }
  return batches;
}

/** The batches around the given offsets, one line each, for a failure message. */
export async function describeOffsets(topic: string, partition: number, offsets: number[], around = 3): Promise<string> {
  const batches = await dumpPartition(topic, partition);
  const wanted = new Set<number>();
  for (const offset of offsets) {
    const index = batches.findIndex((b) => b.baseOffset <= offset && offset <= b.lastOffset);
    for (let i = Math.max(0, index - around); i <= Math.min(batches.length - 1, index + around); i++) if (index >= 0) wanted.add(i);
  }
  return [...wanted]
    .sort((a, b) => a - b)
    .map((i) => {
      const b = batches[i]!;
      const what = b.marker ? `${b.marker} marker` : `data seq ${b.baseSequence}`;
      return `${topic}-${partition} offsets ${b.baseOffset}-${b.lastOffset} producer ${b.producerId}/${b.producerEpoch} ${what}`;
    })
    .join('\n');
}
