/**
 * What a watch list may see: a list never reveals an object its audience may not read.
 *
 * - A private list sees what its owning user sees (docs/sharing.md), RED versions that
 *   name the user and the user's own contributions included.
 * - A list shared with its organisation, and every list an organisation owns, sees what
 *   any user of the organisation sees by the organisation's standing alone: the audience
 *   its membership, client relations and published CLEAR objects give, read as an analyst.
 *   It never sees RED versions or versions readable only because one user contributed
 *   them, since every user of the organisation reads its alerts.
 *
 * Rights are cached for a short time (TTL_MS), so a user disabled or an organisation
 * removed from a community stops receiving alerts within that time. The check itself is
 * the per-event access check of src/events/filter.ts.
 */
import type { Caller } from '../auth/tokens.ts';
import { AccessLookups, EventReader } from '../events/filter.ts';
import { accessFilter, mayRead, NO_RIGHTS, type CollectionRights } from '../sharing/access.ts';
import { redactGranular } from '../sharing/granular.ts';
import { timestampKey } from '../stix/timestamp.ts';
import type {
  AccessFilter,
  Audience,
  CollectionRecord,
  EventRecord,
  Store,
  StoredVersionWithJson,
  TokenRecord,
  UserRecord,
} from '../store/store.ts';
import type { WatchList } from './model.ts';

/** How long cached users, rights and collection lists stay valid (ms). */
export const TTL_MS = 2_000;

export type WatchView =
  { kind: 'user'; userId: string } | { kind: 'organisation'; organisationId: string };

/** Returns the view a list's alerts are computed with. */
export function viewOf(list: WatchList): WatchView {
  if (list.ownerType === 'user' && list.visibility === 'private' && list.ownerUserId) {
    return { kind: 'user', userId: list.ownerUserId };
  }
  return { kind: 'organisation', organisationId: list.organisationId };
}

export function viewKey(view: WatchView): string {
  return view.kind === 'user' ? `user:${view.userId}` : `organisation:${view.organisationId}`;
}

/** Builds a token with every right of its user, since a watch list acts for its owner. */
function viewToken(userId: string): TokenRecord {
  return {
    id: 'watch',
    userId,
    label: 'watch list',
    secretHash: '',
    scopes: ['read'],
    createdAt: 0,
  };
}

/** The caller an organisation view reads as: an analyst no version names or credits. */
function organisationCaller(organisationId: string): Caller {
  const id = `organisation:${organisationId}`;
  return {
    user: {
      id,
      name: id,
      organisationId,
      role: 'analyst',
      createdAt: 0,
      disabled: false,
    },
    token: viewToken(id),
  };
}

/**
 * Returns a stored version's JSON as its reader may see it, the reader's granular markings
 * applied; the store query that returned it applied the reader's access filter.
 */
export function readerJson(item: StoredVersionWithJson, widest: Audience | 'none'): string {
  if (!item.granularMarkings) return item.json;
  return redactGranular(item.json, {
    widest,
    contributed: item.contributed,
    recipient: item.recipient,
  });
}

/** A collection a view may read, with the store filter that applies its rights. */
export interface ReadableCollection {
  collection: CollectionRecord;
  rights: CollectionRights;
  filter: AccessFilter;
}

interface CachedReader {
  reader: Promise<EventReader | undefined>;
  lookups: AccessLookups;
  expires: number;
}

/**
 * The access of watch list views, built on the per-event access check of src/events: one
 * EventReader per view, replaced after TTL_MS so that changed users, memberships and
 * charters take effect.
 */
export class WatchAccess {
  private readonly readers = new Map<string, CachedReader>();
  private collections: { value: Promise<CollectionRecord[]>; expires: number } | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = TTL_MS,
  ) {}

  /** Returns the caller a view reads as; undefined when its user is gone or disabled. */
  async caller(view: WatchView): Promise<Caller | undefined> {
    return (await this.readerOf(view).reader)?.caller;
  }

  private readerOf(view: WatchView): CachedReader {
    const key = viewKey(view);
    const now = Date.now();
    const hit = this.readers.get(key);
    if (hit && hit.expires > now) return hit;
    const reader = (async () => {
      if (view.kind === 'organisation') {
        return new EventReader(this.store, organisationCaller(view.organisationId));
      }
      const user: UserRecord | undefined = await this.store.getUser(view.userId);
      if (!user || user.disabled) return undefined;
      return new EventReader(this.store, { user, token: viewToken(user.id) });
    })();
    const cached = { reader, lookups: new AccessLookups(this.store), expires: now + this.ttlMs };
    // A failed load is not kept, so the next call tries again.
    reader.catch(() => this.readers.delete(key));
    if (this.readers.size > 100_000) this.readers.clear();
    this.readers.set(key, cached);
    return cached;
  }

  /** Returns the view's rights on a collection. */
  async rights(view: WatchView, collectionId: string): Promise<CollectionRights> {
    const { reader, lookups } = this.readerOf(view);
    const loaded = await reader;
    if (!loaded) return NO_RIGHTS;
    await loaded.load([collectionId], lookups);
    return loaded.rights(collectionId);
  }

  /**
   * Returns the event's object as the view may see it (granular markings applied), or
   * undefined when the view may not read the version.
   */
  async visibleJson(view: WatchView, event: EventRecord): Promise<string | undefined> {
    if (event.kind === 'deleted') return undefined;
    const { reader, lookups } = this.readerOf(view);
    const loaded = await reader;
    if (!loaded) return undefined;
    await loaded.load([event.collectionId], lookups);
    // A version hidden from the view only ever comes back as a `deleted` reference.
    if (!mayRead(loaded.caller, loaded.rights(event.collectionId), event.sharing)) return undefined;
    const seen = await loaded.view(event);
    return seen && seen.kind !== 'deleted' ? seen.json : undefined;
  }

  /**
   * Whether the view may read this version (`modified`, else `created`, as an alert records
   * it) of the object in the collection, by the same store filter as the view's reads.
   */
  async readsVersion(
    view: WatchView,
    collectionId: string,
    objectId: string,
    version: string,
  ): Promise<boolean> {
    const caller = await this.caller(view);
    if (!caller) return false;
    const rights = await this.rights(view, collectionId);
    if (!rights.canRead) return false;
    // The store keys versions as stix/validate.ts does: the sortable timestamp, '0' for none.
    const versionKey = version === '' ? '0' : timestampKey(version);
    if (versionKey === undefined) return false;
    const page = await this.store.queryObjects({
      collectionId,
      ids: [objectId],
      versions: { first: false, last: false, exact: [versionKey] },
      limit: 1,
      access: accessFilter(caller, rights),
    });
    return page.items.length > 0;
  }

  private allCollections(): Promise<CollectionRecord[]> {
    const now = Date.now();
    if (this.collections && this.collections.expires > now) return this.collections.value;
    const value = (async () => {
      const roots = await this.store.listApiRoots();
      const lists = await Promise.all(roots.map((root) => this.store.listCollections(root.name)));
      return lists.flat();
    })();
    this.collections = { value, expires: now + this.ttlMs };
    return value;
  }

  /** Returns the collections the view may read, each with its store access filter. */
  async readableCollections(view: WatchView): Promise<ReadableCollection[]> {
    const caller = await this.caller(view);
    if (!caller) return [];
    const readable: ReadableCollection[] = [];
    for (const collection of await this.allCollections()) {
      const rights = await this.rights(view, collection.id);
      if (rights.canRead) {
        readable.push({ collection, rights, filter: accessFilter(caller, rights) });
      }
    }
    return readable;
  }

  /** How many collections the view may read hold a visible version of the object (at least 1). */
  async sources(view: WatchView, objectId: string): Promise<number> {
    let count = 0;
    for (const { collection, filter } of await this.readableCollections(view)) {
      if (await this.store.hasObject(collection.id, objectId, filter)) count++;
    }
    return Math.max(1, count);
  }
}
