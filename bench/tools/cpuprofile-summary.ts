/**
 * Hot spots of a V8 .cpuprofile (node --cpu-prof): self time by function and by package/file.
 *
 *   node bench/tools/cpuprofile-summary.ts <file.cpuprofile> [top=20]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (nm) return `${nm[1]}/${nm[2]}`;
  const src = /\/(src|bench|bin)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

function pkg(url: string): string {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node core';
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `walcast src/${src[1]}`;
  if (/\/src\/[^/]+\.ts$/.test(url)) return 'walcast src';
  return where(url);
}

export function summarizeProfile(profile: CpuProfile, top = 20): string {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const name = f.functionName || '(anonymous)';
    const key = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : `${name}  ${where(f.url)}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const p = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : pkg(f.url);
    byPackage.set(p, (byPackage.get(p) ?? 0) + us);
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`, 'self time by package/area:'];
  for (const [k, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push(`top ${top} functions by self time:`);
  for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/tools/cpuprofile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 20)) + '\n');
}
