/**
 * A client of Cairn's Server-Sent Events streams, used by `cairn stream` and the tests.
 * `openStream` reads one connection. `followStream` reconnects with backoff and resumes
 * from the last cursor received, so a consumer gets every event once, in order, across
 * disconnects and server restarts.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** A message as received: its SSE event name, id and parsed JSON data. */
export interface ReceivedMessage {
  event: string;
  id?: string;
  data: Record<string, unknown>;
}

/** The server rejected the stream; `status` and `retryAfterSeconds` tell whether to retry. */
export class StreamRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'StreamRequestError';
  }
}

export interface OpenOptions {
  /** An API token, sent as a Bearer token. */
  token: string;
  /** Sent as Last-Event-ID, to resume after that cursor. */
  lastEventId?: string;
  signal?: AbortSignal;
}

/**
 * Opens one stream and yields its messages until the server ends it. Throws
 * StreamRequestError when the server responds with an error status, and the fetch error
 * when the connection fails or breaks. A consumer that stops pulling stops the reading.
 */
export async function* openStream(
  url: string,
  options: OpenOptions,
): AsyncGenerator<ReceivedMessage> {
  const headers: Record<string, string> = {
    Accept: 'text/event-stream',
    Authorization: `Bearer ${options.token}`,
  };
  if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
  const response = await fetch(url, {
    headers,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!response.ok || response.body === null) {
    const text = await response.text();
    let message = `HTTP ${response.status}`;
    try {
      const body = JSON.parse(text) as { error?: { message?: string } };
      if (body.error?.message) message = `${message}: ${body.error.message}`;
    } catch {
      if (text) message = `${message}: ${text.slice(0, 200)}`;
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new StreamRequestError(
      response.status,
      message,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }

  const received: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => received.push(message) });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    while (received.length > 0) {
      const message = received.shift()!;
      yield {
        event: message.event ?? 'message',
        ...(message.id !== undefined ? { id: message.id } : {}),
        data: JSON.parse(message.data) as Record<string, unknown>,
      };
    }
  }
}

export interface FollowOptions {
  token: string;
  /** The cursor to resume after; without it the stream starts at the live events. */
  cursor?: string;
  /** Called with each new cursor (from events, heartbeats and closing messages). */
  onCursor?: (cursor: string) => void;
  /** Called before each reconnect with the error or reason and the delay. */
  onReconnect?: (reason: string, delayMs: number) => void;
  /** First reconnect delay, doubled up to maxDelayMs; in milliseconds. */
  minDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/** Statuses after which trying again cannot help. */
const FINAL_STATUSES = new Set([400, 401, 403, 404]);

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Yields the messages of a stream for as long as `signal` allows, reconnecting after
 * disconnects, server restarts and `closed` messages, and resuming after the last cursor
 * received. Only messages that carry an event or the state (`resync`, `replay`) are
 * yielded; heartbeats and closing messages only move the cursor. Throws
 * StreamRequestError for refusals that retrying cannot fix (400, 401, 403, 404).
 */
export async function* followStream(
  url: string,
  options: FollowOptions,
): AsyncGenerator<ReceivedMessage> {
  const minDelay = options.minDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  let cursor = options.cursor;
  let failures = 0;
  while (!options.signal?.aborted) {
    let reason = 'the server ended the stream';
    let retryAfterMs: number | undefined;
    try {
      const messages = openStream(url, {
        token: options.token,
        ...(cursor !== undefined ? { lastEventId: cursor } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      for await (const message of messages) {
        failures = 0;
        if (message.id !== undefined && message.id !== cursor) {
          cursor = message.id;
          options.onCursor?.(cursor);
        }
        if (message.event === 'closed') {
          const closedCursor = message.data.cursor;
          if (typeof closedCursor === 'string' && closedCursor !== cursor) {
            cursor = closedCursor;
            options.onCursor?.(cursor);
          }
          reason = `the server closed the stream (${String(message.data.reason)})`;
          continue;
        }
        if (message.event === 'heartbeat' || message.event === 'replayed') continue;
        yield message;
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof StreamRequestError) {
        if (FINAL_STATUSES.has(error.status)) throw error;
        if (error.retryAfterSeconds !== undefined) retryAfterMs = error.retryAfterSeconds * 1000;
      }
      reason = error instanceof Error ? error.message : String(error);
      failures += 1;
    }
    if (options.signal?.aborted) return;
    // Full jitter keeps many clients of a restarted server from reconnecting in step.
    const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 16));
    const wait = retryAfterMs ?? (failures === 0 ? minDelay : Math.random() * ceiling);
    options.onReconnect?.(reason, Math.round(wait));
    await delay(wait, options.signal);
  }
}
