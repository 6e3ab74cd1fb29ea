/** Small helpers shared by the benchmark: logging, waiting, percentiles, environment. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BENCH = join(ROOT, 'bench');

const started = Date.now();

export function log(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[bench ${s}s] ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `poll` every `intervalMs` (after each one ends) until the returned stop is called; stop waits for the last poll. */
export function pollEvery(intervalMs: number, poll: () => Promise<unknown>): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await poll();
      await sleep(intervalMs);
    }
  })();
  return () => {
    running = false;
    return loop;
  };
}

/** Polls `check` every `intervalMs` until it returns a non-undefined value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** KEY=VALUE lines (comments and blanks ignored), e.g. .local/services.env. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

export interface ServicesEnv {
  pgUrl: string;
  brokers: string[];
  registryUrl: string;
  kafkaLibs: string;
  kafkaToolsLog4j: string;
  java21Home: string;
}

export function readServicesEnv(): ServicesEnv {
  const env = parseEnvFile(readFileSync(join(ROOT, '.local', 'services.env'), 'utf8'));
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`.local/services.env has no ${k}: run bash scripts/services.sh up`);
    return v;
  };
  return {
    pgUrl: need('WALCAST_PG_URL'),
    brokers: need('WALCAST_KAFKA_BROKERS').split(','),
    registryUrl: need('WALCAST_SCHEMA_REGISTRY_URL'),
    kafkaLibs: need('KAFKA_LIBS'),
    kafkaToolsLog4j: need('KAFKA_TOOLS_LOG4J'),
    java21Home: need('JAVA21_HOME'),
  };
}

/** The process environment without WALCAST_* variables (children get exactly the ones we set). */
export function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('WALCAST_')) out[k] = v;
  return out;
}

export function round(value: number | null | undefined, digits = 0): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
