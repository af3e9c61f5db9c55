/**
 * Keeps the retro-hunt key index (see hunt-keys.ts and Store.addHuntKeys) up to date: it
 * reads the versions of every collection in date_added order, from the collection's
 * indexed mark on, and stores the look-up keys of each together with the new mark. Every
 * version is indexed, not only the latest. Keys of replaced versions stay and only add
 * candidates, which the hunt then rejects.
 *
 * Deletes, through the TAXII DELETE or any other path, reach the index through the event
 * log: for each object that lost versions, a pass sets its rows to the keys of the
 * versions it has left (Store.setObjectHuntKeys). The builder document records the last
 * event read.
 *
 * One node at a time does the work: a pass claims the builder document through `due`
 * (claimDocuments) and releases it when done, as the correlation indexer does. Key rows
 * are idempotent, the mark only rises, and setObjectHuntKeys refuses keys read before a
 * newer version arrived, so two passes that overlap after a lease ran out do extra work
 * but never leave a gap.
 */
import type { BackgroundPacer } from '../events/pacing.ts';
import { claimLease, releaseLease, type LeaseDocument } from '../events/lease-document.ts';
import { PassLoop } from '../events/pass-loop.ts';
import type { Logger } from '../log/logger.ts';
import type { HuntKey, ObjectHuntKeys, Store, StoredVersionWithJson } from '../store/store.ts';
import { KEYED_TYPES, objectKeyRows, WILDCARD_KEY } from './hunt-keys.ts';

export const BUILDER_DOCUMENT = 'hunt-key-index';
const BUILDER_ID = 'builder';
/** Reads of an object's versions before its rows are left as they are. */
const REKEY_ATTEMPTS = 3;
const KEYED = new Set(KEYED_TYPES);

/** The state a pass hands on to the next one, in the builder document's body. */
interface BuilderState {
  /** The last event whose deletes reached the key rows; absent before the first such pass. */
  afterSeq?: number;
}

function parseState(body: string): BuilderState {
  const { afterSeq } = JSON.parse(body) as BuilderState;
  return typeof afterSeq === 'number' ? { afterSeq } : {};
}

export interface HuntIndexOptions {
  /** Versions, or events, read per store query. */
  pageSize: number;
  /** Pages one pass reads at most, of versions over all collections and of events. */
  pagesPerPass: number;
  /** Milliseconds between passes when the last one found nothing new. */
  pollMs: number;
  /** Lease of one pass, in milliseconds. */
  leaseMs: number;
}

export const HUNT_INDEX_DEFAULTS: HuntIndexOptions = {
  pageSize: 1_000,
  pagesPerPass: 20,
  pollMs: 2_000,
  leaseMs: 60_000,
};

export class HuntKeyIndexer {
  private readonly options: HuntIndexOptions;
  private readonly loop: PassLoop;
  private readonly lease: LeaseDocument;

  /**
   * With a `pacer`, each page waits while the process is busy writing, until its oldest
   * version is as old as the pacer allows (see src/events/pacing.ts). Without one, each page
   * still waits one turn of the event loop, so requests are served between pages.
   */
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: Partial<HuntIndexOptions> = {},
    private readonly pacer?: Pick<BackgroundPacer, 'turn'>,
  ) {
    this.options = { ...HUNT_INDEX_DEFAULTS, ...options };
    this.lease = {
      kind: BUILDER_DOCUMENT,
      id: BUILDER_ID,
      initialBody: '{}',
      leaseMs: this.options.leaseMs,
    };
    this.loop = new PassLoop(
      () => this.claimedPass(),
      this.options.pollMs,
      (error) => this.logger.error({ err: error }, 'retro-hunt key indexing failed'),
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * Indexes up to `pagesPerPass` pages if this node wins the lease; returns the versions
   * and events read.
   */
  pass(): Promise<number> {
    return this.loop.run();
  }

  /**
   * Runs passes until one reads nothing: every collection is indexed up to its newest
   * version and every delete of the event log is applied, or another node holds the lease.
   */
  async catchUp(): Promise<void> {
    while ((await this.pass()) > 0) {
      if (this.loop.stopped) return;
    }
  }

  private async claimedPass(): Promise<number> {
    const claimed = await claimLease(this.store, this.lease);
    if (claimed === undefined) return 0;
    const state = parseState(claimed.body);
    try {
      const budget = { pages: this.options.pagesPerPass };
      const read = await this.indexCollections(budget);
      return read + (await this.applyDeletes(state, budget));
    } finally {
      // A lease that ran out is no loss: the next pass reads the same events again.
      await releaseLease(this.store, this.lease, claimed, JSON.stringify(state));
    }
  }

  /**
   * Indexes collections in order until `budget.pages` pages have read versions. A collection
   * with nothing new costs one empty query and no page of the budget, so collections after
   * many idle ones are still reached.
   */
  private async indexCollections(budget: { pages: number }): Promise<number> {
    let read = 0;
    for (const root of await this.store.listApiRoots()) {
      for (const collection of await this.store.listCollections(root.name)) {
        while (budget.pages > 0 && !this.loop.stopped) {
          const count = await this.indexPage(collection.id);
          if (count === 0) break;
          budget.pages--;
          read += count;
          if (count < this.options.pageSize) break;
        }
      }
    }
    return read;
  }

  /** Indexes the next page of a collection; returns how many versions it read. */
  private async indexPage(collectionId: string): Promise<number> {
    const upTo = await this.store.huntKeyMark(collectionId);
    const page = await this.store.queryObjects({
      collectionId,
      versions: { all: true },
      types: [...KEYED_TYPES],
      ...(upTo > 0 ? { addedAfter: upTo } : {}),
      limit: this.options.pageSize,
    });
    const first = page.items[0];
    const last = page.items.at(-1);
    if (first === undefined || last === undefined) return 0;
    await this.giveWay(first.dateAdded);
    const rows = this.versionRows(collectionId, page.items);
    await this.store.addHuntKeys(collectionId, rows, last.dateAdded);
    return page.items.length;
  }

  /**
   * Applies the deletes of the event log after `state.afterSeq` to the key rows, up to
   * `budget.pages` pages of delete events, and moves `state.afterSeq` on. Returns the
   * delete events read.
   */
  private async applyDeletes(state: BuilderState, budget: { pages: number }): Promise<number> {
    const { first, last } = await this.store.eventBounds();
    let afterSeq = state.afterSeq ?? 0;
    if (first > 0 && afterSeq < first - 1) {
      // NOTE: the rows of versions deleted in the pruned events stay. They only add
      // candidates, which hunts check against the versions stored now.
      this.logger.warn(
        { afterSeq, firstRetained: first },
        'events were pruned before the retro-hunt key indexer read their deletes',
      );
      afterSeq = first - 1;
      state.afterSeq = afterSeq;
    }
    let read = 0;
    for (; budget.pages > 0 && afterSeq < last; budget.pages--) {
      if (this.loop.stopped) break;
      const limit = this.options.pageSize;
      const events = await this.store.readEvents({ afterSeq, limit, kinds: ['deleted'] });
      const oldest = events[0];
      if (oldest !== undefined) await this.giveWay(oldest.at);
      const byCollection = new Map<string, Set<string>>();
      for (const event of events) {
        if (!KEYED.has(event.objectType)) continue;
        let objectIds = byCollection.get(event.collectionId);
        if (objectIds === undefined) {
          objectIds = new Set();
          byCollection.set(event.collectionId, objectIds);
        }
        objectIds.add(event.objectId);
      }
      for (const [collectionId, objectIds] of byCollection) {
        await this.rekeyObjects(collectionId, [...objectIds]);
      }
      // A short page read every delete up to `last`, since the store numbers events in
      // commit order.
      const newest = events.at(-1)?.seq ?? afterSeq;
      afterSeq = events.length < limit ? Math.max(newest, last) : newest;
      state.afterSeq = afterSeq;
      read += events.length;
    }
    return read;
  }

  /**
   * Sets the key rows of objects that lost versions to the keys of the versions they have
   * left, none when they have none. Reads the versions of an object again when one arrived
   * meanwhile, and after REKEY_ATTEMPTS reads leaves its rows, which then only add
   * candidates.
   */
  private async rekeyObjects(collectionId: string, objectIds: string[]): Promise<void> {
    let pending = objectIds;
    for (let attempt = 0; attempt < REKEY_ATTEMPTS && pending.length > 0; attempt++) {
      const objects = await this.remainingKeys(collectionId, pending);
      pending = await this.store.setObjectHuntKeys(collectionId, objects);
    }
    if (pending.length > 0) {
      this.logger.warn(
        { collectionId, objects: pending.length, firstObjectId: pending[0] },
        'left the retro-hunt key rows of deleted versions, because new versions kept arriving',
      );
    }
  }

  /** Reads every version of the objects in the collection and returns their keys. */
  private async remainingKeys(
    collectionId: string,
    objectIds: readonly string[],
  ): Promise<ObjectHuntKeys[]> {
    const found = new Map(
      objectIds.map((objectId) => [objectId, { objectId, keys: new Set<string>(), readUpTo: 0 }]),
    );
    let addedAfter = 0;
    for (;;) {
      const page = await this.store.queryObjects({
        collectionId,
        ids: [...objectIds],
        versions: { all: true },
        ...(addedAfter > 0 ? { addedAfter } : {}),
        limit: this.options.pageSize,
      });
      for (const item of page.items) {
        const object = found.get(item.id)!;
        for (const row of this.versionRows(collectionId, [item])) object.keys.add(row.key);
        object.readUpTo = Math.max(object.readUpTo, item.dateAdded);
        addedAfter = item.dateAdded;
      }
      if (!page.more) break;
    }
    return [...found.values()].map(({ objectId, keys, readUpTo }) => ({
      objectId,
      keys: [...keys],
      readUpTo,
    }));
  }

  /** Returns the key rows of stored versions. */
  private versionRows(collectionId: string, items: readonly StoredVersionWithJson[]): HuntKey[] {
    const rows: HuntKey[] = [];
    for (const item of items) {
      let object: Record<string, unknown>;
      try {
        object = JSON.parse(item.json) as Record<string, unknown>;
      } catch (error) {
        // Filed under the wildcard, the version is a candidate of every hunt, which then
        // reports the same failure instead of missing the object.
        this.logger.error(
          { err: error, collectionId, objectId: item.id, version: item.version },
          'stored version is not JSON; every retro-hunt will read it',
        );
        rows.push({ key: WILDCARD_KEY, objectId: item.id });
        continue;
      }
      rows.push(...objectKeyRows({ ...object, id: item.id }));
    }
    return rows;
  }

  /**
   * Waits while the process is busy writing, until `oldestAt` is as old as the pacer
   * allows, or one turn of the event loop without a pacer, so requests are served between
   * pages.
   */
  private async giveWay(oldestAt: number): Promise<void> {
    if (this.pacer) await this.pacer.turn(oldestAt);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}
