/**
 * Kafka security: TLS and SASL for every Kafka client walcast creates (they all come from
 * createKafka in producer.ts, so the producer, the consumers that read positions and open
 * transactions, the admin client and `walcast tail` share these settings), and the errors that
 * mean a setting is wrong rather than the cluster unreachable.
 */
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { TlsMaterial } from '../config/tls-files.ts';
import { ExitCode, WalcastError } from '../errors.ts';
import { describeTlsFailure, tlsFailure, type TlsFailure } from '../tls-errors.ts';

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaSasl {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

/** Kafka's security.protocol and what it needs: TLS material for SSL/SASL_SSL, credentials for SASL. */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  /** Set for SSL and SASL_SSL (empty: Node's bundled CAs, no client certificate). */
  tls: TlsMaterial | null;
  /** Set for SASL_PLAINTEXT and SASL_SSL. */
  sasl: KafkaSasl | null;
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT', tls: null, sasl: null };

const TLS_SETTINGS = { ca: 'WALCAST_KAFKA_SSL_CA_LOCATION', clientCertificate: 'WALCAST_KAFKA_SSL_CERTIFICATE_LOCATION and WALCAST_KAFKA_SSL_KEY_LOCATION', mode: 'WALCAST_KAFKA_SECURITY_PROTOCOL' };

/** kafkajs' `ssl` and `sasl` options. */
export function kafkajsSecurity(security: KafkaSecurity): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions; sasl?: SASLOptions } = {};
  if (security.tls) out.ssl = { ...security.tls };
  if (security.sasl) {
    const { username, password } = security.sasl;
    const mechanism = security.sasl.mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}

function tlsError(failure: TlsFailure, broker: string): WalcastError {
  return new WalcastError('WALCAST_TLS', `TLS to Kafka broker ${broker} failed: ${describeTlsFailure(failure, `Kafka broker ${broker}`, TLS_SETTINGS)}`, ExitCode.config);
}

/**
 * Completes a TLS handshake with the first reachable bootstrap broker before kafkajs is used: kafkajs
 * retries a refused certificate like a network fault for half a minute, then reports neither the
 * cause nor the setting. Resolves when one handshake succeeded or no broker answered (kafkajs then
 * retries the network); rejects with a WALCAST_TLS error when a broker's certificate is refused.
 */
export async function checkKafkaTls(brokers: readonly string[], security: KafkaSecurity, timeoutMs = 10_000): Promise<void> {
  if (!security.tls) return;
  for (const broker of brokers) {
    const separator = broker.lastIndexOf(':');
    const host = broker.slice(0, separator);
    const port = Number(broker.slice(separator + 1));
    const outcome = await new Promise<'ok' | 'unreachable' | TlsFailure>((resolve) => {
      // As kafkajs connects (network/socketFactory.js): SNI with host names only.
      const socket = tlsConnect({ ...security.tls, host, port, ...(isIP(host) ? {} : { servername: host }) });
      socket.setTimeout(timeoutMs);
      const done = (result: 'ok' | 'unreachable' | TlsFailure): void => {
        socket.destroy();
        resolve(result);
      };
      socket.once('secureConnect', () => done('ok'));
      socket.once('timeout', () => done('unreachable'));
      socket.once('error', (error) => done(tlsFailure(error) ?? 'unreachable'));
    });
    if (outcome === 'ok') return;
    if (outcome !== 'unreachable') throw tlsError(outcome, broker);
  }
}

/** A WalcastError (exit 2) for a Kafka error that a setting causes and no retry cures, else null. */
export function kafkaSecurityError(error: unknown): WalcastError | null {
  if (error instanceof WalcastError) return null;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'KafkaJSSASLAuthenticationError') {
    return new WalcastError(
      'WALCAST_KAFKA_AUTH',
      `Kafka refused walcast's SASL credentials: check WALCAST_KAFKA_SASL_USERNAME, WALCAST_KAFKA_SASL_PASSWORD and WALCAST_KAFKA_SASL_MECHANISM (${(error as Error).message})`,
      ExitCode.config,
      { cause: error },
    );
  }
  if (typeof name === 'string' && name.startsWith('KafkaJS')) {
    const failure = tlsFailure(error);
    // A closed connection (not-tls) may be the network; certificate problems are not.
    if (failure && failure.kind !== 'not-tls') {
      const broker = String((error as { broker?: unknown }).broker ?? (error as { cause?: { broker?: unknown } }).cause?.broker ?? 'a broker');
      return tlsError(failure, broker);
    }
  }
  return null;
}
