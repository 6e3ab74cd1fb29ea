/**
 * Runs one connector of any kind: starts its session, restarts it with backoff after transient
 * faults, enforces the start deadline until it first runs, stands by while another owner holds
 * the connector's resource, carries the operator's pause across sessions, and stops it. The
 * connector only classifies its errors (connector.ts).
 */
import type { AbortReason, Connector, ConnectorStats, ConnectorStatus, ManagedConnector, SessionContext } from '../connector.ts';
import { emptyStats } from '../connector.ts';
import { ExitCode, type ExitCodeValue } from '../errors.ts';
import type { Logger } from '../log.ts';

export class StartTimeoutError extends Error {
  readonly code = 'WALCAST_START_TIMEOUT';
}

/** The WALCAST_* code an error carries, if any. */
function walcastCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('WALCAST_') ? code : undefined;
}

export interface SupervisorOptions {
  /** Until the connector first runs, each attempt and all of them together end by this deadline. */
  startupTimeoutMs: number;
  /** What the start deadline's error names (the variable an operator changes). */
  startupTimeoutSetting?: string;
  /** First restart delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * While another owner holds the resource (a standby waiting for the slot), how often to try
   * again. Fixed, not doubled: it bounds how long a takeover waits after the owner is gone.
   */
  ownerPollMs?: number;
  /** Counters shared with the other tasks of one connector (a worker's tasks.max); a fresh set otherwise. */
  stats?: ConnectorStats;
  log: Logger;
}

export class Supervisor implements ManagedConnector {
  private readonly connector: Connector;
  private readonly options: Required<Omit<SupervisorOptions, 'stats'>>;
  private readonly log: Logger;
  private readonly stats: ConnectorStats;
  private readonly pauseListeners = new Set<(paused: boolean) => void>();
  private session: AbortController | null = null;
  private stopping = false;
  private paused = false;
  private started = false;
  private wakeBackoff: (() => void) | null = null;
  private state: ConnectorStatus['state'] = 'starting';
  private lastError: string | null = null;
  private restarts = 0;
  /** What the current step talks to, so errors say which service and setting to check. */
  private stage = 'starting';

  constructor(connector: Connector, options: SupervisorOptions) {
    this.connector = connector;
    const { stats, ...rest } = options;
    this.options = { startupTimeoutSetting: 'WALCAST_STARTUP_TIMEOUT_MS', initialBackoffMs: 500, maxBackoffMs: 30_000, ownerPollMs: 1000, ...rest };
    this.stats = stats ?? emptyStats();
    this.log = options.log;
  }

  get name(): string {
    return this.connector.name;
  }

  get type(): Connector['type'] {
    return this.connector.type;
  }

  get snapshots(): Connector['snapshots'] {
    return this.connector.snapshots;
  }

  status(): ConnectorStatus {
    return { state: this.state, paused: this.paused, lastError: this.lastError, restarts: this.restarts, stats: this.started ? this.stats : null };
  }

  /** Runs until stop() (resolves 0) or a permanent error (resolves its exit code). */
  async run(): Promise<ExitCodeValue> {
    let deadline = Date.now() + this.options.startupTimeoutMs;
    let everRan = false;
    let backoffMs = this.options.initialBackoffMs;
    /** Since when this instance stands by for another owner (null: it does not). */
    let waitingSince: number | null = null;
    try {
      while (!this.stopping) {
        let delayMs = backoffMs;
        try {
          const outcome = await this.runSession(everRan ? null : deadline, () => {
            everRan = true;
            backoffMs = this.options.initialBackoffMs;
            if (waitingSince !== null) {
              this.log.info({ waitedMs: Date.now() - waitingSince }, 'the previous owner is gone: this instance took over');
              waitingSince = null;
            }
          });
          if (this.stopping) break;
          if (outcome === 'finished') {
            everRan = true;
            this.stopping = true;
            break;
          }
        } catch (error) {
          if (this.stopping) break;
          const verdict = error instanceof StartTimeoutError ? { permanent: false, exitCode: ExitCode.unreachable, message: error.message } : this.connector.classify(error);
          const message = `${this.stage}: ${verdict.message}`;
          this.lastError = message;
          if (verdict.permanent) {
            this.state = 'failed';
            // The code on the line itself: the one docs/operations.md lists, whatever library raised the error.
            const code = verdict.code ?? walcastCode(error);
            this.log.fatal({ err: error, exitCode: verdict.exitCode, ...(code ? { code } : {}) }, message);
            return verdict.exitCode;
          }
          if ('waitForOwner' in verdict && verdict.waitForOwner) {
            // A standby: not a fault, so neither a restart nor a step of the backoff; the start
            // deadline counts again from when the owner is gone, however long it held on.
            if (waitingSince === null) {
              waitingSince = Date.now();
              this.log.warn({ pollMs: this.options.ownerPollMs }, `standing by: ${verdict.message}`);
            } else {
              this.log.debug({ waitingMs: Date.now() - waitingSince }, verdict.message);
            }
            this.state = 'waiting';
            deadline = Date.now() + this.options.ownerPollMs + this.options.startupTimeoutMs;
            backoffMs = this.options.initialBackoffMs;
            await this.backoff(this.options.ownerPollMs);
            continue;
          }
          if (!everRan && Date.now() >= deadline) {
            this.state = 'failed';
            this.log.fatal({ err: error, exitCode: ExitCode.unreachable }, `could not start within ${this.options.startupTimeoutMs} ms (${this.options.startupTimeoutSetting}): ${message}`);
            return ExitCode.unreachable;
          } else if (!everRan) {
            this.log.warn({ err: error, retryInMs: backoffMs }, `start failed: ${message}; retrying`);
          } else {
            this.log.warn({ err: error, retryInMs: backoffMs }, `streaming interrupted: ${message}; restarting from the last committed position`);
          }
          delayMs = backoffMs;
          backoffMs = Math.min(backoffMs * 2, this.options.maxBackoffMs);
        }
        if (this.stopping) break;
        this.state = 'retrying';
        this.restarts += 1;
        await this.backoff(delayMs);
      }
      this.state = 'stopped';
      return ExitCode.ok;
    } finally {
      // Never leave half-created state: what a run that never got going created goes.
      if (!everRan) await this.connector.cleanup(this.log);
    }
  }

  /** One session, bounded by the start deadline (null once the connector has run). */
  private async runSession(deadline: number | null, onRunning: () => void): Promise<void | 'finished'> {
    const controller = new AbortController();
    this.session = controller;
    let timer: NodeJS.Timeout | undefined;
    // Client libraries retry internally for longer than the deadline: race the attempt against it.
    const expired = new Promise<never>((_, reject) => {
      if (deadline === null) return;
      timer = setTimeout(() => {
        reject(new StartTimeoutError(`no answer before the startup deadline while ${this.stage}`));
        controller.abort('stop' satisfies AbortReason);
      }, Math.max(0, deadline - Date.now()));
    });
    const context: SessionContext = {
      signal: controller.signal,
      log: this.log,
      stats: this.stats,
      stage: (description) => {
        this.stage = description;
      },
      running: () => {
        clearTimeout(timer);
        this.started = true;
        this.state = 'running';
        this.stage = 'streaming';
        onRunning();
      },
      isPaused: () => this.paused,
      onPauseChange: (listener) => {
        this.pauseListeners.add(listener);
        return () => this.pauseListeners.delete(listener);
      },
    };
    this.stage = 'starting';
    const session = this.connector.runSession(context);
    session.catch(() => undefined);
    try {
      return await Promise.race([session, expired]);
    } finally {
      clearTimeout(timer);
      this.session = null;
    }
  }

  private backoff(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wakeBackoff = null;
    });
  }

  /** Management API: pause at the next source transaction boundary; carried across restarts. */
  pause(): void {
    this.setPaused(true);
  }

  resume(): void {
    this.setPaused(false);
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    for (const listener of this.pauseListeners) listener(paused);
  }

  /** Ends the current session cleanly; the supervisor starts a new one (counted as a restart). */
  restart(): void {
    this.log.info({ connector: this.name }, 'restart requested through the management API');
    this.session?.abort('restart' satisfies AbortReason);
  }

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.state = 'stopping';
    this.session?.abort('stop' satisfies AbortReason);
    this.wakeBackoff?.();
  }
}
