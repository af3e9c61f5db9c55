/**
 * HTTP requests of connectors: authentication headers, a timeout per attempt, and retries
 * with exponential backoff on network errors, 5xx and 429 responses, honouring Retry-After.
 * Bodies are returned as streams so that a large feed is never held in memory.
 */
import type { ConnectorAuth, RetryPolicy } from './definition.ts';

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
  headers?: Record<string, string>;
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
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Sends a GET and returns the response once its status is 2xx or listed in `accept`. Retries
 * transient failures up to `retry.attempts` times in all; each attempt has its own timeout,
 * which covers the headers only, so a long body is read without a deadline here.
 */
export async function fetchWithRetry(url: string, options: RequestOptions): Promise<Response> {
  const { retry } = options;
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    let wait: number | undefined;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const response = await fetch(url, {
        headers: { ...authHeaders(options.auth), ...options.headers },
        signal,
        redirect: 'follow',
      });
      if (response.ok || options.accept?.includes(response.status)) return response;
      const excerpt = await bodyExcerpt(response);
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
      if (error instanceof FetchError) throw error;
      if (options.signal?.aborted) throw options.signal.reason as Error;
      reason = timeout.aborted
        ? `no response within ${options.timeoutMs} ms`
        : networkReason(error as Error);
      if (attempt >= retry.attempts) {
        throw new FetchError(`GET ${describeUrl(url)} failed: ${reason} after ${attempt} attempts`);
      }
    }
    const delayMs = Math.min(retry.maxDelayMs, wait ?? backoffMs(retry, attempt));
    options.onRetry?.({ url: describeUrl(url), attempt, delayMs, reason });
    await sleep(delayMs, options.signal);
  }
}

function networkReason(error: Error): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}

/** Reads the first 200 characters of an error body for the message and drops the rest. */
async function bodyExcerpt(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.slice(0, 200).replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
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
