/**
 * SQL for version queries on PostgreSQL (TAXII 2.1 sections 3.4 and 5.3 to 5.8): which
 * object versions of a collection match the filters, in date_added order, one page at a
 * time.
 *
 * A query is split into arms, each reading one index in (collection, date_added) order and
 * stopping after `limit + 1` rows. Several arms are joined with UNION ALL under one ORDER BY
 * and LIMIT, which PostgreSQL runs as a Merge Append of the ordered index scans. The arms select
 * disjoint rows, so no row comes twice. A page of the latest versions thus reads about
 * `limit` entries however large the collection is.
 *
 * Filters that no index serves are checked row by row on an arm's range: spec versions,
 * exact versions, and type lists longer than MAX_TYPE_ARMS. The id filter looks each id up in
 * the (collection, id, version_key) index and sorts its matches, which are bounded by the
 * versions of the listed objects.
 *
 * The ordered index scan is what keeps a page's cost independent of the collection's size,
 * so pages run with sorts, sequential scans and bitmap scans disabled (ORDERED_SCANS). The
 * planner would otherwise pick a scan and sort whenever its row estimate for a collection
 * is low, which it is for a large collection among many small ones, and read every entry of
 * the large one. Id queries are left to the planner: they sort only the listed objects.
 * JIT compilation is off for pages too: the disabled plan types raise the estimated cost
 * of the whole statement above jit_above_cost, and compiling took longer than the page.
 *
 * The collection is named by its id and looked up inside the statement. When spec versions are requested, the lookup also checks that the collection
 * ever held one of them; otherwise the statement returns at once instead of scanning the
 * whole collection for rows that cannot match.
 */
import { createHash } from 'node:crypto';

import {
  AUDIENCES,
  LATEST_VERSION,
  type AccessFilter,
  type StoredVersion,
  type StoredVersionWithJson,
  type VersionQuery,
} from '../store.ts';
import type { Statement } from './connection.ts';

/** Starts the read-only transaction of a page query that must read indexes in order. */
export const ORDERED_SCANS =
  'BEGIN READ ONLY; SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off;' +
  ' SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off';

/** Maximum number of types that get one index arm each; longer lists are checked row by row. */
export const MAX_TYPE_ARMS = 8;

/** Builds a statement's text and values together, numbering parameters as they are added. */
class Parameters {
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder with a cast, so PostgreSQL knows its type. */
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/** Returns the access filter's widest audience as an index into AUDIENCES; -1 for none. */
export function widestIndex(access: AccessFilter): number {
  return access.widest === 'none' ? -1 : AUDIENCES.indexOf(access.widest);
}

/**
 * Returns the access rule of docs/sharing.md as SQL on the entry row `alias`: its audience
 * is within the reader's widest, or the reader contributed it, or it is a `recipients`
 * entry that names the reader and whose other TLP levels the reader meets.
 */
export function accessCondition(alias: string, widest: string, user: string): string {
  return (
    `(${alias}.audience <= ${widest} OR ${alias}.contributor_id = ${user} OR` +
    ` (${alias}.audience = 3 AND ${alias}.recipients_within <= ${widest}` +
    ' AND EXISTS (SELECT 1 FROM entry_recipients AS r' +
    ` WHERE r.collection_seq = ${alias}.collection_seq AND r.date_added = ${alias}.date_added` +
    ` AND r.user_id = ${user})))`
  );
}

function unique(values: string[] | undefined): string[] | undefined {
  return values === undefined ? undefined : [...new Set(values)];
}

/** One arm: its own conditions, ANDed with the conditions every arm shares. */
type Arm = readonly string[];

/** Arms over the flag indexes; each is the predicate of one partial index. */
const SINGLE: Arm = ['e.is_first', 'e.is_last'];
const FIRST_ONLY: Arm = ['e.is_first', 'NOT e.is_last'];
const LAST_ONLY: Arm = ['e.is_last', 'NOT e.is_first'];

const ENTRY_COLUMNS =
  'e.collection_seq, e.date_added, e.id, e.type, e.spec_version, e.version, e.version_key';

interface PageRow {
  id: string;
  type: string;
  spec_version: string;
  version: string;
  version_key: string;
  date_added: number;
}

interface ObjectRow extends PageRow {
  json: string;
  granular: boolean;
  contributed: boolean;
  recipient: boolean;
}

/**
 * Returns the statement of a version query, or undefined when nothing can match (an empty
 * id, type or spec version list, or a selector that selects nothing). The statement is
 * named after a hash of its text, so each shape is prepared once per connection.
 */
export function buildVersionQuery(
  query: VersionQuery,
  withJson: boolean,
): (Statement & { ordered: boolean }) | undefined {
  const selector = query.versions ?? LATEST_VERSION;
  const all = selector.all === true;
  const first = !all && selector.first;
  const last = !all && selector.last;
  const exact = all ? [] : (unique(selector.exact) ?? []);
  const ids = unique(query.ids);
  const types = unique(query.types);
  const specVersions = unique(query.specVersions);
  if (!all && !first && !last && exact.length === 0) return undefined;
  if (ids?.length === 0 || types?.length === 0 || specVersions?.length === 0) return undefined;

  const p = new Parameters();
  const collection = p.add(query.collectionId, 'text');
  const specs = specVersions && p.add(specVersions, 'text[]');
  const seq =
    '(SELECT seq FROM collections WHERE id = ' +
    collection +
    (specs ? ` AND spec_versions && ${specs})` : ')');
  const shared = [`e.collection_seq = ${seq}`, `e.date_added > ${p.add(after(query), 'bigint')}`];
  if (specs) shared.push(`e.spec_version = ANY (${specs})`);

  let widest: string | undefined;
  let user: string | undefined;
  if (query.access) {
    widest = p.add(widestIndex(query.access), 'integer');
    user = p.add(query.access.userId, 'text');
    shared.push(accessCondition('e', widest, user));
  }

  // The selector as one condition, for arms that are not tied to a flag index.
  const versionParts: string[] = [];
  if (first) {
    // A reader's first version is the oldest entry of the object that the reader sees.
    versionParts.push(
      widest && user
        ? '(e.is_first OR NOT EXISTS (SELECT 1 FROM collection_entries AS e2' +
            ' WHERE e2.collection_seq = e.collection_seq AND e2.id = e.id' +
            ` AND e2.version_key < e.version_key AND ${accessCondition('e2', widest, user)}))`
        : 'e.is_first',
    );
  }
  if (last) versionParts.push('e.is_last');
  if (exact.length > 0) versionParts.push(`e.version_key = ANY (${p.add(exact, 'text[]')})`);
  const versionCondition = all
    ? []
    : [versionParts.length === 1 ? versionParts[0]! : `(${versionParts.join(' OR ')})`];

  let arms: Arm[];
  if (ids !== undefined) {
    shared.push(`e.id = ANY (${p.add(ids, 'text[]')})`);
    if (types) shared.push(`e.type = ANY (${p.add(types, 'text[]')})`);
    arms = [versionCondition];
  } else if (types && types.length <= MAX_TYPE_ARMS) {
    arms = types.map((type) => [`e.type = ${p.add(type, 'text')}`, ...versionCondition]);
  } else {
    if (types) shared.push(`e.type = ANY (${p.add(types, 'text[]')})`);
    if (all || exact.length > 0 || (first && query.access)) arms = [versionCondition];
    else arms = [SINGLE, ...(first ? [FIRST_ONLY] : []), ...(last ? [LAST_ONLY] : [])];
  }

  const columns = withJson
    ? `${ENTRY_COLUMNS}, e.vid, e.granular, e.contributor_id`
    : ENTRY_COLUMNS;
  // Each arm stops after `limit` rows of its own. PostgreSQL 15 merges the arms of a UNION
  // ALL (Merge Append) only when each arm is ordered and limited itself.
  const limit = p.add(query.limit + 1, 'bigint');
  const selects = arms.map(
    (arm) =>
      `SELECT ${columns} FROM collection_entries AS e WHERE ${[...shared, ...arm].join(' AND ')}` +
      ` ORDER BY e.date_added LIMIT ${limit}`,
  );
  const page =
    selects.length === 1
      ? selects[0]!
      : `${selects.map((select) => `(${select})`).join(' UNION ALL ')} ORDER BY date_added LIMIT ${limit}`;

  let text = page;
  if (withJson) {
    // The JSON is joined after the page is cut, so rows past the limit are never read.
    const named = user
      ? `p.granular AND p.contributor_id = ${user} AS contributed, p.granular AND EXISTS` +
        ' (SELECT 1 FROM entry_recipients AS r WHERE r.collection_seq = p.collection_seq' +
        ` AND r.date_added = p.date_added AND r.user_id = ${user}) AS recipient`
      : 'p.granular AS contributed, p.granular AS recipient';
    text =
      'SELECT p.id, p.type, p.spec_version, p.version, p.version_key, p.date_added, o.json,' +
      ` p.granular, ${named} FROM (${page}) AS p JOIN object_versions AS o ON o.vid = p.vid` +
      ' ORDER BY p.date_added';
  }
  const name = `cairn_versions_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
  return { name, text, values: p.values, ordered: ids === undefined };
}

/**
 * Returns addedAfter as an integer for a bigint parameter. date_added values are integers,
 * so `date_added > x` equals `date_added > floor(x)`; values beyond any date_added are
 * clamped to what a bigint holds.
 */
function after(query: VersionQuery): number {
  if (query.addedAfter === undefined) return -1;
  return Math.min(Math.max(Math.floor(query.addedAfter), -1), Number.MAX_SAFE_INTEGER);
}

function stixMediaType(specVersion: string): string {
  return `application/stix+json;version=${specVersion}`;
}

export function toStoredVersion(row: PageRow): StoredVersion {
  return {
    id: row.id,
    type: row.type,
    specVersion: row.spec_version,
    version: row.version,
    versionKey: row.version_key,
    dateAdded: row.date_added,
    mediaType: stixMediaType(row.spec_version),
  };
}

export function toStoredVersionWithJson(row: ObjectRow): StoredVersionWithJson {
  return {
    ...toStoredVersion(row),
    json: row.json,
    granularMarkings: row.granular,
    // NULL when the reader has no contributor match on a granular entry.
    contributed: row.contributed === true,
    recipient: row.recipient === true,
  };
}

export type { ObjectRow, PageRow };
