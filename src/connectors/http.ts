/**
 * HTTP requests of connectors: authentication headers, a timeout per attempt, retries with
 * exponential backoff on network errors, 5xx and 429 responses, honouring Retry-After, and
 * the target rules of src/net/public-targets.ts. Bodies are returned as streams so that a
 * large feed is never held in memory.
 *
 * Requests go through undici's fetch with an Agent of its own, because only a dispatcher
 * can give the connection a `lookup` that checks the resolved address. Redirects are
 * followed here, so that every hop is checked before it is requested.
 */
import { Agent, fetch, Response, type Dispatcher } from 'undici';

import { isNonPublicLiteral, NON_PUBLIC_CODE, publicOnlyLookup } from '../net/public-targets.ts';
import type { ConnectorAuth, RetryPolicy } from './definition.ts';

export type { Response };

/**
 * Reach of a connector to non-public addresses: everywhere (`true`, the
 * connectors.allowPrivateTargets setting), nowhere (`false`), or only at the origin of the
 * url that a platform admin gave (`same-origin`). A redirect elsewhere is then checked as
 * for anyone's connector.
 */
export type PrivateTargets = boolean | 'same-origin';

/** A response status that ends the run with a message, after retries when it is transient. */
export class FetchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface RequestOptions {
  auth: ConnectorAuth;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Headers of this request, such as Accept and validators. */
  headers?: Record<string, string>;
  /**
   * Headers the connector defines. Like `auth`, they are secrets, so neither is sent on
   * after a redirect to another origin.
   */
  secretHeaders?: Record<string, string>;
  /** Reach of the request to loopback, private and other non-public addresses. */
  allowPrivateTargets?: PrivateTargets;
  /** Aborts the request and every retry wait. */
  signal?: AbortSignal;
  /** Called before each retry, for logs and health. */
  onRetry?: (event: RetryEvent) => void;
  /** Statuses returned to the caller instead of raising, such as 304 or 400. */
  accept?: readonly number[];
}

export interface RetryEvent {
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Statuses worth another attempt: the server is overloaded, restarting or rate limiting. */
const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);

export function authHeaders(auth: ConnectorAuth): Record<string, string> {
  switch (auth.type) {
    case 'basic': {
      const pair = Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64');
      return { Authorization: `Basic ${pair}` };
    }
    case 'bearer':
      return { Authorization: `Bearer ${auth.token}` };
    case 'none':
      return {};
  }
}

/**
 * Parses Retry-After (RFC 9110 section 10.2.3): delay seconds or an HTTP date. Returns
 * milliseconds, or undefined when the header is absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Computes the delay before retry number `retry` (1 for the first), with up to 20% jitter. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  const exponential = policy.baseDelayMs * 2 ** (retry - 1);
  const jitter = 1 + Math.random() * 0.2;
  return Math.min(policy.maxDelayMs, Math.round(exponential * jitter));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Returns the URL without user information or query, safe for logs and health messages. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    // Not `origin`, which is "null" for a file: URL.
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Redirect statuses whose Location is followed. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Redirects followed per request at most: fewer than the 20 of the Fetch standard, because
 * each hop is one more request that the server sends on a connector's behalf.
 */
const MAX_REDIRECTS = 5;

/** Characters of an error response body quoted in a message at most. */
export const MAX_EXCERPT_LENGTH = 100;

/** Bytes of an error response body read at most; the rest is never downloaded. */
const EXCERPT_READ_BYTES = 2048;

const PRIVATE_TARGETS_RULE =
  'connectors fetch only from public addresses: use a public URL, have a platform admin ' +
  'create the connector, or set connectors.allowPrivateTargets';

let publicAgent: Agent | undefined;
let anyAgent: Agent | undefined;

/** Returns the shared agent for the target rule: one that connects to public addresses only, or one without the check. */
function agentFor(allowPrivateTargets: boolean): Dispatcher {
  if (allowPrivateTargets) {
    anyAgent ??= new Agent();
    return anyAgent;
  }
  publicAgent ??= new Agent({ connect: { lookup: publicOnlyLookup(PRIVATE_TARGETS_RULE) } });
  return publicAgent;
}

/**
 * Returns why a connector may not request `url`, or undefined when it may: only http:// and
 * https:// are requested, and a non-public IP literal only when private targets are allowed.
 * A host name is checked later, on the addresses it resolves to.
 */
export function targetProblem(url: URL, allowPrivateTargets: boolean): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${url.protocol.slice(0, -1)}: URLs are not fetched, only http:// and https://`;
  }
  if (!allowPrivateTargets && isNonPublicLiteral(url.hostname)) {
    return `${url.hostname} is a loopback, private or other non-public address, and ${PRIVATE_TARGETS_RULE}`;
  }
  return undefined;
}

/** Returns the headers of one hop: the secret ones only on the origin of the first request. */
function hopHeaders(options: RequestOptions, sameOrigin: boolean): Record<string, string> {
  if (!sameOrigin) return { ...options.headers };
  return { ...authHeaders(options.auth), ...options.secretHeaders, ...options.headers };
}

/**
 * Sends a GET, following up to MAX_REDIRECTS redirects to allowed targets, and returns the
 * final response. Throws a FetchError for a target the rules reject, at the first URL or
 * at any hop.
 */
async function requestFollowingRedirects(
  url: string,
  options: RequestOptions,
  signal: AbortSignal,
): Promise<Response> {
  const allowed = options.allowPrivateTargets ?? false;
  const first = new URL(url);
  let target = first;
  for (let redirects = 0; ; redirects++) {
    const allowPrivateTargets =
      allowed === true || (allowed === 'same-origin' && target.origin === first.origin);
    const problem = targetProblem(target, allowPrivateTargets);
    if (problem !== undefined) {
      const hop = target === first ? '' : ` (redirected from ${describeUrl(url)})`;
      throw new FetchError(`GET ${describeUrl(target.href)}${hop} was not sent: ${problem}`);
    }
    const response = await fetch(target, {
      headers: hopHeaders(options, target.origin === first.origin),
      signal,
      redirect: 'manual',
      dispatcher: agentFor(allowPrivateTargets),
    });
    if (!REDIRECTS.has(response.status)) return response;
    const location = response.headers.get('location');
    // The body of a redirect is not wanted; cancelling it lets the connection be reused.
    await response.body?.cancel().catch(() => undefined);
    if (location === null) {
      throw new FetchError(
        `GET ${describeUrl(target.href)} returned HTTP ${response.status} without a Location header`,
        response.status,
      );
    }
    if (redirects >= MAX_REDIRECTS) {
      throw new FetchError(
        `GET ${describeUrl(url)} was redirected more than ${MAX_REDIRECTS} times: give the final URL`,
      );
    }
    try {
      target = new URL(location, target);
    } catch {
      throw new FetchError(
        `GET ${describeUrl(target.href)} redirected to an invalid URL: give the final URL`,
      );
    }
  }
}

/** Returns the error a connection attempt failed with, as undici's fetch wraps it in `cause`. */
function connectionCause(error: Error): { code?: string; message?: string } | undefined {
  return (error as { cause?: { code?: string; message?: string } }).cause;
}

/**
 * A deadline for one attempt: `timeoutMs` for the response headers, then `timeoutMs` without
 * a byte for each wait of the body. A body that keeps arriving has no deadline here, so a
 * large feed on a slow link is read to its end. The run's own time limit still bounds it.
 */
class AttemptDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Whether the deadline, not the caller, aborted the attempt. */
  expired = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {
    this.arm('no response within');
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Restarts the deadline, naming what the attempt waits for when it passes. */
  arm(waitingFor: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(
        new FetchError(`GET ${describeUrl(this.url)}: ${waitingFor} ${this.timeoutMs} ms`),
      );
    }, this.timeoutMs);
    this.timer.unref();
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  /** Returns the error of a failed body read: the deadline's, the caller's, or a cut body. */
  private bodyError(error: Error, received: number): Error {
    if (this.expired) return this.controller.signal.reason as Error;
    if (error instanceof FetchError || error.name === 'AbortError') return error;
    const cause = connectionCause(error);
    const reason = cause?.code ?? cause?.message ?? error.message;
    return new FetchError(
      `GET ${describeUrl(this.url)}: the body ended after ${received} bytes, before it was ` +
        `complete (${reason}). The next run reads the feed again`,
    );
  }

  /**
   * Returns the response with a body that restarts the deadline at every chunk. A body that
   * ends before it is complete (the connection closed or reset) fails with a FetchError
   * naming the URL and the bytes received, instead of the bare error of the HTTP client.
   */
  watchBody(response: Response): Response {
    if (response.body === null) {
      this.clear();
      return response;
    }
    this.arm('no body data within');
    const reader = response.body.getReader();
    let received = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const result = await reader.read().catch((error: unknown) => {
          this.clear();
          throw this.bodyError(error as Error, received);
        });
        if (result.done) {
          this.clear();
          controller.close();
          return;
        }
        received += result.value.length;
        this.arm('no body data within');
        controller.enqueue(result.value);
      },
      cancel: async (reason) => {
        this.clear();
        await reader.cancel(reason);
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}

/**
 * Sends a GET and returns the response once its status is 2xx or listed in `accept`. Retries
 * transient failures up to `retry.attempts` times in all. Each attempt, redirects included,
 * waits at most `timeoutMs` for the response headers and then at most `timeoutMs` for each
 * piece of the body (AttemptDeadline).
 */
export async function fetchWithRetry(url: string, options: RequestOptions): Promise<Response> {
  const { retry } = options;
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    let wait: number | undefined;
    const deadline = new AttemptDeadline(url, options.timeoutMs);
    const signal = options.signal
      ? AbortSignal.any([options.signal, deadline.signal])
      : deadline.signal;
    try {
      const response = await requestFollowingRedirects(url, options, signal);
      if (response.ok || options.accept?.includes(response.status)) {
        return deadline.watchBody(response);
      }
      deadline.clear();
      const excerpt = await bodyExcerpt(response, secretValues(options));
      reason = `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
      if (!TRANSIENT.has(response.status)) {
        throw new FetchError(`GET ${describeUrl(url)} failed with ${reason}`, response.status);
      }
      wait = retryAfterMs(response.headers.get('retry-after'));
      if (attempt >= retry.attempts) {
        throw new FetchError(
          `GET ${describeUrl(url)} failed with ${reason} after ${attempt} attempts`,
          response.status,
        );
      }
    } catch (error) {
      deadline.clear();
      if (error instanceof FetchError) throw error;
      if (options.signal?.aborted) throw options.signal.reason as Error;
      const cause = connectionCause(error as Error);
      // A refused address stays refused, so retrying it would only delay the message.
      if (cause?.code === NON_PUBLIC_CODE) {
        throw new FetchError(`GET ${describeUrl(url)} was not sent: ${cause.message}`);
      }
      reason = deadline.expired
        ? `no response within ${options.timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
      if (attempt >= retry.attempts) {
        throw new FetchError(`GET ${describeUrl(url)} failed: ${reason} after ${attempt} attempts`);
      }
    }
    const delayMs = Math.min(retry.maxDelayMs, wait ?? backoffMs(retry, attempt));
    options.onRetry?.({ url: describeUrl(url), attempt, delayMs, reason });
    await sleep(delayMs, options.signal);
  }
}

/**
 * Returns the secrets of a request as a server might echo them: the Basic password and the
 * credential as sent, the Bearer token and the connector's header values, each also
 * percent-encoded.
 */
export function secretValues(options: Pick<RequestOptions, 'auth' | 'secretHeaders'>): string[] {
  const values: string[] = [...Object.values(options.secretHeaders ?? {})];
  if (options.auth.type === 'basic') {
    values.push(options.auth.password, authHeaders(options.auth).Authorization!.slice(6));
  }
  if (options.auth.type === 'bearer') values.push(options.auth.token);
  const encoded = values.map((value) => encodeURIComponent(value));
  return [...new Set([...values, ...encoded])].filter((value) => value.length > 0);
}

const REDACTED = '[redacted]';

/** The shortest start of a secret that is redacted when a text ends with it. */
const MIN_REDACTED_PREFIX = 4;

/**
 * Replaces each secret in `text` with "[redacted]", and also a start of a secret at the end
 * of `text`, where a read stopped part-way through it. The longest secret goes first, so a
 * secret that contains a shorter one is removed whole.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length);
  for (const secret of longestFirst) redacted = redacted.split(secret).join(REDACTED);
  for (const secret of longestFirst) {
    for (let length = secret.length - 1; length >= MIN_REDACTED_PREFIX; length--) {
      if (redacted.endsWith(secret.slice(0, length))) {
        redacted = redacted.slice(0, redacted.length - length) + REDACTED;
        break;
      }
    }
  }
  return redacted;
}

/**
 * Returns a short excerpt of an error body for a message: at most EXCERPT_READ_BYTES are
 * read and MAX_EXCERPT_LENGTH characters kept, with control characters and runs of white
 * space turned into one space. The server may be anyone's, so the excerpt is kept short
 * and printable. A server may echo the request's credentials in its error page, so the
 * `secrets` are removed before the excerpt is cut, when each is still whole.
 */
export async function bodyExcerpt(
  response: Response,
  secrets: readonly string[] = [],
): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      total += chunk.length;
      // Leaving the loop cancels the stream, so the rest is never downloaded.
      if (total >= EXCERPT_READ_BYTES) break;
    }
  } catch {
    // A body cut short still gives what arrived.
  }
  const text = redactSecrets(
    Buffer.concat(chunks).subarray(0, EXCERPT_READ_BYTES).toString('utf8'),
    secrets,
  );
  const printable = text
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\uFFFD]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  // Code points, so the cut never splits a surrogate pair.
  const characters = [...printable];
  if (characters.length <= MAX_EXCERPT_LENGTH) return printable;
  return `${characters.slice(0, MAX_EXCERPT_LENGTH - 1).join('')}…`;
}

/**
 * Reads a whole body, failing once it passes `maxBytes`. Used for bounded documents such as
 * a TAXII page or a MISP manifest, never for a feed.
 */
export async function readLimited(
  response: Response,
  maxBytes: number,
  what: string,
): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    // Leaving the loop by throwing cancels the stream, so the rest is never downloaded.
    if (total > maxBytes) {
      throw new FetchError(`${what} is larger than ${maxBytes} bytes: the read stopped there`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
