/**
 * The events a subscriber of the event log receives. A filter selects them by collection,
 * community, STIX type, label, TLP level and minimum confidence. A per-event access check
 * applies the rules of docs/sharing.md to one caller, through the same functions as TAXII
 * reads (src/sharing/access.ts), and redacts granular markings as TAXII does.
 */
import type { Caller } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import {
  accessFilter,
  collectionRights,
  mayRead,
  NO_RIGHTS,
  type CollectionRights,
} from '../sharing/access.ts';
import { redactGranular } from '../sharing/granular.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type {
  CollectionRecord,
  CommunityRecord,
  CommunityRelation,
  EventKind,
  EventRecord,
  Store,
  TlpLevel,
} from '../store/store.ts';

export const TLP_LEVELS: readonly TlpLevel[] = ['clear', 'green', 'amber', 'amber+strict', 'red'];

/** Maximum number of values in one list of a filter. */
export const MAX_FILTER_VALUES = 100;

/** Conditions on events; every given condition must hold, values within one are ORed. */
export interface EventFilter {
  /** Only events of these collections (ids). */
  collections?: string[];
  /** Only events of collections owned by this community. */
  communityId?: string;
  /** Only objects of these STIX types. */
  types?: string[];
  /** Only objects with at least one of these labels. */
  labels?: string[];
  /** Only versions marked with at least one of these TLP levels. */
  tlp?: TlpLevel[];
  /** Only objects whose `confidence` is at least this (0 to 100). */
  minConfidence?: number;
}

function invalid(message: string): CairnError {
  return new CairnError('invalid-parameter', message);
}

/** The names of the filter fields in one input form (query string or JSON), for messages. */
export interface FilterFieldNames {
  collections: string;
  communityId: string;
  types: string;
  labels: string;
  tlp: string;
  minConfidence: string;
}

/**
 * Filter values as an input form gives them: lists split into entries, each field present
 * only when the input has it. `minConfidence` is a number when the input contains one, and
 * otherwise the raw value, which is rejected.
 */
export interface FilterValues {
  collections?: string[];
  communityId?: string;
  types?: string[];
  labels?: string[];
  tlp?: string[];
  minConfidence?: unknown;
}

const STIX_TYPE = /^[a-z0-9][a-z0-9-]{1,249}$/;

/**
 * Checks filter values from a query string or a JSON body and returns the filter. Each list
 * has 1 to MAX_FILTER_VALUES entries of at most 250 characters, and repeats are dropped.
 * Types have the STIX type form, TLP levels are read in any case with or without `tlp:`,
 * and the confidence is an integer from 0 to 100. Messages name fields as `names` gives.
 */
export function checkFilterValues(values: FilterValues, names: FilterFieldNames): EventFilter {
  const filter: EventFilter = {};
  if (values.collections) filter.collections = checkList(values.collections, names.collections);
  if (values.communityId !== undefined) filter.communityId = values.communityId;

  if (values.types) {
    const types = checkList(values.types, names.types);
    const wrong = types.find((type) => !STIX_TYPE.test(type));
    if (wrong !== undefined) {
      throw invalid(
        `${names.types} value "${wrong.slice(0, 60)}" is not a STIX type such as indicator`,
      );
    }
    filter.types = types;
  }
  if (values.labels) filter.labels = checkList(values.labels, names.labels);

  if (values.tlp) {
    const levels = checkList(values.tlp, names.tlp).map((level) =>
      level.toLowerCase().replace(/^tlp:/, ''),
    );
    const wrong = levels.find((level) => !TLP_LEVELS.includes(level as TlpLevel));
    if (wrong !== undefined) {
      throw invalid(
        `${names.tlp} value "${wrong.slice(0, 40)}" is not one of ${TLP_LEVELS.join(', ')}`,
      );
    }
    filter.tlp = [...new Set(levels)] as TlpLevel[];
  }

  if (values.minConfidence !== undefined) {
    const value = values.minConfidence;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
      throw invalid(
        `${names.minConfidence} ${JSON.stringify(value).slice(0, 22)} is not valid: send an integer from 0 to 100`,
      );
    }
    filter.minConfidence = value;
  }
  return filter;
}

/** Checks the length of a list and of its entries; returns it without repeats. */
function checkList(values: string[], name: string): string[] {
  if (values.length === 0) {
    throw invalid(`${name} is empty: give at least one value, or leave it out`);
  }
  if (values.length > MAX_FILTER_VALUES) {
    throw invalid(`${name} has ${values.length} values: send at most ${MAX_FILTER_VALUES}`);
  }
  const tooLong = values.find((value) => value.length > 250);
  if (tooLong !== undefined) {
    throw invalid(`${name} value "${tooLong.slice(0, 40)}…" is longer than 250 characters`);
  }
  return [...new Set(values)];
}

/**
 * Splits a query parameter given once with commas or several times. Empty parts between
 * commas are dropped, so a parameter of commas only gives an empty list, which
 * checkFilterValues rejects.
 */
function listParameter(params: URLSearchParams, name: string): string[] | undefined {
  if (!params.has(name)) return undefined;
  return params
    .getAll(name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

/**
 * Returns the value of a query parameter that takes one value, or undefined when it is
 * absent. A repeated or empty parameter is rejected.
 */
export function singleParameter(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length === 0) return undefined;
  if (values.length > 1) {
    throw invalid(`${name} is given ${values.length} times: give it once`);
  }
  if (values[0] === '') {
    throw invalid(`${name} is empty: give a value, or leave the parameter out`);
  }
  return values[0];
}

/** The query parameter of each filter field. */
const QUERY_NAMES: FilterFieldNames = {
  collections: 'collections',
  communityId: 'community',
  types: 'types',
  labels: 'labels',
  tlp: 'tlp',
  minConfidence: 'min_confidence',
};

/**
 * Reads a filter from query parameters: `collections`, `community`, `types`, `labels`,
 * `tlp` (comma-separated or repeated) and `min_confidence`. Unknown parameters are left to
 * the caller.
 */
export function filterFromQuery(params: URLSearchParams): EventFilter {
  const values: FilterValues = {};
  for (const field of ['collections', 'types', 'labels', 'tlp'] as const) {
    const list = listParameter(params, QUERY_NAMES[field]);
    if (list !== undefined) values[field] = list;
  }
  const community = singleParameter(params, QUERY_NAMES.communityId);
  if (community !== undefined) values.communityId = community;
  const confidence = singleParameter(params, QUERY_NAMES.minConfidence);
  if (confidence !== undefined) {
    // Only plain decimal digits: Number() would also take " 50", "1e1", "0x10" and "0b1".
    values.minConfidence = /^[0-9]{1,3}$/.test(confidence) ? Number(confidence) : confidence;
  }
  return checkFilterValues(values, QUERY_NAMES);
}

/** The properties of an object version that filters read, parsed once per event. */
interface Content {
  labels: readonly unknown[];
  confidence: number | undefined;
}

const contents = new WeakMap<EventRecord, Content>();

function contentOf(event: EventRecord, json: string): Content {
  let content = contents.get(event);
  if (content === undefined) {
    const object = JSON.parse(json) as { labels?: unknown; confidence?: unknown };
    content = {
      labels: Array.isArray(object.labels) ? object.labels : [],
      confidence: typeof object.confidence === 'number' ? object.confidence : undefined,
    };
    contents.set(event, content);
  }
  return content;
}

/** Returns whether the event's collection, community and STIX type pass the filter. */
export function matchesScope(filter: EventFilter, event: EventRecord): boolean {
  if (filter.collections && !filter.collections.includes(event.collectionId)) return false;
  if (filter.communityId !== undefined && filter.communityId !== event.communityId) return false;
  return !filter.types || filter.types.includes(event.objectType);
}

/**
 * Returns whether an event passes the filter. A delete carries no object, so the label and
 * confidence conditions do not apply to it: a subscriber who received the object learns
 * that it is gone.
 */
export function matchesFilter(filter: EventFilter, event: EventRecord): boolean {
  if (!matchesScope(filter, event)) return false;
  if (filter.tlp && !event.sharing.tlp.some((level) => filter.tlp!.includes(level))) return false;
  if (event.json === undefined) return true;
  if (filter.labels === undefined && filter.minConfidence === undefined) return true;

  const content = contentOf(event, event.json);
  if (filter.labels && !content.labels.some((label) => filter.labels!.includes(label as string))) {
    return false;
  }
  if (filter.minConfidence !== undefined) {
    return content.confidence !== undefined && content.confidence >= filter.minConfidence;
  }
  return true;
}

/** The part of an event that one reader receives. */
export interface EventView {
  event: EventRecord;
  /** `deleted` also when a version the reader cannot see hides the object (`leftView`). */
  kind: EventKind;
  /**
   * The reader could see the object, but its newest version is hidden from them, so the
   * object left their view, as it leaves a TAXII `match[version]=last` read.
   */
  leftView: boolean;
  /** The version as the reader may see it; absent for deletes. */
  json?: string;
  /** Whether granular markings changed `json`, so it differs from the stored version. */
  redacted: boolean;
}

/**
 * Community records and relations read during one access check round, shared by the
 * readers checked in that round so that a thousand subscribers of one community cost one
 * look-up each.
 */
export class AccessLookups {
  readonly #store: Store;
  readonly #collections = new Map<string, Promise<CollectionRecord | undefined>>();
  readonly #communities = new Map<string, Promise<CommunityRecord | undefined>>();
  readonly #relations = new Map<string, Promise<CommunityRelation>>();

  constructor(store: Store) {
    this.#store = store;
  }

  collection(id: string): Promise<CollectionRecord | undefined> {
    return cached(this.#collections, id, () => this.#store.getCollectionById(id));
  }

  community(id: string): Promise<CommunityRecord | undefined> {
    return cached(this.#communities, id, () => this.#store.getCommunity(id));
  }

  relation(communityId: string, organisationId: string): Promise<CommunityRelation> {
    return cached(this.#relations, `${communityId} ${organisationId}`, () =>
      this.#store.communityRelation(communityId, organisationId),
    );
  }
}

function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let value = map.get(key);
  if (value === undefined) {
    value = load();
    map.set(key, value);
  }
  return value;
}

/** Why a reader may read no more: its token or user is no longer valid. */
export type ReaderEnd = 'token-revoked' | 'token-expired' | 'user-disabled';

/**
 * The access of one caller to events: its rights on each collection, loaded before use and
 * reloaded by `refresh`, so that a change of the reader's membership or token applies at
 * the next refresh. `view` is synchronous for every event but a hidden newer version,
 * which needs a store read.
 */
export class EventReader {
  readonly #store: Store;
  #caller: Caller;
  #onRights: ((collectionId: string, rights: CollectionRights) => void) | undefined;
  #rights = new Map<string, CollectionRights>();

  constructor(store: Store, caller: Caller) {
    this.#store = store;
    this.#caller = caller;
  }

  get caller(): Caller {
    return this.#caller;
  }

  /** Returns the loaded rights on a collection; NO_RIGHTS when unknown or not loaded. */
  rights(collectionId: string): CollectionRights {
    return this.#rights.get(collectionId) ?? NO_RIGHTS;
  }

  /** Returns whether rights on the collection are loaded. */
  knows(collectionId: string): boolean {
    return this.#rights.has(collectionId);
  }

  /** Loads the rights on collections not loaded yet. */
  async load(collectionIds: Iterable<string>, lookups: AccessLookups): Promise<void> {
    for (const id of collectionIds) {
      if (this.#rights.has(id)) continue;
      const rights = await this.#loadRights(id, lookups);
      // Another load may have finished meanwhile; the first result stands.
      if (this.#rights.has(id)) continue;
      this.#rights.set(id, rights);
      this.#onRights?.(id, rights);
    }
  }

  /** Calls `listener` with the rights on each collection whenever they are loaded or reloaded. */
  onRights(listener: (collectionId: string, rights: CollectionRights) => void): void {
    this.#onRights = listener;
    for (const [id, rights] of this.#rights) listener(id, rights);
  }

  /** The ids of the collections whose rights are loaded. */
  knownCollections(): IterableIterator<string> {
    return this.#rights.keys();
  }

  async #loadRights(collectionId: string, lookups: AccessLookups): Promise<CollectionRights> {
    const collection = await lookups.collection(collectionId);
    if (collection === undefined) return NO_RIGHTS;
    const communityId = collection.communityId;
    const community = communityId === undefined ? undefined : await lookups.community(communityId);
    const relation =
      community === undefined
        ? { member: false, client: false }
        : await lookups.relation(community.id, this.#caller.user.organisationId);
    return collectionRights(this.#caller, {
      collection,
      ...(community ? { community } : {}),
      relation,
    });
  }

  /**
   * Reloads the token and the user, and with `rights` the rights on every loaded collection.
   * Returns why the reader must stop, or undefined when it may go on.
   */
  async refresh(lookups: AccessLookups, rights = true): Promise<ReaderEnd | undefined> {
    const [token, user] = await Promise.all([
      this.#store.getToken(this.#caller.token.id),
      this.#store.getUser(this.#caller.user.id),
    ]);
    if (token === undefined || token.revokedAt !== undefined) return 'token-revoked';
    if (token.expiresAt !== undefined && token.expiresAt <= nowMicros()) return 'token-expired';
    if (user === undefined || user.disabled) return 'user-disabled';
    this.#caller = { user, token };
    if (!rights) return undefined;

    // The new rights replace the old ones in one step, so that events checked meanwhile
    // still meet loaded rights.
    const fresh = new Map<string, CollectionRights>();
    for (const id of this.#rights.keys()) fresh.set(id, await this.#loadRights(id, lookups));
    this.#rights = fresh;
    for (const [id, collectionRights] of fresh) this.#onRights?.(id, collectionRights);
    return undefined;
  }

  /**
   * Returns what the reader receives of an event, or undefined when nothing. Load the rights
   * on the event's collection first. A hidden version reaches the reader only as a `deleted`
   * reference, when it is the newest version of an object of which the reader may read older
   * versions. That case needs a store read, so its answer comes as a promise.
   */
  view(event: EventRecord): EventView | undefined | Promise<EventView | undefined> {
    const rights = this.rights(event.collectionId);
    if (!rights.canRead) return undefined;
    if (mayRead(this.#caller, rights, event.sharing)) return this.#visible(event, rights);
    // A first version has no older one in the collection, and a hidden delete removes
    // nothing the reader saw.
    if (event.kind === 'created' || event.kind === 'deleted') return undefined;
    return this.#leftView(event, rights);
  }

  #visible(event: EventRecord, rights: CollectionRights): EventView {
    const view: EventView = { event, kind: event.kind, leftView: false, redacted: false };
    if (event.json === undefined) return view;
    view.json = event.json;
    if (event.sharing.granularMarkings) {
      const userId = this.#caller.user.id;
      view.json = redactGranular(event.json, {
        widest: rights.widest,
        contributed: event.sharing.contributorId === userId,
        recipient: event.sharing.recipients.includes(userId),
      });
      view.redacted = view.json !== event.json;
    }
    return view;
  }

  async #leftView(event: EventRecord, rights: CollectionRights): Promise<EventView | undefined> {
    const visible = await this.#store.queryManifest({
      collectionId: event.collectionId,
      ids: [event.objectId],
      versions: { all: true },
      access: accessFilter(this.#caller, rights),
      limit: 10_000,
    });
    if (visible.items.length === 0) return undefined;
    if (visible.items.some((item) => item.versionKey > event.versionKey)) return undefined;
    return { event, kind: 'deleted', leftView: true, redacted: false };
  }
}
