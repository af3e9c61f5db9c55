/**
 * Recent events of the log, kept in memory for the readers in one process. The watch
 * follower, the value index, the correlation indexer, the stream pump and the webhook
 * dispatcher each read every new event. Without the feed, each of them would read it from
 * the store and parse its JSON again.
 *
 * The feed keeps a contiguous part of the log: every event with a seq above `base`, up to
 * the newest one it has. The part grows from the events that writes of this process commit
 * (see Store.listenCommittedEvents), and from reads of the log that continue it, such as
 * events written by another node or by `cairn import` in another process. A read that starts
 * inside the part is served from memory and continued from the store past its end, so it
 * returns exactly what the store would. Any other read goes to the store.
 */
import type { Logger } from '../log/logger.ts';
import type { CommittedEvents, EventQuery, EventRecord, Store } from '../store/store.ts';

export interface EventFeedOptions {
  /** Maximum number of events kept. */
  maxEvents: number;
  /** Maximum total length of the kept events' JSON, in UTF-16 code units. */
  maxJsonChars: number;
}

/**
 * Ten times the followers' batches (500 to 1,000 events), so readers a few writes behind are
 * still served from memory. The parsed objects of kept events stay in memory too, and may
 * take a few times the size of their JSON.
 */
export const EVENT_FEED_DEFAULTS: EventFeedOptions = {
  maxEvents: 10_000,
  maxJsonChars: 16 * 2 ** 20,
};

/** Parsed JSON of events, shared by every reader that gets the same EventRecord. */
const parsedObjects = new WeakMap<EventRecord, Readonly<Record<string, unknown>>>();

/**
 * Returns the event's object, parsing its JSON on the first call for this record only. Readers
 * of the feed get the same records, so the JSON is parsed once however many of them read it.
 * The object is shared and must not be changed. Throws SyntaxError for JSON that does not
 * parse, and TypeError for a delete event, which has no JSON.
 */
export function eventObject(event: EventRecord): Readonly<Record<string, unknown>> {
  let object = parsedObjects.get(event);
  if (object === undefined) {
    if (event.json === undefined) {
      throw new TypeError(`event ${event.seq} (${event.kind}) carries no object JSON`);
    }
    object = JSON.parse(event.json) as Record<string, unknown>;
    parsedObjects.set(event, object);
  }
  return object;
}

export class EventFeed {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #options: EventFeedOptions;
  /** The kept events, in seq order, with no event of the log missing between them. */
  #events: EventRecord[] = [];
  /** The seq just below the first kept event; undefined while the feed is empty. */
  #base: number | undefined;
  #jsonChars = 0;
  #lastCommitMs = Number.NEGATIVE_INFINITY;
  #unlisten: (() => void) | undefined;

  constructor(store: Store, logger: Logger, options: Partial<EventFeedOptions> = {}) {
    this.#store = store;
    this.#logger = logger;
    this.#options = { ...EVENT_FEED_DEFAULTS, ...options };
  }

  /** Starts taking the events that writes of this process commit, when the store reports them. */
  start(): void {
    this.#unlisten ??= this.#store.listenCommittedEvents?.((committed) => {
      this.#lastCommitMs = performance.now();
      try {
        this.#take(committed);
      } catch (error) {
        this.#logger.error({ err: error }, 'event feed update failed; readers use the log');
        this.#clear();
      }
    });
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#clear();
  }

  /**
   * The performance.now() time of the last commit of this process that appended events, or
   * -Infinity before the first one.
   */
  get lastCommitMs(): number {
    return this.#lastCommitMs;
  }

  /** Number of events kept, for tests and diagnostics. */
  get size(): number {
    return this.#events.length;
  }

  /** Reads like Store.readEvents. Reads of the whole log use the kept events where they can. */
  async read(query: EventQuery): Promise<EventRecord[]> {
    const { afterSeq, limit, collectionIds } = query;
    const base = this.#base;
    const last = this.#last();
    const kept =
      collectionIds === undefined &&
      base !== undefined &&
      Number.isSafeInteger(afterSeq) &&
      Number.isSafeInteger(limit) &&
      limit > 0 &&
      afterSeq >= base &&
      afterSeq < last;
    if (!kept) return this.#readStore(query);

    const start = this.#indexAfter(afterSeq);
    const events = this.#events.slice(start, start + limit);
    if (events.length === limit) return events;
    // Memory ends before the limit: the log may have more, from other processes or nodes.
    const more = await this.#readStore({ afterSeq: last, limit: limit - events.length });
    return more.length === 0 ? events : events.concat(more);
  }

  /**
   * Returns a Store that reads the event log through this feed and passes every other call
   * to `store`.
   */
  wrap(store: Store): Store {
    return withReadEvents(store, (query) => this.read(query));
  }

  async #readStore(query: EventQuery): Promise<EventRecord[]> {
    const events = await this.#store.readEvents(query);
    // A read of the whole log that starts where memory ends continues the kept part.
    if (events.length > 0 && query.collectionIds === undefined) {
      if (this.#base === undefined) this.#base = query.afterSeq;
      if (query.afterSeq === this.#last()) this.#append(events);
    }
    return events;
  }

  #take(committed: CommittedEvents): void {
    const { afterSeq, events } = committed;
    if (events.length === 0) return;
    const last = this.#last();
    if (this.#base === undefined || afterSeq > last) {
      // Events that this process did not see came in between, so the kept part starts anew.
      this.#clear();
      this.#base = afterSeq;
      this.#append(events);
      return;
    }
    // A read of the log may already have added some of them.
    const fresh = afterSeq === last ? events : events.filter((event) => event.seq > last);
    this.#append(fresh);
  }

  #append(events: readonly EventRecord[]): void {
    for (const event of events) {
      this.#events.push(event);
      this.#jsonChars += event.json?.length ?? 0;
    }
    this.#trim();
  }

  /** Drops the oldest events while the kept ones exceed a limit. */
  #trim(): void {
    const { maxEvents, maxJsonChars } = this.#options;
    const events = this.#events;
    let drop = 0;
    let chars = this.#jsonChars;
    while (drop < events.length && (events.length - drop > maxEvents || chars > maxJsonChars)) {
      chars -= events[drop]!.json?.length ?? 0;
      drop++;
    }
    if (drop === 0) return;
    this.#base = events[drop - 1]!.seq;
    this.#events = events.slice(drop);
    this.#jsonChars = chars;
  }

  #clear(): void {
    this.#events = [];
    this.#base = undefined;
    this.#jsonChars = 0;
  }

  /** The seq of the newest kept event, or `base` when none is kept. */
  #last(): number {
    return this.#events.at(-1)?.seq ?? this.#base ?? 0;
  }

  /** Finds the index of the first kept event with a seq above `seq`, by binary search. */
  #indexAfter(seq: number): number {
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#events[middle]!.seq <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * Returns a Store whose readEvents is `read` and whose other methods are those of `store`,
 * bound to it once.
 */
export function withReadEvents(
  store: Store,
  read: (query: EventQuery) => Promise<EventRecord[]>,
): Store {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      if (property === 'readEvents') return read;
      const known = bound.get(property);
      if (known !== undefined) return known;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // Bound to the store itself, whose private fields a proxy receiver cannot reach.
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(property, method);
      return method;
    },
  });
}
