/**
 * SQL for version queries (TAXII 2.1 sections 3.4 and 5.3 to 5.8): which object versions of
 * a collection match the filters, in date_added order, one page at a time.
 *
 * A query is split into arms, each walking one date_added-ordered index range. Several arms
 * are joined with UNION ALL under one ORDER BY, which SQLite runs as a merge of the sorted
 * arms (EXPLAIN QUERY PLAN shows MERGE). The arms of one query select disjoint rows, so the
 * merge never returns a row twice. Each statement stops after `limit + 1` rows, so a page
 * costs about the same on a large collection as on a small one when the arms' indexes
 * contain only matching rows, as the version-flag indexes do.
 *
 * Other filters are checked row by row on the arm's index range, so a page may read many
 * more rows than it returns when they reject most rows. A type arm skips the versions that
 * the selector leaves out. Spec versions, exact versions without an id filter, and type
 * lists longer than MAX_TYPE_ARMS are checked on each row. The id filter sorts its matches,
 * which are bounded by the versions of the listed objects.
 */
import { AUDIENCES, type AccessFilter, type VersionQuery } from '../store.ts';
import { idHash } from './id-hash.ts';

/**
 * Largest number of types that get one index arm each. Longer type lists are checked row by
 * row on the date_added scan instead, which is slower only when the types are rare.
 */
export const MAX_TYPE_ARMS = 8;

/** The parts of a query that change its SQL text; the values are bound as parameters. */
export interface QueryShape {
  withJson: boolean;
  /**
   * Filter by a list of ids, bound as a JSON array of [idHash(id), id] pairs. The list has no
   * repeats, because the SQL would return the versions of a repeated id twice.
   */
  ids: boolean;
  /** 0: no type filter, 1 to MAX_TYPE_ARMS: one arm per type, -1: a JSON array filter. */
  typeArms: number;
  specVersions: boolean;
  all: boolean;
  first: boolean;
  last: boolean;
  exact: boolean;
  /** Only versions the reader may see (see ACCESS_CONDITION). */
  access: boolean;
}

/** Named parameters of a version query statement. */
export interface QueryParameters {
  collection: number;
  after: number;
  limit: number;
  ids?: string;
  types?: string;
  specVersions?: string;
  exact?: string;
  widest?: number;
  user?: string;
  [typeParameter: `type${number}`]: string;
}

/**
 * Returns the access rule of docs/sharing.md as SQL on one entry row: its audience is
 * within the reader's widest (an index into AUDIENCES, -1 for none), or the reader
 * contributed it, or it is a `recipients` entry that names the reader and whose other TLP
 * levels the reader meets.
 */
function accessCondition(alias: string): string {
  return (
    `(${alias}.audience <= @widest OR ${alias}.contributor_id = @user OR` +
    ` (${alias}.audience = 3 AND ${alias}.recipients_within <= @widest` +
    ` AND EXISTS (SELECT 1 FROM entry_recipients AS r` +
    ` WHERE r.collection_seq = ${alias}.collection_seq AND r.date_added = ${alias}.date_added` +
    ` AND r.user_id = @user)))`
  );
}

export const ACCESS_CONDITION = accessCondition('e');

/**
 * `match[version]=first` for a reader: the oldest version of the object that the reader
 * sees. The collection's first version is that when it is visible; any other visible entry
 * is, when no older entry of the object is visible.
 */
const FIRST_VISIBLE =
  '(e.is_first = 1 OR NOT EXISTS (SELECT 1 FROM object_versions AS o2' +
  ' CROSS JOIN object_versions AS v2 ON v2.id_hash = o2.id_hash AND v2.id = o2.id' +
  ' CROSS JOIN collection_entries AS e2 INDEXED BY entries_by_vid' +
  ' ON e2.vid = v2.vid AND e2.collection_seq = e.collection_seq' +
  ` WHERE o2.vid = e.vid AND e2.version_key < e.version_key AND ${accessCondition('e2')}))`;

/** Returns the parameters of ACCESS_CONDITION for a filter. */
export function accessParameters(access: AccessFilter): { widest: number; user: string } {
  const widest = access.widest === 'none' ? -1 : AUDIENCES.indexOf(access.widest);
  return { widest, user: access.userId };
}

/** Values of a query after removing repeats; empty lists stay empty, meaning "none". */
interface NormalisedFilters {
  ids?: string[];
  types?: string[];
  specVersions?: string[];
  exact: string[];
}

function unique(values: string[] | undefined): string[] | undefined {
  return values === undefined ? undefined : [...new Set(values)];
}

/** The collection values that a query plan depends on. */
export interface CollectionSummary {
  seq: number;
  /** Every spec version added to the collection; deletes leave it unchanged. */
  specVersions: string[];
}

/**
 * Returns the spec versions a query must still check row by row: none (undefined) when
 * every spec version in the collection is requested, and an empty list when none is. The
 * two common cases thus cost nothing, where a row-by-row check of a spec version absent from
 * the collection would read the whole collection to return an empty page.
 */
function narrowSpecVersions(
  requested: string[] | undefined,
  present: string[],
): string[] | undefined {
  if (requested === undefined) return undefined;
  if (present.every((specVersion) => requested.includes(specVersion))) return undefined;

  return requested.filter((specVersion) => present.includes(specVersion));
}

/**
 * Returns the shape and parameters of a query, or undefined when nothing can match (an
 * empty id, type or spec version list, or a version selector that selects nothing).
 */
export function planQuery(
  query: VersionQuery,
  collection: CollectionSummary,
  withJson: boolean,
): { shape: QueryShape; parameters: QueryParameters } | undefined {
  const selector = query.versions ?? { first: false, last: true, exact: [] };
  const filters: NormalisedFilters = {
    ids: unique(query.ids),
    types: unique(query.types),
    specVersions: narrowSpecVersions(unique(query.specVersions), collection.specVersions),
    exact: selector.all === true ? [] : (unique(selector.exact) ?? []),
  };
  const all = selector.all === true;
  const first = !all && selector.first;
  const last = !all && selector.last;
  const exact = filters.exact.length > 0;

  if (!all && !first && !last && !exact) return undefined;
  if (filters.ids?.length === 0 || filters.types?.length === 0) return undefined;
  if (filters.specVersions?.length === 0) return undefined;

  const typeCount = filters.types?.length ?? 0;
  const typeArms = typeCount <= MAX_TYPE_ARMS ? typeCount : -1;
  const shape: QueryShape = {
    withJson,
    ids: filters.ids !== undefined,
    typeArms: filters.ids !== undefined && typeCount > 0 ? -1 : typeArms,
    specVersions: filters.specVersions !== undefined,
    all,
    first,
    last,
    exact,
    access: query.access !== undefined,
  };

  const parameters: QueryParameters = {
    collection: collection.seq,
    after: query.addedAfter ?? -1,
    limit: query.limit + 1,
  };
  if (filters.ids) parameters.ids = JSON.stringify(filters.ids.map((id) => [idHash(id), id]));
  if (filters.specVersions) parameters.specVersions = JSON.stringify(filters.specVersions);
  if (exact) parameters.exact = JSON.stringify(filters.exact);
  if (query.access) Object.assign(parameters, accessParameters(query.access));
  if (shape.typeArms === -1) parameters.types = JSON.stringify(filters.types);
  for (let i = 0; i < shape.typeArms; i++) parameters[`type${i}`] = filters.types![i]!;

  return { shape, parameters };
}

/** Returns the cache key of a shape. Equal keys give equal SQL. */
export function shapeKey(shape: QueryShape): string {
  return JSON.stringify(shape);
}

/** Columns named after the StoredVersion properties, so rows need no mapping. */
const VERSION_COLUMNS =
  'e.id, e.type, e.spec_version AS specVersion, e.version, e.version_key AS versionKey,' +
  ' e.date_added AS dateAdded, e.media_type AS mediaType';

/** One arm: the tables it reads and its own conditions, ANDed with the shared ones. */
interface Arm {
  from: string;
  conditions: readonly string[];
}

/** The version selector as one condition on an entry row, for arms not tied to a flag. */
function versionCondition(shape: QueryShape): string | undefined {
  if (shape.all) return undefined;

  const parts: string[] = [];
  if (shape.first) parts.push(shape.access ? FIRST_VISIBLE : 'e.is_first = 1');
  if (shape.last) parts.push('e.is_last = 1');
  if (shape.exact) parts.push('e.version_key IN (SELECT value FROM json_each(@exact))');
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

/**
 * Version-flag indexes, which partition the first and last versions: every object has
 * exactly one single-version entry, or one first-only and one last-only entry.
 */
const FLAG_ARMS = {
  single: {
    from: 'collection_entries AS e INDEXED BY entries_single',
    conditions: ['e.is_first = 1', 'e.is_last = 1'],
  },
  firstOnly: {
    from: 'collection_entries AS e INDEXED BY entries_first_only',
    conditions: ['e.is_first = 1', 'e.is_last = 0'],
  },
  lastOnly: {
    from: 'collection_entries AS e INDEXED BY entries_last_only',
    conditions: ['e.is_first = 0', 'e.is_last = 1'],
  },
} as const satisfies Record<string, Arm>;

/** Builds the arms that walk the whole collection in date_added order. */
function collectionArms(shape: QueryShape): Arm[] {
  // A reader's first version may be any entry, so it cannot use the first-version indexes.
  if (shape.all || shape.exact || (shape.first && shape.access)) {
    const conditions = [versionCondition(shape)].filter(isDefined);
    return [{ from: 'collection_entries AS e', conditions }];
  }

  const arms: Arm[] = [FLAG_ARMS.single];
  if (shape.first) arms.push(FLAG_ARMS.firstOnly);
  if (shape.last) arms.push(FLAG_ARMS.lastOnly);
  return arms;
}

/** Builds one arm per type, each walking the type index in date_added order. */
function typeArms(shape: QueryShape): Arm[] {
  const condition = versionCondition(shape);
  return Array.from({ length: shape.typeArms }, (_, i) => ({
    from: 'collection_entries AS e INDEXED BY entries_by_type',
    conditions: [`e.type = @type${i}`, condition].filter(isDefined),
  }));
}

/** Builds the single arm of an id query, which looks up each id and then its entries. */
function idArm(shape: QueryShape): Arm {
  return {
    from:
      '(SELECT value ->> 0 AS id_hash, value ->> 1 AS id FROM json_each(@ids))' +
      ' AS wanted CROSS JOIN object_versions AS v' +
      ' ON v.id_hash = wanted.id_hash AND v.id = wanted.id' +
      ' CROSS JOIN collection_entries AS e INDEXED BY entries_by_vid' +
      ' ON e.vid = v.vid AND e.collection_seq = @collection',
    conditions: [versionCondition(shape)].filter(isDefined),
  };
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/**
 * Builds the SQL text of a shape. Its rows are StoredVersion objects, with json on request.
 * The JSON is joined after the page is cut, so rows that the limit drops are never read.
 */
export function buildQuerySql(shape: QueryShape): string {
  let arms: Arm[];
  if (shape.ids) arms = [idArm(shape)];
  else if (shape.typeArms > 0) arms = typeArms(shape);
  else arms = collectionArms(shape);

  const shared = ['e.collection_seq = @collection', 'e.date_added > @after'];
  if (shape.typeArms === -1) shared.push('e.type IN (SELECT value FROM json_each(@types))');
  if (shape.specVersions) {
    shared.push('e.spec_version IN (SELECT value FROM json_each(@specVersions))');
  }
  if (shape.access) shared.push(ACCESS_CONDITION);

  const columns = shape.withJson
    ? `${VERSION_COLUMNS}, e.vid, e.granular, e.contributor_id AS contributorId`
    : VERSION_COLUMNS;
  const selects = arms.map(
    (arm) =>
      `SELECT ${columns} FROM ${arm.from} WHERE ${[...shared, ...arm.conditions].join(' AND ')}`,
  );
  const page = `${selects.join(' UNION ALL ')} ORDER BY dateAdded LIMIT @limit`;
  if (!shape.withJson) return page;

  return (
    'SELECT p.id, p.type, p.specVersion, p.version, p.versionKey, p.dateAdded, p.mediaType,' +
    ` p.granular, p.contributorId, o.json FROM (${page}) AS p CROSS JOIN object_versions AS o ON o.vid = p.vid` +
    ' ORDER BY p.dateAdded'
  );
}
