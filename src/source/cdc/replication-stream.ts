/**
 * The replication connection: START_REPLICATION on a pgoutput slot, XLogData and keepalive
 * frames in, standby status updates out.
 *
 * pg-logical-replication owns the connection and the COPY BOTH plumbing; walcast plugs in its own
 * pgoutput decoder and answers keepalives itself, because the library's periodic timer would
 * acknowledge LSNs that Kafka has not committed yet (GUIDE, invariant 1).
 */
import type { Client, ClientConfig } from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { decodePgoutput, type PgoutputMessage } from './pgoutput.ts';
import { formatLsn, parseLsn, type Lsn } from '../../pg/lsn.ts';
import { quoteIdent, quoteLiteral } from '../../pg/sql.ts';

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

export type ReplicationItem =
  | { kind: 'message'; lsn: Lsn; size: number; message: PgoutputMessage }
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

interface DecodedFrame {
  message?: PgoutputMessage;
  error?: Error;
  size: number;
}

/** Satisfies pg-logical-replication's plugin contract (its base class is not exported). */
class WalcastPgoutputPlugin {
  readonly options: { publication: string };
  constructor(options: { publication: string }) {
    this.options = options;
  }

  get name(): string {
    return 'pgoutput';
  }

  start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    // publication_names is parsed as a list of identifiers inside a string literal.
    const publications = quoteLiteral(quoteIdent(this.options.publication));
    return client.query(
      `START_REPLICATION SLOT ${quoteIdent(slotName)} LOGICAL ${lastLsn} ` +
        `(proto_version '1', publication_names ${publications}, messages 'true')`,
    );
  }

  // Called synchronously from the socket's data handler: an exception here would be uncaught,
  // so decoding errors travel as values to the pipeline, which stops cleanly.
  parse(buffer: Buffer): DecodedFrame {
    try {
      return { message: decodePgoutput(buffer), size: buffer.length };
    } catch (error) {
      return { error: error as Error, size: buffer.length };
    }
  }
}

export interface ReplicationStreamOptions {
  connection: ClientConfig;
  slot: string;
  publication: string;
  startLsn: Lsn;
  onItem: (item: ReplicationItem) => void;
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
    this.service = new LogicalReplicationService(options.connection, {
      acknowledge: { auto: false, timeoutSeconds: 0 },
    });
    this.service.on('data', (lsn: string, frame: DecodedFrame) => {
      if (frame.error) {
        options.onError(frame.error);
        return;
      }
      options.onItem({ kind: 'message', lsn: parseLsn(lsn), size: frame.size, message: frame.message! });
    });
    this.service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      options.onItem({ kind: 'keepalive', walEnd: parseLsn(lsn), replyRequested: shouldRespond });
    });
    this.service.on('error', (error: Error) => {
      if (!this.stopped) options.onError(error);
    });
  }

  /** Resolves once the server has accepted START_REPLICATION. */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve) => this.service.once('start', () => resolve()));
    const plugin = new WalcastPgoutputPlugin({ publication: this.options.publication });
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
