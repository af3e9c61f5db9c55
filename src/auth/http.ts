/**
 * HTTP authentication shared by the TAXII server and the JSON API: a Bearer token, or HTTP
 * Basic with the user name and the token as password (RFC 7617). Failed attempts are
 * audited and rate-limited per source address and per user name.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { verifyToken, type Caller } from './tokens.ts';

/**
 * One challenge per accepted scheme, because the challenges tell a client which schemes the
 * server supports (TAXII 2.1 section 1.6.9, RFC 7235 section 4.1).
 */
export const CHALLENGE = 'Basic realm="cairn", charset="UTF-8", Bearer realm="cairn"';

/** How often the last-used time of a token is written, at most (microseconds). */
const TOKEN_TOUCH_INTERVAL = 60 * 1_000_000;

export interface Credentials {
  token: string;
  userName?: string;
}

/** Reads the token from `Authorization: Bearer …` or HTTP Basic (user name, token as password). */
export function readCredentials(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space < 0 || !value) return undefined;
  if (scheme === 'bearer') return { token: value };
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { userName: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

/** The client address of a request served by @hono/node-server; `unknown` elsewhere. */
export function sourceAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface RateLimitOptions {
  /** Failed attempts allowed per source address within the window. */
  maxPerAddress: number;
  /** Failed attempts allowed per user name within the window. */
  maxPerUserName: number;
  /** Window length, in milliseconds. */
  windowMs: number;
  /** Most keys tracked; the oldest are forgotten first. */
  maxKeys: number;
}

export const RATE_LIMIT_DEFAULTS: RateLimitOptions = {
  maxPerAddress: 20,
  maxPerUserName: 10,
  windowMs: 5 * 60 * 1000,
  maxKeys: 100_000,
};

/**
 * Counts failed authentication attempts per key in a sliding window. FailureLimiter keeps
 * them in memory, for one server on its own store; nodes that share a store share the
 * counts through it (see src/cluster/failure-counts.ts).
 */
export interface FailureCounter {
  readonly options: RateLimitOptions;
  /** Seconds until the key may try again, or 0 when it may now. */
  retryAfter(key: string, max: number): number | Promise<number>;
  record(key: string): void | Promise<void>;
}

/**
 * Failed authentication attempts in a sliding window, per key, in this process's memory:
 * the counts restart with the server and are not shared with other processes.
 */
export class FailureLimiter implements FailureCounter {
  readonly #options: RateLimitOptions;
  readonly #failures = new Map<string, number[]>();

  constructor(options: Partial<RateLimitOptions> = {}) {
    this.#options = { ...RATE_LIMIT_DEFAULTS, ...options };
  }

  /** Seconds until the key may try again, or 0 when it may now. */
  retryAfter(key: string, max: number, now = Date.now()): number {
    const times = this.#recent(key, now);
    if (times.length < max) return 0;
    const oldest = times[times.length - max]!;
    return Math.max(1, Math.ceil((oldest + this.#options.windowMs - now) / 1000));
  }

  record(key: string, now = Date.now()): void {
    const times = this.#recent(key, now);
    times.push(now);
    // Re-inserting moves the key to the end, so eviction drops the least recently failed.
    this.#failures.delete(key);
    this.#failures.set(key, times);
    if (this.#failures.size > this.#options.maxKeys) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
  }

  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key) ?? [];
    const start = now - this.#options.windowMs;
    while (times.length > 0 && times[0]! <= start) times.shift();
    return times;
  }

  get options(): RateLimitOptions {
    return this.#options;
  }
}

export type AuthOutcome =
  | { ok: true; caller: Caller }
  | { ok: false; status: 401; message: string }
  | { ok: false; status: 429; message: string; retryAfterSeconds: number };

const MISSING =
  'send a Cairn API token: Authorization: Bearer <token>, or HTTP Basic with your user name and the token as password';
const INVALID =
  'the token is not valid: it may be mistyped, revoked or expired, or belong to another user';

/** Authenticates requests; one per server, shared by every transport. */
export class HttpAuthenticator {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #limiter: FailureCounter;

  constructor(store: Store, logger: Logger, limiter: FailureCounter = new FailureLimiter()) {
    this.#store = store;
    this.#logger = logger;
    this.#limiter = limiter;
  }

  /**
   * Checks the Authorization header of a request from `address`. Once an address or a user
   * name has too many recent failures, its further failures get 429 instead of 401.
   * Valid credentials always pass: many clients can share one address behind a proxy, and
   * one client with a bad token must not lock the others out. Guessing a token stays out of
   * reach because its secret has 256 random bits.
   */
  async authenticate(header: string | undefined, address: string): Promise<AuthOutcome> {
    const credentials = readCredentials(header);
    if (credentials) {
      const caller = await verifyToken(this.#store, credentials.token);
      const nameMatches =
        credentials.userName === undefined || credentials.userName === caller?.user.name;
      if (caller && nameMatches) {
        this.#touch(caller);
        return { ok: true, caller };
      }
    }

    const limited = await this.#retryAfter(address, credentials?.userName);
    if (limited > 0) {
      return {
        ok: false,
        status: 429,
        message: `too many failed authentication attempts: retry after ${limited} seconds`,
        retryAfterSeconds: limited,
      };
    }
    if (!credentials) return { ok: false, status: 401, message: MISSING };

    await this.#recordFailure(address, credentials.userName);
    return { ok: false, status: 401, message: INVALID };
  }

  async #retryAfter(address: string, userName: string | undefined): Promise<number> {
    const { maxPerAddress, maxPerUserName } = this.#limiter.options;
    const [byAddress, byName] = await Promise.all([
      this.#limiter.retryAfter(`address:${address}`, maxPerAddress),
      userName === undefined ? 0 : this.#limiter.retryAfter(`user:${userName}`, maxPerUserName),
    ]);
    return Math.max(byAddress, byName);
  }

  async #recordFailure(address: string, userName: string | undefined): Promise<void> {
    try {
      await Promise.all([
        this.#limiter.record(`address:${address}`),
        userName === undefined ? undefined : this.#limiter.record(`user:${userName}`),
      ]);
    } catch (error) {
      this.#logger.error({ err: error, sourceAddress: address }, 'could not count a failure');
    }
    this.#logger.info({ sourceAddress: address, userName }, 'authentication failed');
    try {
      await this.#store.appendAudit({
        at: nowMicros(),
        action: 'auth.failed',
        ...(userName !== undefined ? { actorName: userName.slice(0, 128) } : {}),
        sourceAddress: address,
        details: {},
        anonymous: false,
      });
    } catch (error) {
      this.#logger.error(
        { err: error, sourceAddress: address },
        'could not audit failed authentication',
      );
    }
  }

  #touch(caller: Caller): void {
    const now = nowMicros();
    if ((caller.token.lastUsedAt ?? 0) + TOKEN_TOUCH_INTERVAL >= now) return;
    this.#store.touchToken(caller.token.id, now).catch((error: unknown) => {
      this.#logger.warn({ err: error, tokenId: caller.token.id }, 'could not record token use');
    });
  }
}
