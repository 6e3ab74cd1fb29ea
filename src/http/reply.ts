/**
 * What a route answers: a status code and a body (JSON unless a content type is given), and Kafka
 * Connect's error body `{"error_code": ..., "message": ...}`. A message names the request, never
 * configuration: secrets never leave the process.
 */

export interface Reply {
  status: number;
  /** Serialised as JSON, or sent as is when `contentType` is set; none for 202/204. */
  body?: unknown;
  contentType?: string;
  /** Further response headers (e.g. WWW-Authenticate on a 401). */
  headers?: Record<string, string>;
}

export interface ErrorBody {
  error_code: number;
  message: string;
}

export function errorReply(status: number, message: string): Reply {
  const body: ErrorBody = { error_code: status, message };
  return { status, body };
}

export function noRoute(path: string): Reply {
  return errorReply(404, `no route for ${path}`);
}

export function methodNotAllowed(method: string, path: string): Reply {
  return errorReply(405, `${method} ${path} not supported`);
}
