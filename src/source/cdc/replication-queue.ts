/**
 * Replication items between the socket and the stream loop, with backpressure: above the limits
 * the socket stops being read (PostgreSQL then waits, holding WAL) until the backlog halves
 * (GUIDE, invariant 3). Keepalives are not data: they do not count toward the limits.
 *
 * No object per queued frame: a frame's bytes are copied into a shared slab and its LSN, place and
 * length go into typed arrays; take() makes the item object, which dies young. While catching up
 * the queue holds up to WALCAST_MAX_BUFFERED_MESSAGES frames for longer than two scavenges, and an
 * object, a BigInt and a Buffer per frame were promoted to the old generation, a quarter of a KB
 * per row that mark-compacts then had to collect.
 */
import type { ConnectorStats } from '../../connector.ts';
import type { Lsn } from '../../pg/lsn.ts';
import type { ReplicationItem, ReplicationSink } from './replication-stream.ts';

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

/**
 * Frames are copied into slabs of this size, never reused: a frame taken may still be referenced
 * (a row handled again after its column widened) while later frames arrive, and a slab is freed
 * by the collector once no view of it is left.
 */
const SLAB_BYTES = 256 * 1024;
/** A frame larger than this gets a buffer of its own (a slab would waste its rest). */
const OWN_BUFFER_BYTES = SLAB_BYTES / 4;

const MESSAGE = 0;
const KEEPALIVE = 1;
const KEEPALIVE_REPLY = 2;

export class ReplicationQueue implements ReplicationSink {
  private readonly limits: QueueLimits;
  private readonly stats: ConnectorStats;
  private flow: FlowControl | null = null;
  /** A ring of `capacity` entries (a power of two), `count` of them from `head`. */
  private capacity = 1024;
  private head = 0;
  private count = 0;
  private kinds = new Uint8Array(this.capacity);
  private lsns = new BigUint64Array(this.capacity);
  private buffers: Array<Buffer | undefined> = new Array<Buffer | undefined>(this.capacity);
  private starts = new Int32Array(this.capacity);
  private lengths = new Int32Array(this.capacity);
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private slabUsed = 0;
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
    return this.count === 0;
  }

  /**
   * One pgoutput message, synchronously from the socket's data handler: `chunk[start..]` is a view
   * into the protocol parser's buffer, which later reads overwrite, so its bytes are copied here.
   */
  message(lsn: Lsn, chunk: Buffer, start: number): void {
    const length = chunk.length - start;
    let buffer: Buffer;
    let at: number;
    if (length > OWN_BUFFER_BYTES) {
      buffer = Buffer.allocUnsafeSlow(length);
      at = 0;
    } else {
      if (this.slabUsed + length > SLAB_BYTES) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.slabUsed = 0;
      }
      buffer = this.slab;
      at = this.slabUsed;
      this.slabUsed += length;
    }
    chunk.copy(buffer, at, start);
    const i = this.slot();
    this.kinds[i] = MESSAGE;
    this.lsns[i] = lsn;
    this.buffers[i] = buffer;
    this.starts[i] = at;
    this.lengths[i] = length;
    this.messages += 1;
    this.bytes += length;
    if (lsn > this.stats.receivedLsn) this.stats.receivedLsn = lsn;
    this.stats.bufferedMessages = this.messages;
    if (!this.stats.paused && (this.messages >= this.limits.maxMessages || this.bytes >= this.limits.maxBytes)) {
      this.stats.paused = true;
      this.flow?.pause();
    }
    this.wakeUp();
  }

  keepalive(walEnd: Lsn, replyRequested: boolean): void {
    const i = this.slot();
    this.kinds[i] = replyRequested ? KEEPALIVE_REPLY : KEEPALIVE;
    this.lsns[i] = walEnd;
    this.wakeUp();
  }

  /** Appends an item made elsewhere (tests, and anything that is not a socket frame). */
  push = (item: ReplicationItem): void => {
    if (item.kind === 'message') this.message(item.lsn, item.frame, 0);
    else this.keepalive(item.walEnd, item.replyRequested);
  };

  fail = (error: Error): void => {
    this.failure ??= error;
    this.wakeUp();
  };

  take(): ReplicationItem | undefined {
    if (this.count === 0) return undefined;
    const i = this.head;
    this.head = (i + 1) & (this.capacity - 1);
    this.count -= 1;
    const kind = this.kinds[i]!;
    const lsn = this.lsns[i]!;
    if (kind !== MESSAGE) return { kind: 'keepalive', walEnd: lsn, replyRequested: kind === KEEPALIVE_REPLY };
    const buffer = this.buffers[i]!;
    this.buffers[i] = undefined;
    const start = this.starts[i]!;
    const size = this.lengths[i]!;
    this.messages -= 1;
    this.bytes -= size;
    this.stats.bufferedMessages = this.messages;
    if (this.stats.paused && this.messages <= this.limits.maxMessages / 2 && this.bytes <= this.limits.maxBytes / 2) {
      this.stats.paused = false;
      this.flow?.resume();
    }
    return { kind: 'message', lsn, size, frame: buffer.subarray(start, start + size) };
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

  /** The ring index of a new item at the tail, the ring doubled first when full. */
  private slot(): number {
    if (this.count === 0) this.busySince = Date.now();
    if (this.count === this.capacity) this.grow();
    const i = (this.head + this.count) & (this.capacity - 1);
    this.count += 1;
    return i;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const order = (n: number): number => (this.head + n) & (this.capacity - 1);
    const kinds = new Uint8Array(capacity);
    const lsns = new BigUint64Array(capacity);
    const buffers = new Array<Buffer | undefined>(capacity);
    const starts = new Int32Array(capacity);
    const lengths = new Int32Array(capacity);
    for (let n = 0; n < this.count; n++) {
      const i = order(n);
      kinds[n] = this.kinds[i]!;
      lsns[n] = this.lsns[i]!;
      buffers[n] = this.buffers[i];
      starts[n] = this.starts[i]!;
      lengths[n] = this.lengths[i]!;
    }
    this.kinds = kinds;
    this.lsns = lsns;
    this.buffers = buffers;
    this.starts = starts;
    this.lengths = lengths;
    this.capacity = capacity;
    this.head = 0;
  }
}
