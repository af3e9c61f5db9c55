/**
 * Object versions of collections on SQLite: add, query, delete and count (TAXII 2.1
 * sections 5.3 to 5.8). The schema is described in schema.ts.
 */
import type Database from 'better-sqlite3';

import { nowMicros } from '../../stix/timestamp.ts';
import {
  AUDIENCES,
  type AccessFilter,
  type AddResult,
  type ConvertedAddResult,
  type ConvertedRejection,
  type EntrySharing,
  type Page,
  type PreparedObject,
  type StoredVersion,
  type StoredVersionWithJson,
  type VersionQuery,
  type VersionSelector,
} from '../store.ts';
import { heldRestrictedMessage } from '../checks.ts';
import { EventAppender, isRevoked } from './event-log.ts';
import { idHash } from './id-hash.ts';
import type { StatementCache } from './statements.ts';
import {
  ACCESS_CONDITION,
  accessParameters,
  buildQuerySql,
  planQuery,
  shapeKey,
} from './version-query.ts';

/**
 * Returns the widest audience (an index into AUDIENCES, -1 for none) that users of
 * @organisation read in the collection `c`, by the rights table of docs/sharing.md:
 * members read `members`, clients of a member `members-and-clients`. Other readers see no
 * AMBER, AMBER+STRICT or RED version, so they get -1.
 */
const ORGANISATION_WIDEST =
  '(CASE WHEN c.community_id IS NULL THEN -1' +
  ' WHEN EXISTS (SELECT 1 FROM community_members AS m' +
  '   WHERE m.community_id = c.community_id AND m.organisation_id = @organisation) THEN 2' +
  ' WHEN EXISTS (SELECT 1 FROM organisation_clients AS p CROSS JOIN community_members AS m' +
  '   ON m.organisation_id = p.provider_id AND m.community_id = c.community_id' +
  '   WHERE p.client_id = @organisation) THEN 1' +
  ' ELSE -1 END)';

/**
 * Returns the join and WHERE clause that keep the entries `e` that make an object held:
 * entries in a collection of another community than @community, contributed by another
 * organisation than @organisation, with a TLP level that forbids re-sharing. Only entries
 * that users of @organisation may read through its memberships count (a RED entry when it
 * names one of them), so the check reveals nothing about the others.
 */
function heldCondition(): string {
  return (
    'JOIN collections AS c ON c.seq = e.collection_seq' +
    ' WHERE c.community_id IS NOT @community' +
    ' AND e.contributor_organisation_id IS NOT @organisation' +
    " AND (',' || e.tlp || ',' GLOB '*,amber,*' OR ',' || e.tlp || ',' GLOB '*,amber+strict,*'" +
    "   OR ',' || e.tlp || ',' GLOB '*,red,*')" +
    ` AND (e.audience <= ${ORGANISATION_WIDEST}` +
    `   OR (e.audience = 3 AND e.recipients_within <= ${ORGANISATION_WIDEST}` +
    '     AND EXISTS (SELECT 1 FROM entry_recipients AS r CROSS JOIN users AS u' +
    '       ON u.id = r.user_id AND u.organisation_id = @organisation' +
    '       WHERE r.collection_seq = e.collection_seq AND r.date_added = e.date_added)))'
  );
}

const SQL = {
  collection:
    'SELECT seq, id, community_id, last_date_added, spec_versions FROM collections WHERE id = ?',
  setHighWater: 'UPDATE collections SET last_date_added = ? WHERE seq = ?',
  setSpecVersions: 'UPDATE collections SET spec_versions = ? WHERE seq = ?',
  // Every stored version of one object, with its entry in the collection when it has one.
  versionsOfObject:
    'SELECT v.vid, v.version_key, e.date_added, e.spec_version, e.is_first, e.is_last' +
    ' FROM object_versions AS v LEFT JOIN collection_entries AS e INDEXED BY entries_by_vid' +
    ' ON e.vid = v.vid AND e.collection_seq = ? WHERE v.id_hash = ? AND v.id = ?',
  insertJson: 'INSERT INTO object_versions (id_hash, id, version_key, json) VALUES (?, ?, ?, ?)',
  jsonOf: 'SELECT json FROM object_versions WHERE vid = ?',
  setFirst:
    'UPDATE collection_entries SET is_first = ? WHERE collection_seq = ? AND date_added = ?',
  setLast: 'UPDATE collection_entries SET is_last = ? WHERE collection_seq = ? AND date_added = ?',
  insertEntry:
    'INSERT INTO collection_entries (collection_seq, date_added, id, version, version_key,' +
    ' type, spec_version, media_type, is_first, is_last, vid, audience, contributor_id,' +
    ' contributor_organisation_id, tlp, granular, recipients_within)' +
    ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  insertRecipient: 'INSERT OR IGNORE INTO entry_recipients VALUES (?, ?, ?)',
  isRecipient:
    'SELECT 1 FROM entry_recipients WHERE collection_seq = ? AND date_added = ? AND user_id = ?',
  deleteEntry: 'DELETE FROM collection_entries WHERE collection_seq = ? AND date_added = ?',
  deleteRecipients: 'DELETE FROM entry_recipients WHERE collection_seq = ? AND date_added = ?',
  deleteOrphanJson:
    'DELETE FROM object_versions WHERE vid = ?' +
    ' AND NOT EXISTS (SELECT 1 FROM collection_entries WHERE vid = ?)',
  hasObject:
    'SELECT 1 FROM object_versions AS v CROSS JOIN collection_entries AS e' +
    ' INDEXED BY entries_by_vid ON e.vid = v.vid AND e.collection_seq = @collection' +
    ' WHERE v.id_hash = @hash AND v.id = @id LIMIT 1',
  hasVisibleObject:
    'SELECT 1 FROM object_versions AS v CROSS JOIN collection_entries AS e' +
    ' INDEXED BY entries_by_vid ON e.vid = v.vid AND e.collection_seq = @collection' +
    ` WHERE v.id_hash = @hash AND v.id = @id AND ${ACCESS_CONDITION} LIMIT 1`,
  // Whether one object is held: see heldCondition.
  heldRestricted:
    'SELECT 1 FROM object_versions AS v CROSS JOIN collection_entries AS e' +
    ` INDEXED BY entries_by_vid ON e.vid = v.vid ${heldCondition()}` +
    ' AND v.id_hash = @hash AND v.id = @id LIMIT 1',
  // The held ids of a batch. @objects is a JSON array of [id_hash, id] pairs, and CROSS JOIN
  // keeps it the outer loop, so each id costs one index seek.
  heldRestrictedBatch:
    'SELECT DISTINCT v.id FROM json_each(@objects) AS j' +
    ' CROSS JOIN object_versions AS v ON v.id_hash = j.value ->> 0 AND v.id = j.value ->> 1' +
    ` CROSS JOIN collection_entries AS e INDEXED BY entries_by_vid ON e.vid = v.vid ${heldCondition()}`,
  // Every object has exactly one last version, which is its single or its last-only entry.
  count:
    'SELECT (SELECT count(*) FROM collection_entries INDEXED BY entries_single' +
    '   WHERE collection_seq = @seq AND is_first = 1 AND is_last = 1)' +
    ' + (SELECT count(*) FROM collection_entries INDEXED BY entries_last_only' +
    '   WHERE collection_seq = @seq AND is_first = 0 AND is_last = 1) AS objects,' +
    ' (SELECT count(*) FROM collection_entries WHERE collection_seq = @seq) AS versions',
} as const;

/** Sharing of versions added without any: visible to members, as a GREEN default would be. */
const UNSPECIFIED_SHARING: EntrySharing = {
  tlp: [],
  audience: 'members',
  recipients: [],
  granularMarkings: false,
};

/** Returns the STIX media type of a spec version (TAXII 2.1 section 1.6.8). */
function stixMediaType(specVersion: string): string {
  return `application/stix+json;version=${specVersion}`;
}

/** Columns that object queries add for #markNamed, removed before rows are returned. */
interface QueryExtras {
  granular?: number;
  contributorId?: string | null;
}

interface CollectionRow {
  seq: number;
  id: string;
  community_id: string | null;
  last_date_added: number;
  spec_versions: string;
}

/** One row of `versionsOfObject`; the entry columns are null when the collection lacks it. */
type VersionRow = [
  vid: number,
  versionKey: string,
  dateAdded: number | null,
  specVersion: string | null,
  isFirst: number | null,
  isLast: number | null,
];

/** The state of one add transaction. */
interface AddRun {
  collection: CollectionRow;
  nextDateAdded: number;
  events: EventAppender;
  /** Spec versions of the collection, with those this add brings. */
  specVersions: string[];
  /** How many spec versions the collection had before this add. */
  specVersionCount: number;
}

/** A version of an object that is in the collection. */
interface Entry {
  vid: number;
  versionKey: string;
  dateAdded: number;
  specVersion: string;
  isFirst: boolean;
  isLast: boolean;
}

/** The versions of one object in the collection, as seen by a version about to be added. */
interface ObjectState {
  /** Stored copies of this exact version that other collections hold, by vid. */
  candidates: readonly number[];
  /** The date_added of this exact version when the collection already has it. */
  duplicateOf?: number;
  first?: Entry;
  last?: Entry;
}

function toEntry(row: VersionRow): Entry | undefined {
  const [vid, versionKey, dateAdded, specVersion, isFirst, isLast] = row;
  if (dateAdded === null || specVersion === null) return undefined;
  return { vid, versionKey, dateAdded, specVersion, isFirst: isFirst === 1, isLast: isLast === 1 };
}

function objectState(rows: VersionRow[], versionKey: string): ObjectState {
  const candidates: number[] = [];
  const state: ObjectState = { candidates };
  for (const row of rows) {
    const entry = toEntry(row);
    if (row[1] === versionKey) {
      if (entry) state.duplicateOf = entry.dateAdded;
      else candidates.push(row[0]);
    }
    if (entry?.isFirst) state.first = entry;
    if (entry?.isLast) state.last = entry;
  }
  return state;
}

/** Returns whether the selector picks the entry (TAXII 2.1 section 3.4.2, match[version]). */
function selects(selector: VersionSelector, entry: Entry, exact: Set<string>): boolean {
  if (selector.all === true) return true;
  if (selector.first && entry.isFirst) return true;
  if (selector.last && entry.isLast) return true;
  return exact.has(entry.versionKey);
}

/**
 * Object-version operations on one connection. Each call reads its collection's row, so it
 * uses the high-water mark and spec versions that other connections wrote last.
 */
export class ObjectVersions {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;

  constructor(db: Database.Database, statements: StatementCache) {
    this.#db = db;
    this.#statements = statements;
  }

  #collection(collectionId: string): CollectionRow | undefined {
    return this.#statements.get(SQL.collection).get(collectionId) as CollectionRow | undefined;
  }

  /** Adds versions in one write transaction, or returns undefined when there is no such collection. */
  add(collectionId: string, objects: PreparedObject[]): AddResult[] | undefined {
    const versionsOfObject = this.#statements.get(SQL.versionsOfObject).raw();
    return this.#inAddTransaction(collectionId, (run) =>
      objects.map((object) => {
        const hash = idHash(object.id);
        const rows = versionsOfObject.all(run.collection.seq, hash, object.id) as VersionRow[];
        return this.#addVersion(run, object, hash, objectState(rows, object.versionKey));
      }),
    );
  }

  /**
   * Adds converted versions (Store.addConverted) in one write transaction, or returns
   * undefined when there is no such collection. It takes the path of add() for each
   * version, after the re-share check. That check costs a query only for objects that
   * have a stored version, because an object stored nowhere cannot be held anywhere.
   * NOTE: a batch query for the check (findHeldRestricted) and for the stored versions
   * measured no faster here, since most objects of an import are new.
   */
  addConverted(collectionId: string, objects: PreparedObject[]): ConvertedAddResult | undefined {
    const versionsOfObject = this.#statements.get(SQL.versionsOfObject).raw();
    const heldRestricted = this.#statements.get(SQL.heldRestricted);
    return this.#inAddTransaction(collectionId, (run) => {
      const collection = run.collection;
      const results: AddResult[] = [];
      const rejected: ConvertedRejection[] = [];
      for (const [index, object] of objects.entries()) {
        const { id } = object;
        const hash = idHash(id);
        const rows = versionsOfObject.all(collection.seq, hash, id) as VersionRow[];
        const restricted =
          rows.length > 0 &&
          heldRestricted.get({
            hash,
            id,
            community: collection.community_id ?? '',
            organisation: object.sharing?.contributorOrganisationId ?? '',
          }) !== undefined;
        if (restricted) {
          rejected.push({ index, id, version: object.version, message: heldRestrictedMessage(id) });
          continue;
        }
        results.push(this.#addVersion(run, object, hash, objectState(rows, object.versionKey)));
      }
      return { results, rejected };
    });
  }

  /**
   * Runs `work` in one write transaction on the collection, then stores the collection's
   * new high-water mark and spec versions. Returns undefined when there is no such
   * collection. BEGIN IMMEDIATE takes the write lock before the high-water mark is read,
   * so two connections never compute the same date_added.
   */
  #inAddTransaction<T>(collectionId: string, work: (run: AddRun) => T): T | undefined {
    return this.#db
      .transaction(() => {
        const collection = this.#collection(collectionId);
        if (collection === undefined) return undefined;

        const run = this.#startRun(collection);
        const result = work(run);
        this.#finishRun(run);
        return result;
      })
      .immediate();
  }

  #startRun(collection: CollectionRow): AddRun {
    const specVersions = JSON.parse(collection.spec_versions) as string[];
    return {
      collection,
      // date_added is the later of the clock and the last value handed out plus one
      // microsecond, so it is unique and strictly increasing even if the clock steps back.
      nextDateAdded: Math.max(nowMicros(), collection.last_date_added + 1),
      events: this.#appender(collection),
      specVersions,
      specVersionCount: specVersions.length,
    };
  }

  /** Writes the collection's new high-water mark and spec versions at the end of an add. */
  #finishRun(run: AddRun): void {
    const s = this.#statements;
    const { seq, last_date_added: highWater } = run.collection;
    if (run.nextDateAdded - 1 > highWater) s.get(SQL.setHighWater).run(run.nextDateAdded - 1, seq);
    if (run.specVersions.length > run.specVersionCount) {
      s.get(SQL.setSpecVersions).run(JSON.stringify(run.specVersions.sort()), seq);
    }
  }

  /**
   * Adds one version with its entry, recipients and event, given the versions of its
   * object that `state` describes. A version the collection already has is a duplicate.
   */
  #addVersion(run: AddRun, object: PreparedObject, hash: number, state: ObjectState): AddResult {
    const s = this.#statements;
    const { id, versionKey } = object;
    const collection = run.collection.seq;
    if (state.duplicateOf !== undefined) {
      return { id, version: object.version, outcome: 'duplicate', dateAdded: state.duplicateOf };
    }

    // The JSON of a version is shared between collections only when it is byte-identical.
    // Another collection's copy with different content is never reused: a writer could
    // otherwise post a known id and version and be served the content of a collection it
    // cannot read. Within one collection the first stored content of a version wins.
    const vid =
      this.#identicalCopy(state.candidates, object.json) ??
      Number(s.get(SQL.insertJson).run(hash, id, versionKey, object.json).lastInsertRowid);

    const isFirst = state.first === undefined || versionKey < state.first.versionKey;
    const isLast = state.last === undefined || versionKey > state.last.versionKey;
    if (isFirst && state.first) s.get(SQL.setFirst).run(0, collection, state.first.dateAdded);
    if (isLast && state.last) s.get(SQL.setLast).run(0, collection, state.last.dateAdded);

    const dateAdded = run.nextDateAdded++;
    const sharing = object.sharing ?? UNSPECIFIED_SHARING;
    s.get(SQL.insertEntry).run(
      collection,
      dateAdded,
      id,
      object.version,
      versionKey,
      object.type,
      object.specVersion,
      stixMediaType(object.specVersion),
      +isFirst,
      +isLast,
      vid,
      AUDIENCES.indexOf(sharing.audience),
      sharing.contributorId ?? null,
      sharing.contributorOrganisationId ?? null,
      sharing.tlp.join(','),
      +sharing.granularMarkings,
      AUDIENCES.indexOf(sharing.recipientsWithin ?? 'everyone'),
    );
    for (const userId of new Set(sharing.recipients)) {
      s.get(SQL.insertRecipient).run(collection, dateAdded, userId);
    }
    const kind = isRevoked(object.json)
      ? 'revoked'
      : state.first === undefined
        ? 'created'
        : 'updated';
    run.events.append(kind, {
      objectId: id,
      objectType: object.type,
      specVersion: object.specVersion,
      version: object.version,
      versionKey,
      dateAdded,
      vid,
      json: object.json,
      sharing,
    });
    if (!run.specVersions.includes(object.specVersion)) run.specVersions.push(object.specVersion);
    return { id, version: object.version, outcome: 'added', dateAdded };
  }

  #appender(collection: CollectionRow): EventAppender {
    const target = { seq: collection.seq, id: collection.id, communityId: collection.community_id };
    return new EventAppender(this.#statements, target);
  }

  /** Returns the vid of a stored copy whose JSON equals `json`, if there is one. */
  #identicalCopy(candidates: readonly number[], json: string): number | undefined {
    const jsonOf = this.#statements.get(SQL.jsonOf).pluck();
    return candidates.find((vid) => jsonOf.get(vid) === json);
  }

  /**
   * Runs a version query; see version-query.ts for the plans. The plan depends on the spec
   * versions in the collection, so one read transaction covers both, and a spec version that
   * another connection adds in between cannot slip past a dropped spec filter.
   */
  query(query: VersionQuery, withJson: false): Page<StoredVersion>;
  query(query: VersionQuery, withJson: true): Page<StoredVersionWithJson>;
  query(query: VersionQuery, withJson: boolean): Page<StoredVersion> {
    return this.#db.transaction(() => this.#queryInTransaction(query, withJson)).deferred();
  }

  #queryInTransaction(query: VersionQuery, withJson: boolean): Page<StoredVersion> {
    const collection = this.#collection(query.collectionId);
    if (collection === undefined) return { items: [], more: false };

    const summary = {
      seq: collection.seq,
      specVersions: JSON.parse(collection.spec_versions) as string[],
    };
    const plan = planQuery(query, summary, withJson);
    if (plan === undefined) return { items: [], more: false };

    const statement = this.#statements.getByKey(`versions:${shapeKey(plan.shape)}`, () =>
      buildQuerySql(plan.shape),
    );
    const rows = statement.all(plan.parameters) as Array<StoredVersion & QueryExtras>;
    const more = rows.length > query.limit;
    if (more) rows.length = query.limit;
    if (withJson) this.#markNamed(collection.seq, rows, query.access);
    return { items: rows, more };
  }

  /**
   * Turns the extra columns of object rows into the granularMarkings, contributed and
   * recipient properties. Only versions with granular markings need the reader's relation,
   * so only they cost a look-up.
   */
  #markNamed(
    collection: number,
    rows: Array<StoredVersion & QueryExtras>,
    access: AccessFilter | undefined,
  ): void {
    const isRecipient = this.#statements.get(SQL.isRecipient);
    for (const row of rows) {
      const withJson = row as StoredVersion & QueryExtras & Partial<StoredVersionWithJson>;
      const granular = row.granular === 1;
      withJson.granularMarkings = granular;
      withJson.contributed =
        granular && (access === undefined || row.contributorId === access.userId);
      withJson.recipient =
        granular &&
        (access === undefined ||
          isRecipient.get(collection, row.dateAdded, access.userId) !== undefined);
      delete (row as Partial<QueryExtras>).granular;
      delete (row as Partial<QueryExtras>).contributorId;
    }
  }

  /**
   * Deletes the selected versions of one object, then moves the first and last flags to
   * the versions that remain and drops JSON that no collection refers to any more.
   */
  delete(
    collectionId: string,
    id: string,
    selector: VersionSelector,
    specVersions: string[] | undefined,
  ): number {
    const exact = new Set(selector.all === true ? [] : selector.exact);
    const specs = specVersions === undefined ? undefined : new Set(specVersions);
    const isDoomed = (entry: Entry): boolean =>
      selects(selector, entry, exact) && (specs === undefined || specs.has(entry.specVersion));

    return this.#db
      .transaction(() => {
        const collection = this.#collection(collectionId);
        return collection ? this.#deleteInTransaction(collection, id, isDoomed) : 0;
      })
      .immediate();
  }

  #deleteInTransaction(
    collectionRow: CollectionRow,
    id: string,
    isDoomed: (entry: Entry) => boolean,
  ): number {
    const s = this.#statements;
    const collection = collectionRow.seq;
    const rows = s.get(SQL.versionsOfObject).raw().all(collection, idHash(id), id) as VersionRow[];
    const entries = rows.map(toEntry).filter((entry) => entry !== undefined);
    const doomed = entries.filter(isDoomed);
    if (doomed.length === 0) return 0;

    // Events in date_added order, as the versions were added.
    const events = this.#appender(collectionRow);
    for (const entry of [...doomed].sort((a, b) => a.dateAdded - b.dateAdded)) {
      events.appendDeleted(id, entry.dateAdded, entry.versionKey);
    }
    for (const entry of doomed) {
      s.get(SQL.deleteEntry).run(collection, entry.dateAdded);
      s.get(SQL.deleteRecipients).run(collection, entry.dateAdded);
    }
    const remaining = entries
      .filter((entry) => !doomed.includes(entry))
      .sort((a, b) => (a.versionKey < b.versionKey ? -1 : 1));
    const first = remaining[0];
    const last = remaining.at(-1);
    if (first && !first.isFirst) s.get(SQL.setFirst).run(1, collection, first.dateAdded);
    if (last && !last.isLast) s.get(SQL.setLast).run(1, collection, last.dateAdded);

    for (const entry of doomed) {
      events.keepJson(entry.vid);
      s.get(SQL.deleteOrphanJson).run(entry.vid, entry.vid);
    }
    return doomed.length;
  }

  has(collectionId: string, id: string, access: AccessFilter | undefined): boolean {
    const collection = this.#collection(collectionId);
    if (collection === undefined) return false;

    const parameters = { collection: collection.seq, hash: idHash(id), id };
    if (access === undefined) {
      return this.#statements.get(SQL.hasObject).get(parameters) !== undefined;
    }
    const statement = this.#statements.get(SQL.hasVisibleObject);
    return statement.get({ ...parameters, ...accessParameters(access) }) !== undefined;
  }

  /** Returns the ids among `ids` for which Store.isHeldRestricted is true, with one query. */
  findHeldRestricted(
    ids: readonly string[],
    communityId: string,
    organisationId: string,
  ): Set<string> {
    if (ids.length === 0) return new Set();
    const parameters = {
      objects: JSON.stringify(ids.map((id) => [idHash(id), id])),
      community: communityId,
      organisation: organisationId,
    };
    const held = this.#statements.get(SQL.heldRestrictedBatch).pluck().all(parameters);
    return new Set(held as string[]);
  }

  count(collectionId: string): { objects: number; versions: number } {
    const collection = this.#collection(collectionId);
    if (collection === undefined) return { objects: 0, versions: 0 };

    const counts = this.#statements.get(SQL.count).get({ seq: collection.seq });
    return counts as { objects: number; versions: number };
  }
}
