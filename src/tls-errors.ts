/**
 * TLS failures told apart from network faults. A certificate the client does not trust, a host
 * name the certificate does not hold or a server that wants a client certificate will fail the
 * same way on every retry: walcast stops with exit 2 and names the setting to change, instead of
 * retrying until the startup deadline and reporting an unreachable service.
 */

export type TlsFailureKind = 'untrusted' | 'hostname' | 'expired' | 'client-certificate' | 'not-tls';

export interface TlsFailure {
  kind: TlsFailureKind;
  /** The library's own words (never holds a secret: certificate errors name certificates and hosts). */
  detail: string;
}

const KINDS: Readonly<Record<string, TlsFailureKind>> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  CERT_SIGNATURE_FAILURE: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
  CERT_REJECTED: 'untrusted',
  INVALID_CA: 'untrusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'expired',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'client-certificate',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'client-certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'client-certificate',
  ERR_SSL_WRONG_VERSION_NUMBER: 'not-tls',
};

/** The TLS failure behind `error` (its cause chain is searched), or null for anything else. */
export function tlsFailure(error: unknown): TlsFailure | null {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e !== null && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, message } = e as { code?: unknown; message?: unknown };
    const kind = typeof code === 'string' ? KINDS[code] : undefined;
    const text = typeof message === 'string' ? message : '';
    if (kind) return { kind, detail: text.split('\n')[0]! };
    // node-postgres' words when the server answers the SSLRequest with 'N'.
    if (text === 'The server does not support SSL connections') return { kind: 'not-tls', detail: text };
  }
  return null;
}

/** What a failure means, in words, with the fix that lies on walcast's side. */
export function describeTlsFailure(failure: TlsFailure, service: string, settings: { ca: string; clientCertificate: string; mode: string }): string {
  switch (failure.kind) {
    case 'untrusted':
      return `${service} presented a certificate walcast does not trust (${failure.detail}): set ${settings.ca} to the CA certificate that signed it`;
    case 'hostname':
      return `${service}'s certificate does not name the host walcast connects to (${failure.detail}): connect by a name or address the certificate holds`;
    case 'expired':
      return `${service}'s certificate is expired or not yet valid (${failure.detail}): renew it on the server`;
    case 'client-certificate':
      return `${service} requires a client certificate it accepts (${failure.detail}): set ${settings.clientCertificate}`;
    case 'not-tls':
      return `${service} does not speak TLS there (${failure.detail}): check ${settings.mode}`;
  }
}
