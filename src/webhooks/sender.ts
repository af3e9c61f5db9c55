/**
 * Sends one webhook request and reports what happened, never throwing.
 *
 * Built on node:http and node:https rather than fetch because the sender needs the raw
 * 3xx response (it never follows a redirect), a hard deadline that covers connecting,
 * waiting and reading, and a cap on how much of the response it reads.
 */
import http from 'node:http';
import https from 'node:https';

import { isNonPublicLiteral, NON_PUBLIC_CODE } from '../net/public-targets.ts';
import { webhookLookup } from './endpoint-url.ts';

/** Result of one attempt; `ok` is true for a 2xx status. */
export interface AttemptOutcome {
  ok: boolean;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** The reason of a failure. */
  error?: string;
  /** The host a 3xx response pointed to, which was not followed. */
  redirectHost?: string;
  durationMs: number;
  /** The start of the response body, as text, for the delivery log. */
  responseExcerpt?: string;
  /** Set when the sender stopped the attempt itself (see SendOptions.signal). */
  aborted?: boolean;
}

export interface SendOptions {
  /** Deadline for the whole exchange, in milliseconds. */
  timeoutMs: number;
  /** Bytes of the response body read at most; the connection is dropped after them. */
  maxResponseBytes: number;
  /** Stops the attempt, as when the server shuts down; the outcome then has `aborted`. */
  signal?: AbortSignal;
}

/** Characters of the response body kept in the delivery log. */
const EXCERPT_LENGTH = 200;

/**
 * Options of the keep-alive agents. The socket limit is per origin and above any
 * per-endpoint concurrency, so a busy origin queues in its own pool only.
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 60_000 };

/** Describes a socket or TLS error in words a webhook owner can act on. */
function describeError(error: NodeJS.ErrnoException, timeoutMs: number): string {
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return `timed out after ${timeoutMs} ms`;
  }
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by the receiver';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found (${error.code})`;
    case NON_PUBLIC_CODE:
      return error.message;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable (${error.code})`;
    default:
      return error.code ? `${error.code}: ${error.message}` : error.message;
  }
}

/** Returns the host a Location header names, resolved against the request URL. */
function locationHost(location: string | undefined, base: URL): string {
  if (location === undefined) return '(no Location header)';
  try {
    return new URL(location, base).host;
  } catch {
    return '(invalid Location header)';
  }
}

/**
 * Posts webhook requests through its own keep-alive agents. Unless `allowPrivateTargets`,
 * it connects to public addresses only (see endpoint-url.ts).
 */
export class WebhookSender {
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #allowPrivateTargets: boolean;

  constructor(allowPrivateTargets: boolean) {
    this.#allowPrivateTargets = allowPrivateTargets;
    // The agents resolve host names, so the address check sits in their lookup.
    const lookup = allowPrivateTargets ? {} : { lookup: webhookLookup() };
    this.#httpAgent = new http.Agent({ ...AGENT_OPTIONS, ...lookup });
    this.#httpsAgent = new https.Agent({ ...AGENT_OPTIONS, ...lookup });
  }

  /** Posts `body` to `url` with the headers; resolves with the outcome, also on failure. */
  send(
    url: URL,
    body: string,
    headers: Record<string, string>,
    options: SendOptions,
  ): Promise<AttemptOutcome> {
    if (!this.#allowPrivateTargets && isNonPublicLiteral(url.hostname)) {
      return Promise.resolve({
        ok: false,
        error: `${url.hostname} is not a public address, and this server sends webhooks only to public addresses`,
        durationMs: 0,
      });
    }
    const agent = url.protocol === 'https:' ? this.#httpsAgent : this.#httpAgent;
    return sendRequest(url, body, headers, options, agent);
  }

  /** Closes every socket, so a stopping server or a test leaves none open. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

function sendRequest(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
  agent: http.Agent,
): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const payload = Buffer.from(body, 'utf8');
  const transport = url.protocol === 'https:' ? https : http;

  return new Promise((resolve) => {
    let settled = false;
    let request: http.ClientRequest;
    let resentOnFreshSocket = false;
    const finish = (outcome: Omit<AttemptOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', abort);
      resolve({ ...outcome, durationMs: elapsed() });
    };

    const onResponse = (response: http.IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let received = 0;
      const done = () => {
        const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_LENGTH);
        const reported = excerpt.length > 0 ? { responseExcerpt: excerpt } : {};
        if (status >= 200 && status < 300) {
          finish({ ok: true, status, ...reported });
        } else if (status >= 300 && status < 400) {
          const host = locationHost(response.headers.location, url);
          finish({
            ok: false,
            status,
            redirectHost: host,
            error: `redirect to ${host} not followed: register the final URL`,
            ...reported,
          });
        } else {
          finish({ ok: false, status, error: `receiver answered HTTP ${status}`, ...reported });
        }
      };
      response.on('data', (chunk: Buffer) => {
        if (received < options.maxResponseBytes) {
          chunks.push(chunk.subarray(0, options.maxResponseBytes - received));
        }
        received += chunk.length;
        if (received >= options.maxResponseBytes) {
          // Enough read: drop the connection rather than drain a large or endless body.
          response.destroy();
          done();
        }
      });
      response.on('end', done);
      response.on('error', done);
      response.on('close', done);
    };

    const issue = () => {
      request = transport.request(url, {
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': String(payload.length),
          'User-Agent': 'Cairn-Webhook/1',
        },
      });
      request.on('response', onResponse);
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A keep-alive socket that the receiver closed while idle fails at once on reuse.
        // The Node.js http documentation advises resending on a fresh socket then
        // (reusedSocket). The request almost surely never reached the receiver, so the
        // resend is part of the same attempt; receivers drop repeats by delivery id anyway.
        if (request.reusedSocket && error.code === 'ECONNRESET' && !resentOnFreshSocket) {
          resentOnFreshSocket = true;
          if (!settled) issue();
          return;
        }
        finish({ ok: false, error: describeError(error, options.timeoutMs) });
      });
      request.end(payload);
    };

    // One timer for the whole exchange: the socket timeout of node:http only measures
    // idle time, so a receiver that trickles bytes would never time out with it.
    const deadline = setTimeout(() => {
      request.destroy();
      finish({ ok: false, error: `timed out after ${options.timeoutMs} ms` });
    }, options.timeoutMs);

    const abort = () => {
      request.destroy();
      finish({
        ok: false,
        aborted: true,
        error: 'stopped by the server before a response arrived',
      });
    };

    issue();
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
  });
}
