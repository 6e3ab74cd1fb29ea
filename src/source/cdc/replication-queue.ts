/**
 * Replication items between the socket and the stream loop, with backpressure: above the limits
 * the socket stops being read (PostgreSQL then waits, holding WAL) until the backlog halves
 * (GUIDE, invariant 3). Keepalives are not data: they do not count toward the limits.
 */
import type { ConnectorStats } from '../../connector.ts';
import type { ReplicationItem } from './replication-stream.ts';

export interface FlowControl {
  pause(): void;
  resume(): void;
}

export interface QueueLimits {
  /** Replication messages buffered before the socket is paused. */
  maxMessages: number;
  /** Replication bytes buffered before the socket is paused, whatever the message count. */
  maxBytes: number;
}

export class ReplicationQueue {
  private readonly limits: QueueLimits;
  private readonly stats: ConnectorStats;
  private flow: FlowControl | null = null;
  private items: ReplicationItem[] = [];
  private head = 0;
  private messages = 0;
  private bytes = 0;
  private wake: (() => void) | null = null;
  /**
   * When the queue last went from empty to holding an item (ms since epoch): every item in it, or
   * taken since, arrived no earlier. The stream's batch delay counts from it, so transactions that
   * queued while a Kafka commit was in flight do not wait the whole delay again after it.
   */
  busySince = 0;
  /** A fatal error from the stream (connection lost, undecodable frame), for the loop to rethrow. */
  failure: Error | null = null;

  constructor(limits: QueueLimits, stats: ConnectorStats) {
    this.limits = limits;
    this.stats = stats;
    stats.bufferedMessages = 0;
    stats.paused = false;
  }

  attach(flow: FlowControl): void {
    this.flow = flow;
  }

  get empty(): boolean {
    return this.head >= this.items.length;
  }

  /** Called by the replication stream for every frame, synchronously from the socket handler. */
  push = (item: ReplicationItem): void => {
    if (this.head >= this.items.length) this.busySince = Date.now();
    this.items.push(item);
    if (item.kind === 'message') {
      this.messages += 1;
      this.bytes += item.size;
      if (item.lsn > this.stats.receivedLsn) this.stats.receivedLsn = item.lsn;
      this.stats.bufferedMessages = this.messages;
      if (!this.stats.paused && (this.messages >= this.limits.maxMessages || this.bytes >= this.limits.maxBytes)) {
        this.stats.paused = true;
        this.flow?.pause();
      }
    }
    this.wakeUp();
  };

  fail = (error: Error): void => {
    this.failure ??= error;
    this.wakeUp();
  };

  take(): ReplicationItem | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as ReplicationItem;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item.kind === 'message') {
      this.messages -= 1;
      this.bytes -= item.size;
      this.stats.bufferedMessages = this.messages;
      if (this.stats.paused && this.messages <= this.limits.maxMessages / 2 && this.bytes <= this.limits.maxBytes / 2) {
        this.stats.paused = false;
        this.flow?.resume();
      }
    }
    return item;
  }

  /** Resolves at the next push, failure or wakeUp(), or after `timeoutMs` (null: no timeout). */
  wait(timeoutMs: number | null): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === null ? null : setTimeout(() => {
        this.wake = null;
        resolve();
      }, timeoutMs);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
