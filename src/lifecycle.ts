/**
 * What every long-running command (`walcast run`, `walcast worker`) does with the process: a bug
 * that escapes every await leaves one structured fatal line, and SIGTERM/SIGINT stop cleanly (a
 * second signal exits at once).
 */
import { ExitCode } from './errors.ts';
import type { Logger } from './log.ts';

export function exitOnCrash(log: Logger): void {
  // A raw stack on stderr is easy to miss at 3 a.m. Nothing uncommitted was acknowledged, so a restart is safe.
  const dieOn = (kind: string) => (error: unknown): void => {
    log.fatal({ err: error, exitCode: ExitCode.failure }, `internal error (${kind}): ${(error as Error)?.message ?? String(error)}; exiting. Nothing past the last committed Kafka transaction was acknowledged: restarting resumes without loss`);
    log.flush();
    process.exit(ExitCode.failure);
  };
  process.on('unhandledRejection', dieOn('unhandled rejection'));
  process.on('uncaughtException', dieOn('uncaught exception'));
}

export function stopOnSignals(log: Logger, stop: () => void): void {
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now; the open Kafka transaction is aborted by the broker');
      process.exit(ExitCode.failure);
    }
    log.info({ signal }, 'stopping: finishing the current transaction');
    stop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
