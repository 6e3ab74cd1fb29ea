/**
 * Who may change state through the management API (GUIDE, invariant 9: closed by default). Reads
 * stay open for probes and scrapers; a pause holds WAL on the primary and a restart interrupts the
 * stream, so every other method must pass:
 * - no cross-origin browser request: a page in an operator's browser could otherwise POST a restart
 *   to a loopback API (an HTML form needs no token and no preflight). Browsers say where a request
 *   comes from (Origin, Sec-Fetch-Site); form content types are refused outright;
 * - with WALCAST_ADMIN_TOKEN set: `Authorization: Bearer <token>`;
 * - without it: only an API listening on loopback, reached by a loopback host name (a DNS name
 *   rebound to 127.0.0.1 by a web page would carry its own name in Host).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { errorReply, type Reply } from './reply.ts';

export interface AdminPolicy {
  /** WALCAST_ADMIN_TOKEN, or null. */
  token: string | null;
  /** The address the API listens on (WALCAST_HTTP_HOST). */
  listenHost: string;
}

/** Methods that only read. */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Content types an HTML form (or a no-preflight fetch) can send cross-origin. */
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/** 127.0.0.0/8, ::1 (also IPv4-mapped), localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(bare);
  return false;
}

/** The host of a Host header value (without the port). */
function hostOf(header: string): string {
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  return header.split(':')[0] ?? '';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time comparison (of digests, so the lengths match too). */
function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * null when `req` may change state; otherwise the refusal, in Connect's error body. `secure`: the
 * API is served over HTTPS (the request's own origin is then https://).
 */
export function authorizeStateChange(req: IncomingMessage, policy: AdminPolicy, secure: boolean): Reply | null {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${secure ? 'https' : 'http'}://${host}`) {
    return errorReply(403, `cross-origin request refused (Origin ${origin}): state changes come from an API client, not a web page`);
  }
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    return errorReply(403, `cross-site request refused (Sec-Fetch-Site: ${fetchSite}): state changes come from an API client, not a web page`);
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (FORM_TYPES.includes(contentType)) {
    return errorReply(415, `Content-Type ${contentType} refused for state changes: send no body, or a JSON one (application/json)`);
  }
  if (policy.token !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match || !tokenMatches(match[1]!, policy.token)) {
      return { ...errorReply(401, 'this call changes state: it needs the admin token (Authorization: Bearer <WALCAST_ADMIN_TOKEN>)'), headers: { 'www-authenticate': 'Bearer realm="walcast"' } };
    }
    return null;
  }
  if (!isLoopback(policy.listenHost)) {
    return errorReply(403, `state changes are refused: the management API listens on ${policy.listenHost}, beyond loopback, and WALCAST_ADMIN_TOKEN is not set`);
  }
  if (!isLoopback(hostOf(host))) {
    return errorReply(403, `state changes without WALCAST_ADMIN_TOKEN are accepted for loopback host names only (Host: ${host})`);
  }
  return null;
}
