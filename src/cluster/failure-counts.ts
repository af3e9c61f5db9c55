/**
 * Failed-authentication counts shared by every node of a store, so the limits of
 * src/auth/http.ts hold for a client whatever node the load balancer sends it to.
 *
 * Each failure is one small document owned by its key (`address:…`, `user:…`, hashed).
 * Its id sorts by time, so counting is an index range read. Recording is an insert that
 * never conflicts, however many nodes count the same key at once. Its `due`
 * is the end of its window: a cluster task claims the documents whose window ended and
 * deletes them. Only failed attempts reach the store; valid credentials never read these
 * documents. A key found over its limit is remembered here until its wait ends, so an
 * address that keeps failing costs no store reads meanwhile.
 */
import { createHash, randomBytes } from 'node:crypto';

import { RATE_LIMIT_DEFAULTS, type FailureCounter, type RateLimitOptions } from '../auth/http.ts';
import type { Store } from '../store/store.ts';

export const FAILURE_KIND = 'auth.failure';

/** Documents deleted per claim by the sweep. */
const SWEEP_BATCH = 500;
/** Width of the time part of ids: milliseconds in base 36 fit in 9 digits until 5188. */
const TIME_DIGITS = 9;

/** Returns the owner of a key's documents: a hash, so user names of any length fit. */
export function failureOwner(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 32);
}

function timePart(ms: number): string {
  return Math.max(0, Math.trunc(ms)).toString(36).padStart(TIME_DIGITS, '0');
}

/** Returns the time (ms) in a failure document id, or NaN for a foreign id. */
function timeOf(id: string): number {
  const part = id.split('.')[1];
  return part === undefined ? NaN : parseInt(part, 36);
}

export class StoreFailureCounter implements FailureCounter {
  readonly options: RateLimitOptions;
  readonly #store: Store;
  readonly #now: () => number;
  /** Keys over their limit and when their wait ends (ms), oldest insertion first. */
  readonly #blocked = new Map<string, number>();

  constructor(store: Store, options: Partial<RateLimitOptions> = {}, now: () => number = Date.now) {
    this.options = { ...RATE_LIMIT_DEFAULTS, ...options };
    this.#store = store;
    this.#now = now;
  }

  async retryAfter(key: string, max: number): Promise<number> {
    const now = this.#now();
    const until = this.#blocked.get(key);
    if (until !== undefined) {
      if (until > now) return Math.max(1, Math.ceil((until - now) / 1000));
      this.#blocked.delete(key);
    }
    const owner = failureOwner(key);
    const start = now - this.options.windowMs;
    // Ids sort by time, so the read starts at the window. Racing nodes may have counted a
    // few failures past the limit, so reading four times the limit finds the end of the wait.
    const documents = await this.#store.listDocuments({
      kind: FAILURE_KIND,
      owner,
      afterId: `${owner}.${timePart(start)}`,
      limit: Math.max(1, max) * 4,
    });
    const times = documents.map((document) => timeOf(document.id)).filter((t) => t > start);
    if (times.length < max) return 0;
    const end = times[times.length - max]! + this.options.windowMs;
    this.#remember(key, end);
    return Math.max(1, Math.ceil((end - now) / 1000));
  }

  async record(key: string): Promise<void> {
    const now = this.#now();
    const owner = failureOwner(key);
    await this.#store.putDocument(
      {
        kind: FAILURE_KIND,
        id: `${owner}.${timePart(now)}.${randomBytes(6).toString('hex')}`,
        owner,
        due: (now + this.options.windowMs) * 1000,
        body: '{}',
      },
      0,
    );
  }

  /** Deletes the failures whose window has ended; returns how many. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (;;) {
      const now = Date.now() * 1000;
      const expired = await this.#store.claimDocuments(
        FAILURE_KIND,
        now,
        now + this.options.windowMs * 1000,
        SWEEP_BATCH,
      );
      for (const document of expired) {
        if (await this.#store.deleteDocument(FAILURE_KIND, document.id)) removed += 1;
      }
      if (expired.length < SWEEP_BATCH) return removed;
    }
  }

  #remember(key: string, until: number): void {
    this.#blocked.delete(key);
    this.#blocked.set(key, until);
    if (this.#blocked.size > this.options.maxKeys) {
      this.#blocked.delete(this.#blocked.keys().next().value!);
    }
  }
}
