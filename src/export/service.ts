/**
 * Exports as the API serves them: of one collection, or of a saved export (a named filter
 * over several collections, stored as a document of kind `export`), always limited to what
 * the caller may read. Collections the caller may not read are not found.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Caller } from '../auth/tokens.ts';
import { OBSERVABLE_TYPES } from '../correlation/observables.ts';
import { CairnError } from '../errors.ts';
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import {
  accessFilter,
  collectionRights,
  isVisible,
  loadCollectionContext,
} from '../sharing/access.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { CollectionRecord, Store } from '../store/store.ts';
import {
  BLOCKLIST_TYPES,
  EXPORT_FORMATS,
  exportFeed,
  type ExportFormat,
  type Feed,
} from './feeds.ts';
import { checkSidRange, DEFAULT_SID_RANGE } from './rules.ts';
import type { CollectionSource } from './selection.ts';

export const EXPORT_DOCUMENT = 'export';

/** What a feed request may set; a saved export stores the same. */
export const FeedQuery = z.strictObject({
  /** For blocklists: ip, ipv4, ipv6, domain, url, email, hash, md5, sha1, sha256, sha512. */
  type: z.enum(Object.keys(BLOCKLIST_TYPES) as [string, ...string[]]).optional(),
  min_score: z.coerce.number().min(0).max(100).optional(),
  sid_start: z.coerce.number().int().min(1).max(0xffffffff).optional(),
  sid_end: z.coerce.number().int().min(1).max(0xffffffff).optional(),
});
export type FeedQuery = z.infer<typeof FeedQuery>;

export const NewSavedExport = z.strictObject({
  name: z.string().trim().min(1).max(200),
  /** Collection ids. */
  collections: z.array(z.uuid()).min(1).max(100),
  /** Observable types written; all when absent. */
  types: z.array(z.enum(OBSERVABLE_TYPES)).min(1).optional(),
  minScore: z.number().min(0).max(100).default(0),
  sidStart: z.number().int().min(1).max(0xffffffff).optional(),
  sidEnd: z.number().int().min(1).max(0xffffffff).optional(),
});

export interface SavedExport extends z.output<typeof NewSavedExport> {
  id: string;
  organisationId: string;
  createdBy: string;
}

/** Resolves a collection the caller may read, by id or by alias in the default API root. */
export async function readableCollection(
  store: Store,
  caller: Caller,
  reference: string,
  defaultApiRoot: string,
): Promise<CollectionSource & { collection: CollectionRecord }> {
  const collection =
    (await store.getCollectionById(reference)) ??
    (await store.getCollection(defaultApiRoot, reference));
  const rights = collection
    ? collectionRights(caller, await loadCollectionContext(store, caller, collection))
    : undefined;
  if (!collection || !rights || !isVisible(rights)) {
    throw new CairnError('not-found', `collection "${reference}" not found`);
  }
  if (!rights.canRead) {
    throw new CairnError('forbidden', `you may not read collection "${reference}"`);
  }
  return { collection, collectionId: collection.id, access: accessFilter(caller, rights) };
}

export function parseFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CairnError(
      'not-found',
      `export format "${format}" is unknown: use one of ${EXPORT_FORMATS.join(', ')}`,
    );
  }
  return format as ExportFormat;
}

/** Builds a feed over collections the caller reads, with the query's filters. */
export function feedFor(
  store: Store,
  format: ExportFormat,
  collections: CollectionSource[],
  query: FeedQuery & { types?: readonly (typeof OBSERVABLE_TYPES)[number][] },
  profile: string,
  title: string,
  warninglists?: WarninglistLookup,
): Feed {
  if (format === 'blocklist' && query.type === undefined && query.types === undefined) {
    throw new CairnError(
      'invalid-parameter',
      `a blocklist needs type=: one of ${Object.keys(BLOCKLIST_TYPES).join(', ')}`,
    );
  }
  const types = query.type !== undefined ? BLOCKLIST_TYPES[query.type] : query.types;
  const sidRange = checkSidRange({
    start: query.sid_start ?? DEFAULT_SID_RANGE.start,
    end: query.sid_end ?? DEFAULT_SID_RANGE.end,
  });
  return exportFeed(store, {
    format,
    profile,
    title,
    sidRange,
    selection: {
      collections,
      minScore: query.min_score ?? 0,
      now: nowMicros(),
      ...(warninglists ? { warninglists } : {}),
      ...(types ? { types } : {}),
    },
  });
}

export async function createSavedExport(
  store: Store,
  caller: Caller,
  input: z.input<typeof NewSavedExport>,
  defaultApiRoot: string,
): Promise<SavedExport> {
  const parsed = NewSavedExport.parse(input);
  for (const id of parsed.collections) await readableCollection(store, caller, id, defaultApiRoot);
  const saved: SavedExport = {
    ...parsed,
    id: randomUUID(),
    organisationId: caller.user.organisationId,
    createdBy: caller.user.id,
  };
  await store.putDocument(
    {
      kind: EXPORT_DOCUMENT,
      id: saved.id,
      owner: saved.createdBy,
      body: JSON.stringify(saved),
    },
    0,
  );
  return saved;
}

/** A saved export of the caller (platform admins: any), or 404. */
export async function findSavedExport(
  store: Store,
  caller: Caller,
  id: string,
): Promise<SavedExport> {
  const document = await store.getDocument(EXPORT_DOCUMENT, id);
  const mine =
    document && (document.owner === caller.user.id || caller.user.role === 'platform-admin');
  if (!document || !mine) throw new CairnError('not-found', `saved export ${id} not found`);
  return JSON.parse(document.body) as SavedExport;
}

export async function listSavedExports(store: Store, caller: Caller): Promise<SavedExport[]> {
  const documents = await store.listDocuments({
    kind: EXPORT_DOCUMENT,
    owner: caller.user.id,
    limit: 1000,
  });
  return documents.map((document) => JSON.parse(document.body) as SavedExport);
}
