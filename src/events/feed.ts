/**
 * Recent events of the log, kept in memory for the readers in one process. The watch
 * follower, the value index, the correlation indexer, the stream pump and the webhook
 * dispatcher each read every new event. Without the feed, each of them would read it from
 * the store and parse its JSON again.
 *
 * The feed keeps runs of the log: each run is every event with a seq above its base, up to
 * the newest one it has. Runs grow from the events that writes of this process commit (see
 * Store.listenCommittedEvents), and from reads of the whole log, which also bring events
 * written by another node or by `cairn import` in another process. A read that starts inside
 * a run is served from memory and continued from the store past its end, so it returns
 * exactly what the store would. Any other read goes to the store, and its events become a
 * run, so readers that catch up one behind another share them (see pacing.ts).
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
 * Room for the newest events and for a run that readers catching up share: a few of the
 * followers' batches (500 to 5,000 events) each. The parsed objects of kept events stay in
 * memory too, and may take a few times the size of their JSON.
 */
export const EVENT_FEED_DEFAULTS: EventFeedOptions = {
  maxEvents: 12_000,
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

/** A contiguous run of the log: every event with a seq above `base`, up to the last kept. */
class Run {
  events: EventRecord[] = [];
  jsonChars = 0;
  /** When the run was last read or extended, by a counter of the feed. */
  used = 0;

  constructor(public base: number) {}

  get last(): number {
    return this.events.at(-1)?.seq ?? this.base;
  }

  /** Returns whether a read of the events after `seq` starts inside the run. */
  covers(seq: number): boolean {
    return seq >= this.base && seq < this.last;
  }

  /** Appends the events that follow the run's last, given every event of the log after it. */
  extend(events: readonly EventRecord[]): void {
    const last = this.last;
    for (const event of events) {
      if (event.seq <= last) continue;
      this.events.push(event);
      this.jsonChars += event.json?.length ?? 0;
    }
  }

  /** Returns at most `limit` events after `seq`, which the run must cover. */
  slice(seq: number, limit: number): EventRecord[] {
    // Binary search for the first event above `seq`.
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.events[middle]!.seq <= seq) low = middle + 1;
      else high = middle;
    }
    return this.events.slice(low, low + limit);
  }

  /** Drops the oldest `count` events. */
  dropOldest(count: number): void {
    for (const event of this.events.slice(0, count)) this.jsonChars -= event.json?.length ?? 0;
    this.base = this.events[count - 1]?.seq ?? this.base;
    this.events = this.events.slice(count);
  }
}

export class EventFeed {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #options: EventFeedOptions;
  /** Runs of the log that do not overlap, in no particular order. */
  #runs: Run[] = [];
  #uses = 0;
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
        this.#runs = [];
      }
    });
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#runs = [];
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
    return this.#runs.reduce((sum, run) => sum + run.events.length, 0);
  }

  /** Returns whether a read of the events after `seq` starts in memory. */
  has(seq: number): boolean {
    return this.#runs.some((run) => run.covers(seq));
  }

  /** Reads like Store.readEvents. Reads of the whole log use the kept events where they can. */
  async read(query: EventQuery): Promise<EventRecord[]> {
    const { afterSeq, limit, collectionIds } = query;
    const run =
      collectionIds === undefined &&
      query.kinds === undefined &&
      Number.isSafeInteger(afterSeq) &&
      Number.isSafeInteger(limit) &&
      limit > 0
        ? this.#runs.find((candidate) => candidate.covers(afterSeq))
        : undefined;
    if (run === undefined) return this.#readStore(query);

    run.used = ++this.#uses;
    const events = run.slice(afterSeq, limit);
    if (events.length === limit) return events;
    // The run ends before the limit: another run or the log may go on from its end.
    const more = await this.read({ afterSeq: events.at(-1)!.seq, limit: limit - events.length });
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
    // Every event of the log after `afterSeq`, up to the last read: a run to keep.
    if (events.length > 0 && query.collectionIds === undefined && query.kinds === undefined) {
      this.#keep(query.afterSeq, events);
    }
    return events;
  }

  #take(committed: CommittedEvents): void {
    if (committed.events.length > 0) this.#keep(committed.afterSeq, committed.events);
  }

  /**
   * Keeps `events`, which are every event of the log after `afterSeq` up to the last of them:
   * in the run they continue, else in a new run. Runs that come to touch are merged.
   */
  #keep(afterSeq: number, events: readonly EventRecord[]): void {
    let run: Run | undefined = this.#runs.find(
      (candidate) => candidate.base <= afterSeq && afterSeq <= candidate.last,
    );
    if (run === undefined) {
      run = new Run(afterSeq);
      this.#runs.push(run);
    }
    run.extend(events);
    run.used = ++this.#uses;
    for (const other of [...this.#runs]) {
      if (other === run || other.base > run.last || other.last < run.base) continue;
      // The runs overlap: the one that starts first takes the other's newer events.
      const first: Run = other.base < run.base ? other : run;
      const second: Run = first === run ? other : run;
      first.extend(second.events);
      first.used = Math.max(first.used, second.used);
      this.#runs = this.#runs.filter((kept) => kept !== second);
      run = first;
    }
    this.#trim();
  }

  /**
   * Drops the oldest events of the least recently used runs while the kept events exceed a
   * limit, and runs left empty.
   */
  #trim(): void {
    const { maxEvents, maxJsonChars } = this.#options;
    let count = this.size;
    let chars = this.#runs.reduce((sum, run) => sum + run.jsonChars, 0);
    const byUse = [...this.#runs].sort((a, b) => a.used - b.used);
    for (const run of byUse) {
      let drop = 0;
      while (drop < run.events.length && (count > maxEvents || chars > maxJsonChars)) {
        chars -= run.events[drop]!.json?.length ?? 0;
        count--;
        drop++;
      }
      if (drop > 0) run.dropOldest(drop);
    }
    this.#runs = this.#runs.filter((run) => run.events.length > 0);
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
