/**
 * The error catalog: every error a Cairn endpoint returns has a stable code, an HTTP
 * status and a title here. Messages carry the offending value and what to do next.
 * Codes are never reused for a different meaning.
 */

export const ERROR_CATALOG = {
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'not-acceptable': { status: 406, title: 'Not acceptable' },
  'bad-request': { status: 400, title: 'Malformed HTTP request' },
  'request-timeout': { status: 408, title: 'Request timed out' },
  'payload-too-large': { status: 413, title: 'Request body too large' },
  'headers-too-large': { status: 431, title: 'Request headers too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'invalid-parameter': { status: 400, title: 'Invalid query parameter' },
  'invalid-json': { status: 400, title: 'Request body is not valid JSON' },
  'invalid-encoding': { status: 400, title: 'Request body is not valid UTF-8' },
  'invalid-envelope': { status: 422, title: 'Request body is not a TAXII envelope or STIX bundle' },
  conflict: { status: 409, title: 'Conflict' },
  'rule-broken': { status: 422, title: 'Sharing rule broken' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal server error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/**
 * The client message of a request that failed because the store could not be reached. It
 * names no host: the server log has the details.
 */
export const STORE_UNAVAILABLE_MESSAGE =
  'the data store is unavailable for the moment: retry in a few seconds';

/** Seconds that 503 responses for an unavailable store ask clients to wait (Retry-After). */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** An error meant for the client: its message is safe to send. */
export class CairnError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CairnError';
    this.status = ERROR_CATALOG[code].status;
    this.title = ERROR_CATALOG[code].title;
  }
}
