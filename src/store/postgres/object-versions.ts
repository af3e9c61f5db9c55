/**
 * Object versions of collections on PostgreSQL: add, query, delete and count (TAXII 2.1
 * sections 5.3 to 5.8). The schema is described in schema.ts.
 *
 * Writers of one collection take its row lock (FOR NO KEY UPDATE) first, so on every node
 * they run one after the other: each reads the high-water mark and the object's versions
 * that the previous writer committed, and date_added stays unique and increasing. In READ
 * COMMITTED each statement after the lock sees those commits. Two nodes that post the same
 * version at once thus store it once; the unique index on (collection, id, version_key)
 * would reject a second copy anyway.
 *
 * Row locks on shared JSON copies (object_versions) are always taken in (id, version_key)
 * order, by adds and deletes alike, so writers of different collections cannot deadlock.
 */
import { createHash } from 'node:crypto';

import { nowMicros } from '../../stix/timestamp.ts';
import { checkStorable, checkVersionQuery, heldRestrictedMessage, isRevoked } from '../checks.ts';
import {
  AUDIENCES,
  StoreConflictError,
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
import type { Connection, Queryable } from './connection.ts';
import {
  appendEvents,
  entrySharing,
  type EntrySharingRow,
  type EventVersion,
} from './event-log.ts';
import {
  accessCondition,
  buildVersionQuery,
  ORDERED_SCANS,
  toStoredVersion,
  toStoredVersionWithJson,
  widestIndex,
  type ObjectRow,
  type PageRow,
} from './version-query.ts';

/**
 * The widest audience (an index into AUDIENCES, -1 for none) that users of organisation $3
 * read in the collection `c`, by the rights table of docs/sharing.md: members read
 * `members`, clients of a member `members-and-clients`. Other readers see no AMBER,
 * AMBER+STRICT or RED version, so they get -1.
 */
const ORGANISATION_WIDEST =
  'CASE WHEN c.community_id IS NULL THEN -1' +
  ' WHEN EXISTS (SELECT 1 FROM community_members AS m' +
  '   WHERE m.community_id = c.community_id AND m.organisation_id = $3) THEN 2' +
  ' WHEN EXISTS (SELECT 1 FROM organisation_clients AS p JOIN community_members AS m' +
  '   ON m.organisation_id = p.provider_id AND m.community_id = c.community_id' +
  '   WHERE p.client_id = $3) THEN 1' +
  ' ELSE -1 END';

const SQL = {
  lockCollection:
    'SELECT seq, id, community_id, last_date_added, spec_versions FROM collections' +
    ' WHERE id = $1 FOR NO KEY UPDATE',
  entriesOfObjects:
    'SELECT id, version_key, date_added, is_first, is_last FROM collection_entries' +
    ' WHERE collection_seq = $1 AND id = ANY ($2::text[])',
  // A copy that another collection holds is locked (the no-op update) so that a delete in
  // that collection cannot remove it before this transaction's entry refers to it.
  upsertJson:
    'INSERT INTO object_versions (id, version_key, json_hash, json)' +
    ' SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[])' +
    ' ON CONFLICT (id, version_key, json_hash) DO UPDATE SET json = object_versions.json' +
    ' RETURNING vid, id, version_key',
  // One statement for the rest of an add: new entries, their recipients, the flags of
  // entries that stop being first or last, and the collection's high-water mark.
  writeEntries:
    'WITH added AS (INSERT INTO collection_entries (collection_seq, date_added, id, version,' +
    ' version_key, type, spec_version, is_first, is_last, vid, audience, contributor_id,' +
    ' contributor_organisation_id, tlp, granular, recipients_within)' +
    ' SELECT $1::integer, u.date_added, u.id, u.version, u.version_key, u.type, u.spec_version,' +
    ' u.is_first, u.is_last, u.vid, u.audience, u.contributor_id,' +
    " u.contributor_organisation_id, string_to_array(u.tlp, ','), u.granular, u.within" +
    ' FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],' +
    ' $8::boolean[], $9::boolean[], $10::bigint[], $11::smallint[], $12::text[], $13::text[],' +
    ' $14::text[], $15::boolean[], $16::smallint[]) AS u (date_added, id, version, version_key,' +
    ' type, spec_version, is_first, is_last, vid, audience, contributor_id,' +
    ' contributor_organisation_id, tlp, granular, within)),' +
    ' recipients AS (INSERT INTO entry_recipients (collection_seq, date_added, user_id)' +
    ' SELECT $1::integer, r.date_added, r.user_id FROM unnest($17::bigint[], $18::text[])' +
    ' AS r (date_added, user_id) ON CONFLICT DO NOTHING),' +
    ' flags AS (UPDATE collection_entries SET' +
    ' is_first = is_first AND NOT date_added = ANY ($19::bigint[]),' +
    ' is_last = is_last AND NOT date_added = ANY ($20::bigint[])' +
    ' WHERE collection_seq = $1::integer AND date_added = ANY ($19::bigint[] || $20::bigint[]))' +
    ' UPDATE collections SET last_date_added = $21::bigint, spec_versions = $22::text[]' +
    ' WHERE seq = $1::integer',
  entriesForDelete:
    'SELECT e.date_added, e.version, e.version_key, e.type, e.spec_version, e.is_first,' +
    ' e.is_last, e.vid, e.audience, e.contributor_id, e.contributor_organisation_id, e.tlp,' +
    ' e.granular, e.recipients_within, ARRAY (SELECT r.user_id FROM entry_recipients AS r' +
    ' WHERE r.collection_seq = e.collection_seq AND r.date_added = e.date_added' +
    ' ORDER BY r.user_id) AS recipients' +
    ' FROM collection_entries AS e WHERE e.collection_seq = $1 AND e.id = $2',
  deleteEntries:
    'WITH gone AS (DELETE FROM collection_entries WHERE collection_seq = $1::integer' +
    ' AND date_added = ANY ($2::bigint[])),' +
    ' recipients AS (DELETE FROM entry_recipients WHERE collection_seq = $1::integer' +
    ' AND date_added = ANY ($2::bigint[]))' +
    ' UPDATE collection_entries' +
    ' SET is_first = is_first OR date_added IS NOT DISTINCT FROM $3::bigint,' +
    ' is_last = is_last OR date_added IS NOT DISTINCT FROM $4::bigint' +
    ' WHERE collection_seq = $1::integer AND date_added IN ($3::bigint, $4::bigint)',
  lockJson:
    'SELECT vid FROM object_versions WHERE vid = ANY ($1::bigint[])' +
    ' ORDER BY id, version_key FOR UPDATE',
  // Events that refer to JSON no collection contains any more get a copy of it first.
  deleteOrphanJson:
    'WITH orphans AS (SELECT o.vid, o.json FROM object_versions AS o' +
    ' WHERE o.vid = ANY ($1::bigint[])' +
    ' AND NOT EXISTS (SELECT 1 FROM collection_entries AS e WHERE e.vid = o.vid)),' +
    ' kept AS (UPDATE events AS ev SET json = orphans.json, vid = NULL FROM orphans' +
    ' WHERE ev.vid = orphans.vid)' +
    ' DELETE FROM object_versions AS o USING orphans WHERE o.vid = orphans.vid',
  hasObject:
    'SELECT 1 FROM collection_entries AS e WHERE e.collection_seq =' +
    ' (SELECT seq FROM collections WHERE id = $1) AND e.id = $2 LIMIT 1',
  hasVisibleObject:
    'SELECT 1 FROM collection_entries AS e WHERE e.collection_seq =' +
    ' (SELECT seq FROM collections WHERE id = $1) AND e.id = $2' +
    ` AND ${accessCondition('e', '$3::integer', '$4::text')} LIMIT 1`,
  // Entries of another community and organisation with a TLP level that forbids
  // re-sharing, which users of organisation $3 may read through its memberships (a RED
  // entry when it names one of them). See ORGANISATION_WIDEST.
  heldRestricted:
    'SELECT DISTINCT v.id FROM object_versions AS v JOIN collection_entries AS e' +
    ' ON e.vid = v.vid JOIN collections AS c ON c.seq = e.collection_seq' +
    ` CROSS JOIN LATERAL (SELECT ${ORGANISATION_WIDEST} AS widest) AS o` +
    ' WHERE v.id = ANY ($1::text[]) AND c.community_id IS DISTINCT FROM $2' +
    ' AND e.contributor_organisation_id IS DISTINCT FROM $3' +
    " AND e.tlp && '{amber,amber+strict,red}'::text[]" +
    ' AND (e.audience <= o.widest OR (e.audience = 3 AND e.recipients_within <= o.widest' +
    '   AND EXISTS (SELECT 1 FROM entry_recipients AS r JOIN users AS u ON u.id = r.user_id' +
    '     WHERE r.collection_seq = e.collection_seq AND r.date_added = e.date_added' +
    '     AND u.organisation_id = $3)))',
  // Every object has exactly one last version, which is its single or its last-only entry.
  count:
    'SELECT (SELECT count(*) FROM collection_entries AS e WHERE e.collection_seq = c.seq' +
    '   AND e.is_first AND e.is_last)' +
    ' + (SELECT count(*) FROM collection_entries AS e WHERE e.collection_seq = c.seq' +
    '   AND e.is_last AND NOT e.is_first) AS objects,' +
    ' (SELECT count(*) FROM collection_entries AS e WHERE e.collection_seq = c.seq) AS versions' +
    ' FROM collections AS c WHERE c.id = $1',
} as const;

/** Sharing of versions added without any: visible to members, as a GREEN default would be. */
const UNSPECIFIED_SHARING: EntrySharing = {
  tlp: [],
  audience: 'members',
  recipients: [],
  granularMarkings: false,
};

interface LockedCollection {
  seq: number;
  id: string;
  community_id: string | null;
  last_date_added: number;
  spec_versions: string[];
}

/** Locks the collection's row for an add; throws StoreConflictError when there is none. */
async function lockCollection(client: Queryable, collectionId: string): Promise<LockedCollection> {
  const [collection] = await client.query<LockedCollection>({
    name: 'cairn_lock_collection',
    text: SQL.lockCollection,
    values: [collectionId],
  });
  if (collection === undefined) {
    throw new StoreConflictError(`collection "${collectionId}" not found`);
  }
  return collection;
}

/** A version of an object in the collection: stored already, or added by this batch. */
interface Entry {
  versionKey: string;
  dateAdded: number;
  isFirst: boolean;
  isLast: boolean;
  /** The version being added, for entries of this batch. */
  added?: PreparedObject;
}

interface DeleteRow extends EntrySharingRow {
  date_added: number;
  version: string;
  version_key: string;
  type: string;
  spec_version: string;
  is_first: boolean;
  is_last: boolean;
  vid: number;
}

/** Returns whether the selector picks the entry (TAXII 2.1 section 3.4.2, match[version]). */
function selects(selector: VersionSelector, row: DeleteRow, exact: Set<string>): boolean {
  if (selector.all === true) return true;
  if (selector.first && row.is_first) return true;
  if (selector.last && row.is_last) return true;
  return exact.has(row.version_key);
}

function byVersionKey(a: { version_key: string }, b: { version_key: string }): number {
  if (a.version_key === b.version_key) return 0;
  return a.version_key < b.version_key ? -1 : 1;
}

/** Returns the ids among `ids` that are held restricted (see Store.isHeldRestricted). */
async function heldIds(
  client: Queryable,
  ids: readonly string[],
  communityId: string,
  organisationId: string,
): Promise<Set<string>> {
  const rows = await client.query<{ id: string }>({
    name: 'cairn_held_restricted',
    text: SQL.heldRestricted,
    values: [ids, communityId, organisationId],
  });
  return new Set(rows.map((row) => row.id));
}

export class ObjectVersions {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Adds versions in one transaction; throws StoreConflictError for an unknown collection. */
  async add(collectionId: string, objects: PreparedObject[]): Promise<AddResult[]> {
    checkStorable(objects);
    return this.#connection.transaction(async (client) => {
      const collection = await lockCollection(client, collectionId);
      if (objects.length === 0) return [];
      return this.#addLocked(client, collection, objects);
    });
  }

  /**
   * Adds converted versions (Store.addConverted). PostgreSQL already adds a batch with a
   * fixed number of statements (see #addLocked), so the bulk path only adds the re-share
   * check before it, one query per contributor organisation.
   */
  async addConverted(collectionId: string, objects: PreparedObject[]): Promise<ConvertedAddResult> {
    checkStorable(objects, true);
    return this.#connection.transaction(async (client) => {
      const collection = await lockCollection(client, collectionId);
      const restricted = await this.#heldInBatch(client, collection, objects);
      const accepted: PreparedObject[] = [];
      const rejected: ConvertedRejection[] = [];
      for (const [index, object] of objects.entries()) {
        const organisation = object.sharing?.contributorOrganisationId ?? '';
        if (restricted.get(organisation)?.has(object.id)) {
          rejected.push({
            index,
            id: object.id,
            version: object.version,
            message: heldRestrictedMessage(object.id),
          });
        } else {
          accepted.push(object);
        }
      }
      const results =
        accepted.length > 0 ? await this.#addLocked(client, collection, accepted) : [];
      return { results, rejected };
    });
  }

  /** Returns the ids of the batch that isHeldRestricted, by contributor organisation. */
  async #heldInBatch(
    client: Queryable,
    collection: LockedCollection,
    objects: PreparedObject[],
  ): Promise<Map<string, Set<string>>> {
    const idsByOrganisation = new Map<string, Set<string>>();
    for (const object of objects) {
      const organisation = object.sharing?.contributorOrganisationId ?? '';
      let ids = idsByOrganisation.get(organisation);
      if (ids === undefined) idsByOrganisation.set(organisation, (ids = new Set()));
      ids.add(object.id);
    }
    const held = new Map<string, Set<string>>();
    const community = collection.community_id ?? '';
    for (const [organisation, ids] of idsByOrganisation) {
      held.set(organisation, await heldIds(client, [...ids], community, organisation));
    }
    return held;
  }

  async #addLocked(
    client: Queryable,
    collection: LockedCollection,
    objects: PreparedObject[],
  ): Promise<AddResult[]> {
    const versions = await this.#versionsOf(client, collection.seq, objects);
    const specVersions = new Set(collection.spec_versions);
    const specVersionCount = specVersions.size;
    const clearFirst: number[] = [];
    const clearLast: number[] = [];
    const added: Entry[] = [];
    const events: EventVersion[] = [];
    const results: AddResult[] = [];

    // date_added is the later of the clock and the last value handed out plus one
    // microsecond, so it is unique and strictly increasing even if the clock steps back.
    let nextDateAdded = Math.max(nowMicros(), collection.last_date_added + 1);
    for (const object of objects) {
      const { id, versionKey } = object;
      let entries = versions.get(id);
      if (entries === undefined) versions.set(id, (entries = []));
      const duplicate = entries.find((entry) => entry.versionKey === versionKey);
      if (duplicate) {
        const dateAdded = duplicate.dateAdded;
        results.push({ id, version: object.version, outcome: 'duplicate', dateAdded });
        continue;
      }

      const first = entries.find((entry) => entry.isFirst);
      const last = entries.find((entry) => entry.isLast);
      const entry: Entry = {
        versionKey,
        dateAdded: nextDateAdded++,
        isFirst: first === undefined || versionKey < first.versionKey,
        isLast: last === undefined || versionKey > last.versionKey,
        added: object,
      };
      if (entry.isFirst && first) {
        first.isFirst = false;
        if (!first.added) clearFirst.push(first.dateAdded);
      }
      if (entry.isLast && last) {
        last.isLast = false;
        if (!last.added) clearLast.push(last.dateAdded);
      }
      const kind = isRevoked(object.json)
        ? 'revoked'
        : entries.length === 0
          ? 'created'
          : 'updated';
      entries.push(entry);
      added.push(entry);
      specVersions.add(object.specVersion);
      events.push({
        kind,
        objectId: id,
        objectType: object.type,
        specVersion: object.specVersion,
        version: object.version,
        versionKey,
        dateAdded: entry.dateAdded,
        sharing: object.sharing ?? UNSPECIFIED_SHARING,
      });
      results.push({ id, version: object.version, outcome: 'added', dateAdded: entry.dateAdded });
    }
    if (added.length === 0) return results;

    const vids = await this.#storeJson(client, added);
    const spec = [...specVersions].sort();
    await client.run({
      name: 'cairn_write_entries',
      text: SQL.writeEntries,
      values: entryColumns(collection.seq, added, vids, clearFirst, clearLast).concat([
        nextDateAdded - 1,
        specVersions.size > specVersionCount ? spec : collection.spec_versions,
      ]),
    });
    for (const event of events) event.vid = vids.get(event.dateAdded);
    await appendEvents(client, { id: collection.id, communityId: collection.community_id }, events);
    return results;
  }

  /** Reads the versions of the batch's objects that the collection contains, by id. */
  async #versionsOf(
    client: Queryable,
    seq: number,
    objects: PreparedObject[],
  ): Promise<Map<string, Entry[]>> {
    const ids = [...new Set(objects.map((object) => object.id))];
    const rows = await client.query<{
      id: string;
      version_key: string;
      date_added: number;
      is_first: boolean;
      is_last: boolean;
    }>({ name: 'cairn_entries_of_objects', text: SQL.entriesOfObjects, values: [seq, ids] });
    const versions = new Map<string, Entry[]>();
    for (const row of rows) {
      let entries = versions.get(row.id);
      if (entries === undefined) versions.set(row.id, (entries = []));
      entries.push({
        versionKey: row.version_key,
        dateAdded: row.date_added,
        isFirst: row.is_first,
        isLast: row.is_last,
      });
    }
    return versions;
  }

  /**
   * Stores the JSON of the new entries and returns the vid of each, by date_added. The JSON of
   * a version is shared between collections only when it is byte-identical: another
   * collection's copy with different content is never reused, since a writer could otherwise
   * post a known id and version and be served the content of a collection it cannot read.
   */
  async #storeJson(client: Queryable, added: Entry[]): Promise<Map<number, number>> {
    const ordered = [...added].sort((a, b) => {
      const x = a.added!;
      const y = b.added!;
      if (x.id !== y.id) return x.id < y.id ? -1 : 1;
      return x.versionKey < y.versionKey ? -1 : 1;
    });
    const rows = await client.query<{ vid: number; id: string; version_key: string }>({
      name: 'cairn_upsert_json',
      text: SQL.upsertJson,
      values: [
        ordered.map((entry) => entry.added!.id),
        ordered.map((entry) => entry.versionKey),
        ordered.map((entry) => createHash('sha256').update(entry.added!.json).digest()),
        ordered.map((entry) => entry.added!.json),
      ],
    });
    // A batch adds at most one version per (id, version_key), so the pair names its entry.
    const vidOf = new Map(rows.map((row) => [`${row.id}\n${row.version_key}`, row.vid]));
    const vids = new Map<number, number>();
    for (const entry of added) {
      const vid = vidOf.get(`${entry.added!.id}\n${entry.versionKey}`);
      if (vid === undefined) throw new Error(`no stored JSON for ${entry.added!.id}`);
      vids.set(entry.dateAdded, vid);
    }
    return vids;
  }

  async query(query: VersionQuery, withJson: false): Promise<Page<StoredVersion>>;
  async query(query: VersionQuery, withJson: true): Promise<Page<StoredVersionWithJson>>;
  async query(query: VersionQuery, withJson: boolean): Promise<Page<StoredVersion>> {
    checkVersionQuery(query);
    const statement = buildVersionQuery(query, withJson);
    if (statement === undefined) return { items: [], more: false };

    const { ordered, ...sql } = statement;
    const rows = ordered
      ? await this.#connection.transaction((client) => client.query<ObjectRow>(sql), ORDERED_SCANS)
      : await this.#connection.query<ObjectRow>(sql);
    const more = rows.length > query.limit;
    if (more) rows.length = query.limit;
    const items = withJson
      ? rows.map(toStoredVersionWithJson)
      : rows.map((row: PageRow) => toStoredVersion(row));
    return { items, more };
  }

  /**
   * Deletes the selected versions of one object, then moves the first and last flags to
   * the versions that remain and drops JSON that no collection refers to any more.
   */
  async delete(
    collectionId: string,
    id: string,
    selector: VersionSelector,
    specVersions: string[] | undefined,
  ): Promise<number> {
    const exact = new Set(selector.all === true ? [] : selector.exact);
    const specs = specVersions === undefined ? undefined : new Set(specVersions);
    const isDoomed = (row: DeleteRow): boolean =>
      selects(selector, row, exact) && (specs === undefined || specs.has(row.spec_version));

    return this.#connection.transaction(async (client) => {
      const [collection] = await client.query<LockedCollection>({
        name: 'cairn_lock_collection',
        text: SQL.lockCollection,
        values: [collectionId],
      });
      if (collection === undefined) return 0;

      const rows = await client.query<DeleteRow>({
        name: 'cairn_entries_for_delete',
        text: SQL.entriesForDelete,
        values: [collection.seq, id],
      });
      const doomed = rows.filter(isDoomed).sort((a, b) => a.date_added - b.date_added);
      if (doomed.length === 0) return 0;

      const remaining = rows.filter((row) => !doomed.includes(row)).sort(byVersionKey);
      const first = remaining[0];
      const last = remaining.at(-1);
      await client.run({
        name: 'cairn_delete_entries',
        text: SQL.deleteEntries,
        values: [
          collection.seq,
          doomed.map((row) => row.date_added),
          first && !first.is_first ? first.date_added : null,
          last && !last.is_last ? last.date_added : null,
        ],
      });

      const vids = [...new Set(doomed.map((row) => row.vid))];
      await client.query({ name: 'cairn_lock_json', text: SQL.lockJson, values: [vids] });
      await client.run({ name: 'cairn_delete_json', text: SQL.deleteOrphanJson, values: [vids] });

      // Events in date_added order, as the versions were added.
      const target = { id: collection.id, communityId: collection.community_id };
      await appendEvents(
        client,
        target,
        doomed.map((row) => ({
          kind: 'deleted' as const,
          objectId: id,
          objectType: row.type,
          specVersion: row.spec_version,
          version: row.version,
          versionKey: row.version_key,
          dateAdded: row.date_added,
          sharing: entrySharing(row),
        })),
      );
      return doomed.length;
    });
  }

  async has(collectionId: string, id: string, access: AccessFilter | undefined): Promise<boolean> {
    const rows =
      access === undefined
        ? await this.#connection.query({
            name: 'cairn_has_object',
            text: SQL.hasObject,
            values: [collectionId, id],
          })
        : await this.#connection.query({
            name: 'cairn_has_visible_object',
            text: SQL.hasVisibleObject,
            values: [collectionId, id, widestIndex(access), access.userId],
          });
    return rows.length > 0;
  }

  /** Returns the ids among `ids` for which Store.isHeldRestricted is true, with one query. */
  async findHeldRestricted(
    ids: readonly string[],
    communityId: string,
    organisationId: string,
  ): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return heldIds(this.#connection, ids, communityId, organisationId);
  }

  async count(collectionId: string): Promise<{ objects: number; versions: number }> {
    const [row] = await this.#connection.query<{ objects: number; versions: number }>({
      name: 'cairn_count_collection',
      text: SQL.count,
      values: [collectionId],
    });
    return row === undefined
      ? { objects: 0, versions: 0 }
      : { objects: row.objects, versions: row.versions };
  }
}

/** Returns parameters $1 to $20 of SQL.writeEntries: one array per column. */
function entryColumns(
  seq: number,
  added: Entry[],
  vids: Map<number, number>,
  clearFirst: number[],
  clearLast: number[],
): unknown[] {
  const recipientDates: number[] = [];
  const recipientUsers: string[] = [];
  const sharings = added.map((entry) => entry.added!.sharing ?? UNSPECIFIED_SHARING);
  added.forEach((entry, i) => {
    for (const userId of new Set(sharings[i]!.recipients)) {
      recipientDates.push(entry.dateAdded);
      recipientUsers.push(userId);
    }
  });
  return [
    seq,
    added.map((entry) => entry.dateAdded),
    added.map((entry) => entry.added!.id),
    added.map((entry) => entry.added!.version),
    added.map((entry) => entry.versionKey),
    added.map((entry) => entry.added!.type),
    added.map((entry) => entry.added!.specVersion),
    added.map((entry) => entry.isFirst),
    added.map((entry) => entry.isLast),
    added.map((entry) => vids.get(entry.dateAdded)),
    sharings.map((sharing) => AUDIENCES.indexOf(sharing.audience)),
    sharings.map((sharing) => sharing.contributorId ?? null),
    sharings.map((sharing) => sharing.contributorOrganisationId ?? null),
    sharings.map((sharing) => sharing.tlp.join(',')),
    sharings.map((sharing) => sharing.granularMarkings),
    sharings.map((sharing) => AUDIENCES.indexOf(sharing.recipientsWithin ?? 'everyone')),
    recipientDates,
    recipientUsers,
    clearFirst,
    clearLast,
  ];
}
