/**
 * The in-memory index behind the bulk look-up: from observable values to the stored
 * indicators, SCOs and observed data that mention them, and from those objects to the
 * relationships and sightings that touch them. It keeps numbers (see ObjectTable), not JSON.
 * Answers are checked against the store with the caller's access at look-up time, so the
 * index itself may hold stale or hidden entries but never hands them out.
 *
 * It is built from the store once and then follows the event log. Values of an earlier
 * version stay filed after the object changes; the look-up drops them when the current
 * version no longer mentions the value.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { eventObject } from '../events/feed.ts';
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import type { Observable } from '../normalise/index.ts';
import { SCO_TYPES } from '../stix/index.ts';
import { LATEST_VERSION, type Store } from '../store/store.ts';
import { isSco } from './engine.ts';
import { MultiMap } from './multimap.ts';
import { ObjectTable } from './object-table.ts';
import {
  patternMentions,
  scoObservables,
  valueKeyOf,
  type FoundObservable,
} from './observables.ts';
import { ValueMatcher, type MatchVisitor, type ValueKind } from './value-matcher.ts';

/** Object types the index reads from the store. */
export const INDEXED_TYPES: readonly string[] = [
  'indicator',
  'observed-data',
  'sighting',
  'relationship',
  ...SCO_TYPES,
];

const PAGE = 1_000;
const NO_END = -1;

/** Returns the observables an object mentions: pattern values, SCO values, embedded SCOs. */
export function mentionedObservables(object: Readonly<Record<string, unknown>>): FoundObservable[] {
  if (object.type === 'indicator') {
    if (object.pattern_type !== 'stix' || typeof object.pattern !== 'string') return [];
    return patternMentions(object.pattern);
  }
  if (object.type === 'observed-data') {
    const embedded = object.objects;
    if (embedded === null || typeof embedded !== 'object' || Array.isArray(embedded)) return [];
    const found: FoundObservable[] = [];
    for (const [key, sco] of Object.entries(embedded as Record<string, unknown>)) {
      if (sco === null || typeof sco !== 'object') continue;
      for (const item of scoObservables(sco as Record<string, unknown>)) {
        found.push({ observable: item.observable, path: `objects.'${key}'.${item.path}` });
      }
    }
    return found;
  }
  return isSco(object) ? scoObservables(object) : [];
}

function stringRefs(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string') : [];
}

export class ValueIndex {
  readonly objects = new ObjectTable();
  private readonly values = new ValueMatcher<number>();
  private readonly collectionIds: string[] = [];
  private readonly collectionNumbers = new Map<string, number>();
  /** The first collection of each object, as its number + 1 (0: none). */
  private firstCollection = new Uint32Array(1024);
  /** Further collections of objects held by more than one. */
  private readonly moreCollections = new Map<number, number[]>();
  /** Relationships, sightings and observed data that reference each object. */
  private readonly neighbours = new MultiMap<number, number>();
  /** Source and target of each relationship, by its number; NO_END elsewhere. */
  private ends = new Int32Array(2048).fill(NO_END);
  private valueCount = 0;

  get objectCount(): number {
    return this.objects.size;
  }

  /** Number of value keys filed (a value mentioned by two objects counts twice). */
  get valueKeys(): number {
    return this.valueCount;
  }

  private collectionNumber(id: string): number {
    let number = this.collectionNumbers.get(id);
    if (number === undefined) {
      number = this.collectionIds.length;
      this.collectionIds.push(id);
      this.collectionNumbers.set(id, number);
    }
    return number;
  }

  private ensureCapacity(): void {
    const size = this.objects.size;
    if (this.firstCollection.length < size) {
      const next = new Uint32Array(Math.max(size, this.firstCollection.length * 2));
      next.set(this.firstCollection);
      this.firstCollection = next;
    }
    if (this.ends.length < size * 2) {
      const next = new Int32Array(Math.max(size * 2, this.ends.length * 2)).fill(NO_END);
      next.set(this.ends);
      this.ends = next;
    }
  }

  private place(index: number, collection: number): void {
    const first = this.firstCollection[index]!;
    if (first === 0) {
      this.firstCollection[index] = collection + 1;
      return;
    }
    if (first === collection + 1) return;
    const more = this.moreCollections.get(index) ?? [];
    if (!more.includes(collection)) more.push(collection);
    this.moreCollections.set(index, more);
  }

  /** Files one object version of a collection. */
  add(object: Readonly<Record<string, unknown>>, collectionId: string): void {
    if (typeof object.id !== 'string') return;
    const index = this.objects.intern(object.id);
    this.ensureCapacity();
    this.place(index, this.collectionNumber(collectionId));

    for (const found of mentionedObservables(object)) {
      const key = valueKeyOf(found.observable);
      if (this.values.add(key, index)) this.valueCount++;
    }
    this.link(index, object);
  }

  private link(index: number, object: Readonly<Record<string, unknown>>): void {
    const neighbour = (id: string) => {
      const target = this.objects.intern(id);
      this.ensureCapacity();
      this.neighbours.add(target, index);
      return target;
    };
    if (object.type === 'relationship') {
      const source = typeof object.source_ref === 'string' ? neighbour(object.source_ref) : NO_END;
      const target = typeof object.target_ref === 'string' ? neighbour(object.target_ref) : NO_END;
      this.ends[index * 2] = source;
      this.ends[index * 2 + 1] = target;
    } else if (object.type === 'sighting') {
      if (typeof object.sighting_of_ref === 'string') neighbour(object.sighting_of_ref);
      for (const id of stringRefs(object.observed_data_refs)) neighbour(id);
    } else if (object.type === 'observed-data') {
      for (const id of stringRefs(object.object_refs)) neighbour(id);
    }
  }

  /** Forgets that a collection holds an object (its values stay until the next build). */
  remove(objectId: string, collectionId: string): void {
    const index = this.objects.find(objectId);
    const collection = this.collectionNumbers.get(collectionId);
    if (index < 0 || collection === undefined) return;
    const more = this.moreCollections.get(index) ?? [];
    if (this.firstCollection[index] === collection + 1) {
      const next = more.shift();
      this.firstCollection[index] = next === undefined ? 0 : next + 1;
    } else {
      const at = more.indexOf(collection);
      if (at >= 0) more.splice(at, 1);
    }
    if (more.length === 0) this.moreCollections.delete(index);
  }

  /** Visits the objects filed under values matching the value. */
  lookup(kind: ValueKind, value: string, visit: MatchVisitor<number>): void {
    this.values.lookup(kind, value, visit);
  }

  /** Visits the objects filed under values matching the normalised observable. */
  lookupObservable(observable: Observable, visit: MatchVisitor<number>): void {
    this.values.lookupObservable(observable, visit);
  }

  /** The ids of the collections holding an object. */
  collectionsOf(index: number): string[] {
    const first = this.firstCollection[index] ?? 0;
    if (first === 0) return [];
    const ids = [this.collectionIds[first - 1]!];
    for (const more of this.moreCollections.get(index) ?? []) ids.push(this.collectionIds[more]!);
    return ids;
  }

  /** The relationships, sightings and observed data that reference an object. */
  neighboursOf(index: number): number[] {
    const found: number[] = [];
    this.neighbours.forEach(index, (neighbour) => found.push(neighbour));
    return found;
  }

  /** The source and target of a relationship, or undefined for other objects. */
  endsOf(index: number): [number, number] | undefined {
    const source = this.ends[index * 2];
    const target = this.ends[index * 2 + 1];
    if (source === undefined || target === undefined) return undefined;
    if (source === NO_END && target === NO_END) return undefined;
    return [source, target];
  }
}

export type IndexState = 'building' | 'ready' | 'stopped';

export interface FeedOptions {
  /** Interval of the fallback read of the event log (ms). */
  fallbackMs: number;
  batchSize: number;
  /** Wait before building again after a failed build (ms); it doubles after each failure. */
  retryMs: number;
  /** Maximum wait between builds (ms). */
  maxRetryMs: number;
}

/**
 * Builds a ValueIndex from the store and keeps it up to date from the event log. Each node
 * has its own, so there is no lease: every node reads every event.
 */
export class ValueIndexFeed {
  private current = new ValueIndex();
  state: IndexState = 'building';
  /** Objects read while building, for progress reports. */
  built = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Aborted by stop, to end a wait between builds. */
  private readonly stopping = new AbortController();
  private readonly options: FeedOptions;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly notifier?: EventNotifier,
    options: Partial<FeedOptions> = {},
  ) {
    this.options = {
      fallbackMs: 1_000,
      batchSize: 1_000,
      retryMs: 1_000,
      maxRetryMs: 60_000,
      ...options,
    };
  }

  /** The index; a failed build replaces it with a new one. */
  get index(): ValueIndex {
    return this.current;
  }

  /** Reads every collection into the index; `onProgress` gets the objects read so far. */
  async build(onProgress?: (objects: number) => void): Promise<void> {
    this.seq = (await this.store.eventBounds()).last;
    const roots = await this.store.listApiRoots();
    for (const root of roots) {
      for (const collection of await this.store.listCollections(root.name)) {
        let addedAfter: number | undefined;
        for (;;) {
          if (this.state === 'stopped') return;
          const page = await this.store.queryObjects({
            collectionId: collection.id,
            types: [...INDEXED_TYPES],
            versions: LATEST_VERSION,
            limit: PAGE,
            ...(addedAfter === undefined ? {} : { addedAfter }),
          });
          for (const item of page.items) {
            this.index.add(JSON.parse(item.json) as Record<string, unknown>, collection.id);
          }
          this.built += page.items.length;
          onProgress?.(this.built);
          if (!page.more || page.items.length === 0) break;
          addedAfter = page.items.at(-1)!.dateAdded;
        }
      }
    }
    await this.catchUp();
    if (this.state === 'building') this.state = 'ready';
  }

  /**
   * Builds the index, then follows the event log until stop. A build that fails, because
   * the store is unreachable for instance, is started again on an empty index after a wait,
   * so start returns only once the index is ready or the feed is stopped.
   */
  async start(): Promise<void> {
    const started = performance.now();
    const attempts = await this.buildWithRetries();
    if (attempts === undefined) return;
    this.logger.info(
      {
        objects: this.index.objectCount,
        values: this.index.valueKeys,
        attempts,
        ms: Math.round(performance.now() - started),
      },
      'observable value index built',
    );
    this.unlisten = this.notifier?.listen(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.fallbackMs);
    this.timer.unref();
  }

  /**
   * Builds until a build succeeds, waiting retryMs after the first failure and twice as long
   * after each further one, up to maxRetryMs. Returns the number of builds, or undefined
   * when the feed was stopped first.
   */
  private async buildWithRetries(): Promise<number | undefined> {
    let wait = this.options.retryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.build();
        return this.state === 'stopped' ? undefined : attempt;
      } catch (error) {
        if (this.state === 'stopped') return undefined;
        this.logger.warn(
          { err: error, attempt, retryMs: wait, objects: this.built },
          'observable value index build failed; building again from an empty index',
        );
      }
      try {
        await sleep(wait, undefined, { signal: this.stopping.signal });
      } catch (error) {
        if (this.stopping.signal.aborted) return undefined;
        throw error;
      }
      wait = Math.min(wait * 2, this.options.maxRetryMs);
      this.current = new ValueIndex();
      this.built = 0;
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.stopping.abort();
    this.unlisten?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  wake(): void {
    if (this.state === 'stopped') return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.catchUp()
      .catch((error: unknown) => this.logger.error({ err: error }, 'value index update failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Applies the events after the index's position. */
  async catchUp(): Promise<void> {
    for (;;) {
      const bounds = await this.store.eventBounds();
      if (this.seq < bounds.first - 1) {
        this.logger.warn(
          { position: this.seq, first: bounds.first },
          'value index missed pruned events; restart the server to rebuild it',
        );
        this.seq = bounds.first - 1;
      }
      const events = await this.store.readEvents({
        afterSeq: this.seq,
        limit: this.options.batchSize,
      });
      for (const event of events) {
        if (event.kind === 'deleted') this.index.remove(event.objectId, event.collectionId);
        else if (event.json !== undefined && INDEXED_TYPES.includes(event.objectType)) {
          this.index.add(eventObject(event), event.collectionId);
        }
        this.seq = event.seq;
      }
      if (events.length < this.options.batchSize) return;
    }
  }
}
