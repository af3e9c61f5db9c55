/**
 * Keeps the retro-hunt key index (see hunt-keys.ts and Store.addHuntKeys) up to date: it
 * reads the versions of every collection in date_added order, from the collection's
 * indexed mark on, and stores the look-up keys of each together with the new mark. Every
 * version is indexed, not only the latest, so the index only grows. Keys of deleted or
 * replaced versions stay and only add candidates, which the hunt then rejects.
 *
 * One node at a time does the work: a pass claims the builder document through `due`
 * (claimDocuments) and releases it when done, as the correlation indexer does. Key rows
 * are idempotent and the mark only rises, so two passes that overlap after a lease ran
 * out do extra work but never leave a gap.
 */
import type { BackgroundPacer } from '../events/pacing.ts';
import { claimLease, releaseLease, type LeaseDocument } from '../events/lease-document.ts';
import { PassLoop } from '../events/pass-loop.ts';
import type { Logger } from '../log/logger.ts';
import type { HuntKey, Store } from '../store/store.ts';
import { KEYED_TYPES, objectKeyRows, WILDCARD_KEY } from './hunt-keys.ts';

export const BUILDER_DOCUMENT = 'hunt-key-index';
const BUILDER_ID = 'builder';

export interface HuntIndexOptions {
  /** Versions read per store query. */
  pageSize: number;
  /** Pages one pass reads at most, over all collections. */
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

  /** Indexes up to `pagesPerPass` pages if this node wins the lease; returns versions read. */
  pass(): Promise<number> {
    return this.loop.run();
  }

  /**
   * Runs passes until one reads nothing: every collection is indexed up to its newest
   * version, or another node holds the lease.
   */
  async catchUp(): Promise<void> {
    while ((await this.pass()) > 0) {
      if (this.loop.stopped) return;
    }
  }

  private async claimedPass(): Promise<number> {
    const claimed = await claimLease(this.store, this.lease);
    if (claimed === undefined) return 0;
    try {
      return await this.indexCollections();
    } finally {
      // A lease that ran out is no loss: key rows are idempotent and the mark only rises.
      await releaseLease(this.store, this.lease, claimed, '{}');
    }
  }

  /**
   * Indexes collections in order until `pagesPerPass` pages have read versions. A collection
   * with nothing new costs one empty query and no page of the budget, so collections after
   * many idle ones are still reached.
   */
  private async indexCollections(): Promise<number> {
    let pages = this.options.pagesPerPass;
    let read = 0;
    for (const root of await this.store.listApiRoots()) {
      for (const collection of await this.store.listCollections(root.name)) {
        while (pages > 0 && !this.loop.stopped) {
          const count = await this.indexPage(collection.id);
          if (count === 0) break;
          pages--;
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
    if (this.pacer) await this.pacer.turn(first.dateAdded);
    else await new Promise((resolve) => setImmediate(resolve));
    const rows: HuntKey[] = [];
    for (const item of page.items) {
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
    await this.store.addHuntKeys(collectionId, rows, last.dateAdded);
    return page.items.length;
  }
}
