/**
 * The replication connection: START_REPLICATION on a pgoutput slot, XLogData and keepalive
 * frames in, standby status updates out.
 *
 * pg-logical-replication opens the connection and starts COPY BOTH; walcast reads the frames
 * itself and answers keepalives itself, because the library's periodic timer would acknowledge
 * LSNs that Kafka has not committed yet (GUIDE, invariant 1), and because the library's frame
 * handler costs per message what walcast's hot path cannot afford: the LSN formatted as a string
 * (walcast parsed it back), and a promise from its acknowledge step even when that is disabled.
 *
 * A frame is queued as a copy of its bytes (replication-queue.ts) and decoded (pgoutput.ts) only
 * when the stream loop takes it: the queue holds up to WALCAST_MAX_BUFFERED_MESSAGES frames while catching up, and a
 * decoded message (its object, tuple array and one string per value) is several times the heap
 * of its bytes, all of which the garbage collector copied at every scavenge.
 */
import type { EventEmitter } from 'node:events';
import type { Client } from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { connectionConfig, type PgConnection } from '../../pg/connect.ts';
import { formatLsn, type Lsn } from '../../pg/lsn.ts';
import { quoteIdent, quoteLiteral } from '../../pg/sql.ts';

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

/** CopyData frames of the streaming replication protocol. */
const XLOG_DATA = 0x77; // w
const KEEPALIVE = 0x6b; // k
/** XLogData: 'w', start LSN, end LSN, send time, then the pgoutput message. */
const XLOG_HEADER_BYTES = 25;

export type ReplicationItem =
  /** `frame`: one pgoutput message, undecoded (decodePgoutput()), in bytes no later read overwrites. */
  | { kind: 'message'; lsn: Lsn; size: number; frame: Buffer }
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

/** Where the frames go (the replication queue), called synchronously from the socket's data handler. */
export interface ReplicationSink {
  /** An XLogData frame: its pgoutput message is `chunk[start..]`, a view the parser reuses (copy it). */
  message(lsn: Lsn, chunk: Buffer, start: number): void;
  keepalive(walEnd: Lsn, replyRequested: boolean): void;
}

/** pg's Connection: the 'copyData' events of COPY BOTH. */
type CopyDataSource = Pick<EventEmitter, 'on' | 'removeAllListeners'>;

/**
 * Satisfies pg-logical-replication's plugin contract (its base class is not exported). The
 * library calls start() once its own 'copyData' listener is attached: start() replaces it with
 * walcast's reader before the first frame can arrive.
 */
class WalcastPgoutputPlugin {
  readonly options: { publication: string };
  private readonly onFrame: (chunk: Buffer) => void;
  constructor(options: { publication: string }, onFrame: (chunk: Buffer) => void) {
    this.options = options;
    this.onFrame = onFrame;
  }

  get name(): string {
    return 'pgoutput';
  }

  start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    const connection = (client as unknown as { connection: CopyDataSource }).connection;
    connection.removeAllListeners('copyData');
    connection.on('copyData', ({ chunk }: { chunk: Buffer }) => this.onFrame(chunk));
    // publication_names is parsed as a list of identifiers inside a string literal.
    const publications = quoteLiteral(quoteIdent(this.options.publication));
    return client.query(
      `START_REPLICATION SLOT ${quoteIdent(slotName)} LOGICAL ${lastLsn} ` +
        `(proto_version '1', publication_names ${publications}, messages 'true')`,
    );
  }

  /** Part of the library's contract; never called, since start() takes the frames over. */
  parse(buffer: Buffer): Buffer {
    return buffer;
  }
}

export interface ReplicationStreamOptions {
  /** Settled TLS (negotiateTls): the connection factory's settings, pinned session options included. */
  connection: PgConnection;
  slot: string;
  publication: string;
  startLsn: Lsn;
  sink: ReplicationSink;
  onError: (error: Error) => void;
}

interface PausableStream {
  pause(): void;
  resume(): void;
}

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private readonly options: ReplicationStreamOptions;
  private paused = false;
  private stopped = false;
  /** Settles when the replication connection ends. */
  ended: Promise<void> = Promise.resolve();

  constructor(options: ReplicationStreamOptions) {
    this.options = options;
    // timeoutSeconds 0: no library timer acknowledging received (not committed) positions.
    this.service = new LogicalReplicationService(connectionConfig(options.connection, { replication: 'database' }), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
    });
    this.service.on('error', (error: Error) => {
      if (!this.stopped) options.onError(error);
    });
  }

  /**
   * One CopyData frame, synchronously from the socket's data handler. `chunk` is a view into the
   * protocol parser's buffer, which later reads overwrite: the sink copies the message out.
   */
  private readonly onFrame = (chunk: Buffer): void => {
    const kind = chunk[0];
    if (kind === XLOG_DATA && chunk.length >= XLOG_HEADER_BYTES) {
      this.options.sink.message(chunk.readBigUInt64BE(1), chunk, XLOG_HEADER_BYTES);
    } else if (kind === KEEPALIVE && chunk.length >= 18) {
      this.options.sink.keepalive(chunk.readBigUInt64BE(1), chunk[17] !== 0);
    } else {
      this.options.onError(new Error(`unexpected replication frame 0x${(kind ?? 0).toString(16)} of ${chunk.length} bytes`));
    }
  };

  /** Resolves once the server has accepted START_REPLICATION. */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve) => this.service.once('start', () => resolve()));
    const plugin = new WalcastPgoutputPlugin({ publication: this.options.publication }, this.onFrame);
    const subscribed = this.service.subscribe(plugin, this.options.slot, formatLsn(this.options.startLsn));
    this.ended = subscribed.then(
      () => undefined,
      (error: Error) => {
        if (!this.stopped) throw error;
      },
    );
    // Both outcomes are observed here or by onError; keep the rejection from going unhandled.
    this.ended.catch((error: Error) => this.options.onError(error));
    await Promise.race([started, this.ended.then(() => Promise.reject(new Error('replication ended before it started')))]);
  }

  private socket(): PausableStream | undefined {
    const internal = this.service as unknown as { _connection?: { stream?: PausableStream } | null };
    return internal._connection?.stream ?? undefined;
  }

  /** Stops reading from the socket; PostgreSQL then waits, holding the WAL (backpressure). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket()?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket()?.resume();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /**
   * Standby status update. `flushed` becomes the slot's confirmed_flush_lsn: it must never exceed
   * what Kafka has committed. `received` only feeds pg_stat_replication.write_lsn.
   */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    if (this.stopped) return;
    const frame = Buffer.alloc(34);
    frame.write('r', 0, 'latin1');
    frame.writeBigUInt64BE(received > flushed ? received : flushed, 1);
    frame.writeBigUInt64BE(flushed, 9);
    frame.writeBigUInt64BE(flushed, 17);
    frame.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    frame.writeUInt8(replyRequested ? 1 : 0, 33);
    const internal = this.service as unknown as { _connection?: { sendCopyFromChunk(chunk: Buffer): void } | null };
    internal._connection?.sendCopyFromChunk(frame);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resume();
    await this.service.destroy();
    await this.ended.catch(() => undefined);
  }
}
