/**
 * The current state of a stream's collections, sent after a `resync`. It is the newest
 * version of each object the reader may see, collection by collection (sorted by id), each
 * in TAXII order (date_added). Access and granular redaction are those of TAXII reads.
 */
import { type AccessLookups, type EventFilter, type EventReader } from '../events/filter.ts';
import { accessFilter } from '../sharing/access.ts';
import { redactGranular } from '../sharing/granular.ts';
import { objectTlp } from '../sharing/markings.ts';
import type { CollectionRecord, Store, TlpLevel } from '../store/store.ts';
import type { ReplayItem } from './wire.ts';

const PAGE = 500;

/** Lists the collections a stream covers that the reader may read, sorted by id. */
export async function streamCollections(
  store: Store,
  reader: EventReader,
  filter: EventFilter,
  lookups: AccessLookups,
): Promise<CollectionRecord[]> {
  let collections: CollectionRecord[];
  if (filter.collections) {
    const found = await Promise.all(filter.collections.map((id) => lookups.collection(id)));
    collections = found.filter((collection) => collection !== undefined);
  } else if (filter.communityId !== undefined) {
    collections = await store.listCommunityCollections(filter.communityId);
  } else {
    const roots = await store.listApiRoots();
    collections = (await Promise.all(roots.map((root) => store.listCollections(root.name)))).flat();
  }
  if (filter.communityId !== undefined) {
    collections = collections.filter((collection) => collection.communityId === filter.communityId);
  }
  await reader.load(
    collections.map((collection) => collection.id),
    lookups,
  );
  return collections
    .filter((collection) => reader.rights(collection.id).canRead)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Returns whether a replayed object passes the parts of the filter that read its content. */
function passesContent(filter: EventFilter, json: string, defaultTlp: TlpLevel | undefined) {
  if (!filter.tlp && !filter.labels && filter.minConfidence === undefined) return true;
  const object = JSON.parse(json) as Record<string, unknown>;
  if (filter.tlp) {
    let levels = objectTlp(object);
    if (levels.length === 0 && defaultTlp !== undefined) levels = [defaultTlp];
    if (!levels.some((level) => filter.tlp!.includes(level))) return false;
  }
  if (filter.labels) {
    const labels = Array.isArray(object.labels) ? (object.labels as unknown[]) : [];
    if (!labels.some((label) => filter.labels!.includes(label as string))) return false;
  }
  if (filter.minConfidence !== undefined) {
    const confidence = object.confidence;
    if (typeof confidence !== 'number' || confidence < filter.minConfidence) return false;
  }
  return true;
}

/**
 * Yields the current state page by page, so a large collection is never held in memory.
 * An unmarked object's TLP level for the `tlp` filter is the community's default now,
 * which may differ from the default when the object was added.
 */
export async function* replayState(
  store: Store,
  reader: EventReader,
  collections: CollectionRecord[],
  filter: EventFilter,
  lookups: AccessLookups,
): AsyncGenerator<ReplayItem> {
  for (const collection of collections) {
    const rights = reader.rights(collection.id);
    if (!rights.canRead) continue;
    const community =
      collection.communityId === undefined
        ? undefined
        : await lookups.community(collection.communityId);
    let addedAfter: number | undefined;
    for (;;) {
      const page = await store.queryObjects({
        collectionId: collection.id,
        ...(filter.types ? { types: filter.types } : {}),
        ...(addedAfter !== undefined ? { addedAfter } : {}),
        access: accessFilter(reader.caller, rights),
        limit: PAGE,
      });
      for (const item of page.items) {
        const json = item.granularMarkings
          ? redactGranular(item.json, {
              widest: rights.widest,
              contributed: item.contributed,
              recipient: item.recipient,
            })
          : item.json;
        if (!passesContent(filter, json, community?.defaultTlp)) continue;
        yield {
          collectionId: collection.id,
          ...(collection.communityId !== undefined ? { communityId: collection.communityId } : {}),
          id: item.id,
          type: item.type,
          specVersion: item.specVersion,
          version: item.version,
          dateAdded: item.dateAdded,
          json,
        };
      }
      if (!page.more) break;
      addedAfter = page.items.at(-1)!.dateAdded;
    }
  }
}
